/**
 * Inference workers on the shared WorkerPool (src/pool): a fixed number of
 * worker threads, each holding up to `jobsPerWorker` requests (so a worker
 * overlaps one request's decode with another's model runs and batches their
 * recognition crops). A request past `timeoutMs` fails with TIMEOUT and its
 * worker is replaced (ORT cannot abort a run from Node); the worker's other
 * requests are queued again. A request whose worker crashes is retried once
 * on another worker, then fails with PROCESSING_ERROR.
 */
import { WorkerPool as Pool } from '../pool/worker-pool.js';
import type { SpawnWorker } from '../pool/worker-handle.js';
import type { FromWorker, InferenceAnswer, InferenceJob, WorkerEvent, WorkerInit } from './messages.js';
import type { InferenceResult } from './types.js';

export interface PoolOptions {
  size: number;
  /** Requests a worker holds at once. */
  jobsPerWorker: number;
  /** Per request, from the moment it reaches a worker. */
  timeoutMs: number;
  /** Starts one worker: threadWorker(…, 'inference-worker', init) in production, a fake in tests. */
  spawn: SpawnWorker<WorkerInit, InferenceJob, InferenceAnswer, WorkerEvent>;
  /** batch / ready / preload-failed, and worker restarts. */
  onEvent?: (event: FromWorker | { type: 'restart'; reason: string }) => void;
}

export class WorkerPool {
  private readonly pool: Pool<WorkerInit, InferenceJob, InferenceAnswer, WorkerEvent>;

  constructor(opts: PoolOptions) {
    const onEvent = opts.onEvent;
    this.pool = new Pool({
      name: 'inference',
      size: opts.size,
      jobsPerWorker: opts.jobsPerWorker,
      timeoutMs: opts.timeoutMs,
      spawn: opts.spawn,
      // A client that went away does not need its answer; the worker finishes the run regardless.
      abortRunning: true,
      // The worker's own errors (unknown model, bad image) reach the client as they are.
      failureMessage: (_label, message) => message,
      timeoutMessage: (label, ms) => `${label} ran longer than ${ms} ms; its worker was replaced`,
      ...(onEvent
        ? { onEvent: (e: WorkerEvent) => onEvent(e), onReady: () => onEvent({ type: 'ready' }), onRestart: (reason: string) => onEvent({ type: 'restart', reason }) }
        : {}),
    });
  }

  run(model: string, image: Uint8Array, signal?: AbortSignal): Promise<InferenceResult[]> {
    return this.pool.run({ model, image }, { signal, label: `inference on model "${model}"` });
  }

  ready(): boolean {
    return this.pool.ready();
  }

  /** Workers alive, queued and running requests, restarts, timeouts, crashes, retries, and the workers' process ids (if processes). */
  stats(): Record<string, number> {
    const s = this.pool.stats();
    return { workers: s.workers, queued: s.queued, running: s.running, restarts: s.replaced + s.recycled, timeouts: s.timeouts, crashes: s.crashes, retried: s.retried };
  }

  /** Refuses new work, fails queued requests with SHUTTING_DOWN, waits for running ones, stops the workers. */
  close(): Promise<void> {
    return this.pool.close();
  }
}
