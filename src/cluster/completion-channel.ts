import { QueueEvents } from 'bullmq';
import type { Logger } from '../log.js';
import { messageOf } from '../errors.js';
import { connectionOf } from './connection.js';
import type { QueueUrl } from './queue-url.js';

export type JobEvent =
  | { kind: 'active'; queue: string; jobId: string }
  | { kind: 'completed'; queue: string; jobId: string }
  | { kind: 'failed'; queue: string; jobId: string; reason: string }
  | { kind: 'removed'; queue: string; jobId: string };

/**
 * Completions back to the node that accepted a request, wherever the job
 * ran: BullMQ's QueueEvents, one per map queue. QueueEvents reads the
 * queue's event stream (a Redis stream, XREAD from the last id seen), not
 * pub/sub: a node that lost its connection for a while reads the events it
 * missed when it is back, as long as the stream still holds them (BullMQ
 * trims it at about 10,000 events); past that, the scheduler re-checks its
 * waiting jobs' state after every reconnect. Pub/sub would be lighter but
 * drops whatever is published while a node is away.
 */
export class CompletionChannel {
  readonly #events: QueueEvents[] = [];

  constructor(o: { url: QueueUrl; prefix: string; queues: readonly string[]; log: Logger; onEvent: (e: JobEvent) => void }) {
    for (const queue of o.queues) {
      const ev = new QueueEvents(queue, { connection: connectionOf(o.url), prefix: o.prefix, autorun: true });
      ev.on('error', (err) => o.log.debug({ queue, err: messageOf(err) }, 'queue events: redis error (reconnecting)'));
      ev.on('active', ({ jobId }) => o.onEvent({ kind: 'active', queue, jobId }));
      ev.on('completed', ({ jobId }) => o.onEvent({ kind: 'completed', queue, jobId }));
      ev.on('failed', ({ jobId, failedReason }) => o.onEvent({ kind: 'failed', queue, jobId, reason: String(failedReason ?? '') }));
      ev.on('removed', ({ jobId }) => o.onEvent({ kind: 'removed', queue, jobId }));
      this.#events.push(ev);
    }
  }

  async waitUntilReady(): Promise<void> {
    await Promise.all(this.#events.map((e) => e.waitUntilReady()));
  }

  async close(): Promise<void> {
    await Promise.all(this.#events.map((e) => e.close().catch(() => undefined)));
  }

  /** Drops the connections at once (Redis away: close() would wait for it). */
  async disconnect(): Promise<void> {
    await Promise.all(this.#events.map((e) => e.disconnect().catch(() => undefined)));
  }
}
