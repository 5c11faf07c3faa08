/**
 * The BullMQ engine behind `--queue redis://HOST:PORT[/DB]`. Loaded only
 * when that flag is set (daemon.ts imports it dynamically): without it,
 * neither BullMQ nor this folder is loaded.
 */
export { ClusterScheduler, type ClusterQueueStats, type ClusterSchedulerOptions } from './cluster-scheduler.js';
export { probe } from './connection.js';
export { parseQueueUrl, type QueueUrl } from './queue-url.js';
