import { RedisConnection } from 'bullmq';
import { QUEUE_CONNECT_TIMEOUT_MS } from '../limits.js';
import { QueueUnavailableError } from '../errors.js';
import { RedisClient } from './redis/redis-client.js';
import type { QueueUrl } from './queue-url.js';

/** Reconnect delays: quick, since a restarted Redis is usually back within a second or two. */
function retry(times: number): number {
  return Math.min(50 * 2 ** Math.min(times, 5), 1000);
}

let installed = false;

/** Every BullMQ connection of this process goes through our RedisClient (see redis-client.ts). */
export function installClientFactory(): void {
  if (installed) return;
  installed = true;
  RedisConnection.clientFactory = (opts) =>
    new RedisClient({
      host: String(opts.host ?? '127.0.0.1'),
      port: Number(opts.port ?? 6379),
      db: Number(opts.db ?? 0),
      ...(typeof opts.connectionName === 'string' ? { connectionName: opts.connectionName } : {}),
      retryStrategy: retry,
    }) as unknown as ReturnType<NonNullable<typeof RedisConnection.clientFactory>>;
}

/** BullMQ's `connection` option for a queue URL. */
export function connectionOf(url: QueueUrl): { host: string; port: number; db: number } {
  return { host: url.host, port: url.port, db: url.db };
}

/** A plain client of ours (the wants sets, counts), reconnecting like BullMQ's. */
export function commandClient(url: QueueUrl): RedisClient {
  return new RedisClient({ host: url.host, port: url.port, db: url.db, retryStrategy: retry });
}

/**
 * Start-up check: one connection, one PING, within QUEUE_CONNECT_TIMEOUT_MS;
 * otherwise a QueueUnavailableError naming the URL (BullMQ itself would
 * retry for ever).
 */
export async function probe(url: QueueUrl, timeoutMs = QUEUE_CONNECT_TIMEOUT_MS): Promise<void> {
  const client = new RedisClient({ host: url.host, port: url.port, db: url.db, retryStrategy: () => null, connectTimeoutMs: timeoutMs });
  let lastError: Error | undefined;
  client.on('error', (err: Error) => (lastError = err));
  const timer = setTimeout(() => client.disconnect(), timeoutMs);
  try {
    await client.connect();
    await client.call('PING');
  } catch (err) {
    const reason = lastError?.message ?? (err as Error).message;
    throw new QueueUnavailableError(`cannot reach the queue at ${url.text}: ${reason}`, { cause: lastError ?? err });
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}
