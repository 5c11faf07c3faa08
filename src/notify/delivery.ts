import type { Fifo } from './fifo.js';

/**
 * The seam between the notice queue (src/notify/callback-notifier.ts: order,
 * retries, backoff, waiters, the journal) and a delivery strategy (short or
 * persistent connections). A strategy only moves bytes: it takes notices the
 * queue marks `waiting`, and reports back what was delivered, what failed
 * and what may be forgotten.
 */

export interface Notice {
  readonly seq: number;
  readonly data: Buffer;
  /** `journalling`: not committed to the journal yet, so not sendable. */
  state: 'journalling' | 'waiting' | 'sending' | 'delivered';
  attempts: number;
  /** Counted in `sent` already (persistent lines can be written again). */
  counted: boolean;
  /** Its journal record, once committed. */
  journalId: number | undefined;
  /** The tile record this notice answers, while the journal still holds it (the notice's own record failed). */
  tileId: number | undefined;
}

export interface DeliveryOptions {
  readonly host: string;
  readonly port: number;
  readonly connectTimeoutMs: number;
  readonly ackTimeoutMs: number;
  readonly maxInFlight: number;
  readonly resendWindow: number;
}

/** What the queue offers a strategy. */
export interface DeliveryQueue {
  /** Undelivered notices in enqueue order (a delivered one stays until everything before it is delivered too). */
  readonly notices: Fifo<Notice>;
  /** close() was called: start nothing new. */
  closing(): boolean;
  /** Counts a notice delivered (once), emits `delivered`, settles flushes. */
  delivered(batch: readonly Notice[]): void;
  /** The listener has these notices for good: their journal records go. */
  released(batch: Iterable<Notice>): void;
  /** A connection failed; `lines` notices go back to waiting. Starts the backoff. */
  failed(error: Error, lines: number): void;
  /** Notices sent again after a failure. */
  retried(count: number): void;
  /** Puts notices that were counted delivered back at the front (persistent resend). */
  requeueFront(batch: readonly Notice[]): void;
  /** Asks for the next pump (after a connection ended). */
  pump(): void;
  /** Persistent mode: the connection is up. */
  connected(): void;
}

export interface DeliveryStrategy {
  /** Starts what can be started now (called when not closing and not backing off). */
  pump(): void;
  /** Stops: connections still connecting are destroyed, established ones end normally; resolves when all are closed. */
  close(): Promise<void>;
}
