import { Redis, type RedisOptions } from 'ioredis';
import { RedisConnection, createIORedisClient } from 'bullmq';
import { QUEUE_CONNECT_TIMEOUT_MS } from '../limits.js';
import { QueueUnavailableError, messageOf } from '../errors.js';
import type { QueueUrl } from './queue-url.js';

/** Reconnect delays: quick, since a restarted Redis is usually back within a second or two. */
function retry(times: number): number {
  return Math.min(50 * 2 ** Math.min(times, 5), 1000);
}

/** Host, database and credentials: what every connection of a queue URL shares. */
function targetOf(url: QueueUrl): { host: string; port: number; db: number; username?: string; password?: string } {
  return {
    host: url.host,
    port: url.port,
    db: url.db,
    ...(url.username !== undefined ? { username: url.username } : {}),
    // An ACL user without a password here (a `nopass` user) still needs one for ioredis to send AUTH USER PASS.
    ...(url.password !== undefined ? { password: url.password } : url.username !== undefined ? { password: '' } : {}),
  };
}

function optionsOf(url: QueueUrl): RedisOptions {
  return {
    ...targetOf(url),
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
export function connectionOf(url: QueueUrl): ReturnType<typeof targetOf> {
  return targetOf(url);
}

/** Redis's answers to a missing or wrong password (requirepass) or ACL user. */
const AUTH_REFUSED = /\b(WRONGPASS|NOAUTH)\b|invalid password|invalid username/i;

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
    ...targetOf(url),
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
