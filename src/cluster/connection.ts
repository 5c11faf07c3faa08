import { Redis, type RedisOptions } from 'ioredis';
import { RedisConnection, createIORedisClient } from 'bullmq';
import { QUEUE_CONNECT_TIMEOUT_MS } from '../limits.js';
import { QueueUnavailableError, messageOf } from '../errors.js';
import type { QueueUrl } from './queue-url.js';

/** Reconnect delays: quick, since a restarted Redis is usually back within a second or two. */
function retry(times: number): number {
  return Math.min(50 * 2 ** Math.min(times, 5), 1000);
}

/** BullMQ's `connection` option for a queue URL: host, database and credentials, what every connection of the URL shares. */
export function connectionOf(url: QueueUrl): { host: string; port: number; db: number; username?: string; password?: string } {
  return {
    host: url.host,
    port: url.port,
    db: url.db,
    ...(url.username !== undefined ? { username: url.username } : {}),
    // An ACL user without a password here (a `nopass` user) still needs one for ioredis to send AUTH USER PASS.
    ...(url.password !== undefined ? { password: url.password } : url.username !== undefined ? { password: '' } : {}),
  };
}

/**
 * How every long-lived connection (BullMQ's and ours) behaves while Redis is
 * away: BullMQ's blocking commands need maxRetriesPerRequest null; commands
 * issued meanwhile wait in ioredis's offline queue (the scheduler bounds how
 * many requests it lets wait), and reconnects follow `retry`.
 */
const RECONNECTING = { maxRetriesPerRequest: null, retryStrategy: retry } satisfies RedisOptions;

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
    createIORedisClient(new Redis({ ...(opts as RedisOptions), ...RECONNECTING }));
}

/** Redis's answers to a missing or wrong password (requirepass) or ACL user. */
const AUTH_REFUSED = /\b(WRONGPASS|NOAUTH)\b|invalid password|invalid username/i;

/** A plain client (the sets of wanting nodes, reconnect signal), reconnecting like BullMQ's. */
export function commandClient(url: QueueUrl): Redis {
  return new Redis({ ...connectionOf(url), ...RECONNECTING });
}

/**
 * Start-up check: one connection, one PING, within `timeoutMs`; otherwise a
 * QueueUnavailableError naming the URL (BullMQ itself would retry for ever).
 */
export async function probe(url: QueueUrl, timeoutMs = QUEUE_CONNECT_TIMEOUT_MS): Promise<void> {
  const client = new Redis({
    ...connectionOf(url),
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
    const refused = AUTH_REFUSED.exec(reason) ?? AUTH_REFUSED.exec(messageOf(err));
    if (refused) {
      // Redis's answer names which; neither it nor url.text holds the password.
      const which = refused[1]?.toUpperCase() === 'NOAUTH' ? 'no password was given and redis requires one (NOAUTH)' : `wrong user or password (${refused[1]?.toUpperCase() ?? refused[0]})`;
      throw new QueueUnavailableError(
        `redis at ${url.text} refused authentication: ${which}; set redis://[USER]:PASSWORD@HOST:PORT or MOSAICD_QUEUE_PASSWORD`,
        { cause: lastError ?? err },
      );
    }
    throw new QueueUnavailableError(`cannot reach the queue at ${url.text}: ${reason}`, { cause: lastError ?? err });
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}

/** How long closing a BullMQ queue, event reader or worker may wait for Redis's answer before its connections are dropped, ms. */
export const CLOSE_GRACE_MS = 1000;

/**
 * Closes a BullMQ object (queue, worker, event reader), which waits for
 * Redis to answer; with Redis away that would be for ever, so past
 * CLOSE_GRACE_MS the connections are dropped instead.
 */
export async function closeOrDrop(o: { close(): Promise<void>; disconnect(): Promise<void> }): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const closed = o.close().catch(() => undefined);
  const late = await Promise.race([closed.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), CLOSE_GRACE_MS)))]);
  clearTimeout(timer);
  if (late) await o.disconnect().catch(() => undefined);
}
