import { Redis, type RedisOptions } from 'ioredis';
import { RedisConnection, createIORedisClient } from 'bullmq';
import { QUEUE_CONNECT_TIMEOUT_MS } from '../limits.js';
import { QueueUnavailableError, messageOf } from '../errors.js';
import type { QueueUrl } from './queue-url.js';

/** Reconnect delays: quick, since a restarted Redis is usually back within a second or two. */
function retry(times: number): number {
  return Math.min(50 * 2 ** Math.min(times, 5), 1000);
}

function optionsOf(url: QueueUrl): RedisOptions {
  return {
    host: url.host,
    port: url.port,
    db: url.db,
    // BullMQ's blocking commands need this; commands issued while Redis is away wait in
    // ioredis's offline queue (the scheduler bounds how many requests it lets wait).
    maxRetriesPerRequest: null,
    retryStrategy: retry,
  };
}

let installed = false;

/**
 * Every BullMQ connection of this process is an ioredis client built here
 * (BullMQ 6 loads ioredis with require(), which an ES module cannot count
 * on), with our reconnect delays.
 */
export function installClientFactory(): void {
  if (installed) return;
  installed = true;
  RedisConnection.clientFactory = (opts) =>
    createIORedisClient(
      new Redis({
        ...(opts as RedisOptions),
        maxRetriesPerRequest: null,
        retryStrategy: retry,
      }),
    );
}

/** BullMQ's `connection` option for a queue URL. */
export function connectionOf(url: QueueUrl): { host: string; port: number; db: number } {
  return { host: url.host, port: url.port, db: url.db };
}

/** A plain client (the sets of wanting nodes, reconnect signal), reconnecting like BullMQ's. */
export function commandClient(url: QueueUrl): Redis {
  return new Redis(optionsOf(url));
}

/**
 * Start-up check: one connection, one PING, within `timeoutMs`; otherwise a
 * QueueUnavailableError naming the URL (BullMQ itself would retry for ever).
 */
export async function probe(url: QueueUrl, timeoutMs = QUEUE_CONNECT_TIMEOUT_MS): Promise<void> {
  const client = new Redis({
    host: url.host,
    port: url.port,
    db: url.db,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  let lastError: Error | undefined;
  client.on('error', (err: Error) => (lastError = err));
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      (async () => {
        await client.connect();
        await client.ping();
      })(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    const reason = lastError?.message ?? messageOf(err);
    throw new QueueUnavailableError(`cannot reach the queue at ${url.text}: ${reason}`, { cause: lastError ?? err });
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}
