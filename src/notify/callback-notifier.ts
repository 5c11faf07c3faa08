import { EventEmitter } from 'node:events';
import { BusyError, CancelledError, ConfigError, ShuttingDownError } from '../errors.js';
import { MAX_PENDING_NOTICES } from '../limits.js';
import type { PriorityClass } from '../scheduler/priority.js';
import type { DeliveryQueue, DeliveryStrategy, Notice } from './delivery.js';
import { Fifo } from './fifo.js';
import type { JournalledNotice, NoticeJournal } from './journal.js';
import { PersistentDelivery } from './persistent-delivery.js';
import { ShortDelivery } from './short-delivery.js';

/**
 * Completion notices to the client's listener port (wire.md §4): the notice
 * queue. It owns order, retries with backoff, flush waiters and durability
 * (the journal); a delivery strategy only moves bytes:
 * src/notify/short-delivery.ts (one connection per notice, the default) or
 * src/notify/persistent-delivery.ts (one connection kept open). Each
 * strategy's file says exactly when a notice counts as delivered.
 *
 * ## Delivery guarantee
 *
 * Every notice passed to `enqueue()` is delivered **at least once while the
 * daemon runs**: while the listener is absent or failing the queue is kept
 * (up to `maxPending`, past which `enqueue()` throws BusyError) and retried
 * with exponential backoff (`retryBaseMs`, doubling, capped at `retryMaxMs`).
 * Nothing is dropped until `close()`, which reports what was left.
 *
 * ## Durability (with a journal)
 *
 * A notice is written to the journal before anything can send it (it waits
 * in state `journalling` for the commit, at most one event-loop turn), and
 * its record is dropped once it is delivered (persistent mode: once it is
 * assumed read). What close() leaves undelivered stays in the journal and is
 * given back by `restore()` on the next start, as is everything a crash
 * left. Across a crash that is **at least once**: a notice delivered just
 * before the crash, whose record was not dropped yet, is sent again.
 * `accept()` journals a tile request before it is queued, so the tile's
 * notice is owed even if the process dies before rendering it. When the
 * journal cannot be written, accept() rejects with StorageError (the tile is
 * refused) while notices already owed go on in memory: nothing accepted is
 * dropped.
 *
 * ## Life cycle
 *
 * ```
 *   open ──enqueue/flush──▶ open
 *     │ close()
 *     ▼
 *   closing: no new connection, no retry; connections still connecting are
 *     │      destroyed (their notices stay undelivered); established ones end
 *     │      normally, bounded by ackTimeoutMs; waiting flush()es reject
 *     ▼
 *   closed: enqueue() throws ShuttingDownError; close() returns the same result
 * ```
 *
 * The daemon's `stop`: `await flush()`, `enqueue('done\n')`, `await flush()`,
 * `await close()`. Flushing before `done` is what makes `done` last.
 */

export type NotifierMode = 'short' | 'persistent';

export interface NotifierOptions {
  /** Host of the client's completion listener. */
  host: string;
  /** Port of the client's completion listener (wire.md §1: request port + 1). */
  port: number;
  /** @default 'short' */
  mode?: NotifierMode;
  /** Undelivered notices kept before `enqueue()` throws BusyError. @default MAX_PENDING_NOTICES */
  maxPending?: number;
  /** First backoff delay after a failure, ms; doubles per consecutive failure. @default 100 */
  retryBaseMs?: number;
  /** Backoff cap, ms. @default 5000 */
  retryMaxMs?: number;
  /** A connection not established after this long is abandoned and retried, ms. @default 5000 */
  connectTimeoutMs?: number;
  /** After our data and FIN are flushed, how long to wait for the listener to close before counting the notice delivered anyway, ms. @default 10000 */
  ackTimeoutMs?: number;
  /** Short mode: notices on the wire at once (1 = strictly one after another). @default 8 */
  maxInFlight?: number;
  /** Persistent mode: written lines re-sent after a failed connection. @default 4096 */
  resendWindow?: number;
  /** Where notices (and accepted tile requests) are kept across a crash; none = memory only. */
  journal?: NoticeJournal | undefined;
}

type FilledOptions = Readonly<Required<Omit<NotifierOptions, 'journal'>>>;

const DEFAULTS = {
  mode: 'short',
  maxPending: MAX_PENDING_NOTICES,
  retryBaseMs: 100,
  retryMaxMs: 5000,
  connectTimeoutMs: 5000,
  ackTimeoutMs: 10_000,
  maxInFlight: 8,
  resendWindow: 4096,
} as const satisfies Omit<FilledOptions, 'host' | 'port'>;

/**
 * Events, all informational (there is no 'error' event: failures are retried).
 *
 * | event            | payload                                         | when |
 * |------------------|-------------------------------------------------|------|
 * | `delivered`      | line                                            | a notice was delivered (short) or first written (persistent) |
 * | `attempt-failed` | `{ error, lines }`                              | a connection failed; `lines` notices go back to the queue |
 * | `retry`          | `{ delayMs, failures }`                         | a backoff was started; nothing is sent until it ends |
 * | `connected`      | —                                               | persistent mode: the connection is up |
 * | `idle`           | —                                               | no notice is pending any more |
 * | `drain`          | —                                               | pending fell below maxPending after an enqueue was refused |
 * | `journal-failed` | `{ error, line }`                               | a notice could not be journalled; it goes on in memory |
 */
export const NotifierEvent = {
  DELIVERED: 'delivered',
  ATTEMPT_FAILED: 'attempt-failed',
  RETRY: 'retry',
  CONNECTED: 'connected',
  IDLE: 'idle',
  DRAIN: 'drain',
  JOURNAL_FAILED: 'journal-failed',
} as const;

export interface NotifierStats {
  /** Notices enqueued and not yet delivered (persistent: not yet written). */
  pending: number;
  /** Notices delivered (persistent: written), each counted once. */
  sent: number;
  /** Notices sent again after a failure (short: attempts after the first; persistent: lines re-sent after a reconnect). */
  retried: number;
  /** Connections that failed (refused, timed out, reset, ...). */
  failedAttempts: number;
}

interface FlushWaiter {
  target: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** A tile request accepted for this listener (the line protocol's), as the journal keeps it. */
export interface AcceptedTile {
  /** Z_X_Y */
  readonly tile: string;
  readonly cls: PriorityClass;
  readonly force: boolean;
  readonly clientId: string;
}

export class CallbackNotifier extends EventEmitter {
  readonly #opts: FilledOptions;
  readonly #journal: NoticeJournal | undefined;
  /** Undelivered notices in enqueue order. Delivered ones are popped as soon as everything before them is delivered too. */
  readonly #queue = new Fifo<Notice>();
  readonly #delivery: DeliveryStrategy;
  #nextSeq = 1;
  #pending = 0;
  #sent = 0;
  #retried = 0;
  #failedAttempts = 0;
  /** Consecutive backoff rounds without progress; sets the next delay. */
  #failures = 0;
  #backoff: NodeJS.Timeout | undefined;
  #flushWaiters: FlushWaiter[] = [];
  #refused = false;
  #closing: Promise<{ undelivered: number }> | undefined;

  constructor(options: NotifierOptions) {
    super();
    this.#opts = validate(options);
    this.#journal = options.journal;
    const queue: DeliveryQueue = {
      notices: this.#queue,
      closing: () => this.#closing !== undefined,
      delivered: (batch) => {
        this.#failures = 0;
        for (const n of batch) this.#markDelivered(n);
        this.#advance();
      },
      released: (batch) => {
        if (this.#journal === undefined) return;
        for (const n of batch) {
          this.#journal.release(n.journalId, n.tileId);
          n.journalId = undefined;
          n.tileId = undefined;
        }
      },
      failed: (error, lines) => this.#failed(error, lines),
      retried: (count) => {
        this.#retried += count;
      },
      requeueFront: (batch) => {
        for (const n of batch) n.state = 'waiting';
        this.#pending += batch.length;
        this.#queue.unshiftAll(batch);
      },
      pump: () => this.#pump(),
      connected: () => this.emit(NotifierEvent.CONNECTED),
    };
    this.#delivery = this.#opts.mode === 'short' ? new ShortDelivery(this.#opts, queue) : new PersistentDelivery(this.#opts, queue);
  }

  get mode(): NotifierMode {
    return this.#opts.mode;
  }

  /** The listener these notices go to. */
  get address(): { host: string; port: number } {
    return { host: this.#opts.host, port: this.#opts.port };
  }

  /**
   * Queues one notice: a whole line including its `\n` (`16_58001_25480\n`,
   * `error 3_8_0 outside the grid\n`, `done\n`); the text is opaque here.
   * Throws BusyError when `maxPending` notices are already waiting (listen
   * for `drain`) unless `overLimit` (the daemon's `done`, which is owed
   * whatever the backlog), ShuttingDownError after close(). `answers` is the
   * accept() id of the tile this notice answers: the journal swaps the
   * tile's record for the notice's in one commit. `heldBy` is the accept()
   * id of a tile whose committed record stands for this notice (the tile's
   * own success notice: a restart re-queues the tile, finds it on disk and
   * announces it again): nothing is written, the notice is sendable at once
   * and its delivery drops the tile's record. Resolves once the notice is
   * in the journal (at once without one or with `heldBy`; also when the
   * journal failed, the notice then going on in memory); never rejects.
   */
  enqueue(line: string, options: { overLimit?: boolean; answers?: number | undefined; heldBy?: number | undefined } = {}): Promise<void> {
    if (this.#closing !== undefined) throw new ShuttingDownError('the completion notifier is closed');
    if (typeof line !== 'string' || !line.endsWith('\n') || line.indexOf('\n') !== line.length - 1) {
      throw new TypeError(`a notice must be one line ending in "\\n", received ${JSON.stringify(line)}`);
    }
    if (this.#pending >= this.#opts.maxPending && options.overLimit !== true) {
      this.#refused = true;
      throw new BusyError(
        `${this.#pending} completion notices are waiting for the listener at ${this.#opts.host}:${this.#opts.port} (maxPending ${this.#opts.maxPending})`,
      );
    }
    const journal = this.#journal;
    const heldBy = journal === undefined ? undefined : options.heldBy;
    const n: Notice = {
      seq: this.#nextSeq++,
      data: Buffer.from(line, 'utf8'),
      state: journal && heldBy === undefined ? 'journalling' : 'waiting',
      attempts: 0,
      counted: false,
      journalId: undefined,
      // Already committed (accept() resolved): the tile record is this notice's record.
      tileId: heldBy,
    };
    this.#queue.push(n);
    this.#pending++;
    if (journal === undefined || heldBy !== undefined) {
      this.#pump();
      return Promise.resolve();
    }
    const { host, port } = this.#opts;
    return journal.addNotice({ host, port, line }, options.answers).then(
      (id) => {
        n.journalId = id;
        this.#journalled(n);
      },
      (err: unknown) => {
        // Not durable, but owed: it goes on in memory; the tile's record stays until it is delivered.
        n.tileId = options.answers;
        this.emit(NotifierEvent.JOURNAL_FAILED, { error: err, line });
        this.#journalled(n);
      },
    );
  }

  #journalled(n: Notice): void {
    if (n.state !== 'journalling') return;
    n.state = 'waiting';
    this.#pump();
  }

  /**
   * Journals a tile request whose notice will go to this listener, before
   * it is queued. Resolves with the id to pass to enqueue() (or forget())
   * later, undefined without a journal; rejects with StorageError when the
   * journal cannot be written (the request must then be refused).
   */
  accept(tile: AcceptedTile): Promise<number | undefined> {
    if (this.#journal === undefined) return Promise.resolve(undefined);
    return this.#journal.acceptTile({ host: this.#opts.host, port: this.#opts.port, ...tile });
  }

  /** The tile of an accept() is owed no notice any more (its client cancelled it). */
  forget(tileId: number | undefined): void {
    if (tileId !== undefined) this.#journal?.release(undefined, tileId);
  }

  /**
   * Puts notices an earlier run left in the journal at the back of the
   * queue, in their order, already journalled (not counted against
   * maxPending: they were accepted once).
   */
  restore(records: readonly JournalledNotice[]): void {
    if (this.#closing !== undefined) throw new ShuttingDownError('the completion notifier is closed');
    for (const r of records) {
      this.#queue.push({ seq: this.#nextSeq++, data: Buffer.from(r.line, 'utf8'), state: 'waiting', attempts: 0, counted: false, journalId: r.id, tileId: undefined });
      this.#pending++;
    }
    this.#pump();
  }

  /**
   * Resolves when every notice enqueued before this call has been delivered
   * (persistent mode: written). Rejects with CancelledError when `signal`
   * aborts and with ShuttingDownError when close() leaves any of them
   * undelivered.
   */
  flush(signal?: AbortSignal): Promise<void> {
    const target = this.#nextSeq - 1;
    if (this.#deliveredThrough() >= target) return Promise.resolve();
    if (this.#closing !== undefined) {
      return Promise.reject(new ShuttingDownError('the completion notifier closed with notices undelivered'));
    }
    if (signal?.aborted === true) return Promise.reject(new CancelledError('flush of completion notices was aborted'));
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.#flushWaiters = this.#flushWaiters.filter((w) => w !== waiter);
        reject(new CancelledError('flush of completion notices was aborted'));
      };
      const waiter: FlushWaiter = {
        target,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (err) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#flushWaiters.push(waiter);
    });
  }

  stats(): NotifierStats {
    return { pending: this.#pending, sent: this.#sent, retried: this.#retried, failedAttempts: this.#failedAttempts };
  }

  /**
   * Stops: no new connection and no retry. Connections still connecting are
   * destroyed; established ones finish normally (bounded by ackTimeoutMs).
   * Resolves once every socket is closed, with the number of notices not
   * delivered (they stay in the journal, if there is one). Idempotent. Call
   * flush() first to deliver everything.
   */
  close(): Promise<{ undelivered: number }> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<{ undelivered: number }> {
    clearTimeout(this.#backoff);
    this.#backoff = undefined;
    await this.#delivery.close();
    const undelivered = this.#pending;
    for (const w of this.#flushWaiters.splice(0)) {
      w.reject(new ShuttingDownError(`the completion notifier closed with ${undelivered} notices undelivered`));
    }
    return { undelivered };
  }

  #pump(): void {
    if (this.#closing !== undefined || this.#backoff !== undefined) return;
    this.#delivery.pump();
  }

  /** The highest seq such that it and every earlier notice are delivered. */
  #deliveredThrough(): number {
    const head = this.#queue.at(0);
    return head === undefined ? this.#nextSeq - 1 : head.seq - 1;
  }

  #markDelivered(n: Notice): void {
    n.state = 'delivered';
    this.#pending--;
    if (!n.counted) {
      n.counted = true;
      this.#sent++;
      this.emit(NotifierEvent.DELIVERED, n.data.toString('utf8'));
    }
  }

  /** Pops delivered notices off the front, then settles flushes and emits idle/drain. */
  #advance(): void {
    while (this.#queue.at(0)?.state === 'delivered') this.#queue.shift();
    const through = this.#deliveredThrough();
    while (this.#flushWaiters.length > 0 && this.#flushWaiters[0]!.target <= through) {
      this.#flushWaiters.shift()!.resolve();
    }
    if (this.#refused && this.#pending < this.#opts.maxPending) {
      this.#refused = false;
      this.emit(NotifierEvent.DRAIN);
    }
    if (this.#pending === 0) this.emit(NotifierEvent.IDLE);
  }

  #failed(error: Error, lines: number): void {
    this.#failedAttempts++;
    this.emit(NotifierEvent.ATTEMPT_FAILED, { error, lines });
    if (this.#closing !== undefined || this.#backoff !== undefined) return;
    // Several in-flight connections failing together count as one round.
    this.#failures++;
    const delayMs = Math.min(this.#opts.retryMaxMs, this.#opts.retryBaseMs * 2 ** Math.min(this.#failures - 1, 30));
    this.#backoff = setTimeout(() => {
      this.#backoff = undefined;
      this.#pump();
    }, delayMs);
    this.emit(NotifierEvent.RETRY, { delayMs, failures: this.#failures });
  }
}

function validate(options: NotifierOptions): FilledOptions {
  if (options === null || typeof options !== 'object') {
    throw new ConfigError(`notifier options must be an object, received ${String(options)}`);
  }
  const { journal: _journal, ...rest } = options;
  const o = { ...DEFAULTS, ...stripUndefined(rest) } as FilledOptions;
  if (typeof o.host !== 'string' || o.host.length === 0) {
    throw new ConfigError(`notifier option "host" must be a non-empty host name or address, received ${JSON.stringify(o.host)}`);
  }
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535) {
    throw new ConfigError(`notifier option "port" must be an integer 1..65535, received ${JSON.stringify(o.port)}`);
  }
  if (o.mode !== 'short' && o.mode !== 'persistent') {
    throw new ConfigError(`notifier option "mode" must be 'short' or 'persistent', received ${JSON.stringify(o.mode)}`);
  }
  const positiveInt = (key: 'maxPending' | 'maxInFlight'): void => {
    if (!Number.isSafeInteger(o[key]) || o[key] < 1) {
      throw new ConfigError(`notifier option "${key}" must be a positive integer, received ${JSON.stringify(o[key])}`);
    }
  };
  positiveInt('maxPending');
  positiveInt('maxInFlight');
  if (!Number.isSafeInteger(o.resendWindow) || o.resendWindow < 0) {
    throw new ConfigError(`notifier option "resendWindow" must be a non-negative integer, received ${JSON.stringify(o.resendWindow)}`);
  }
  for (const key of ['retryBaseMs', 'retryMaxMs', 'connectTimeoutMs', 'ackTimeoutMs'] as const) {
    const v = o[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 2 ** 31 - 1) {
      throw new ConfigError(`notifier option "${key}" must be a number of milliseconds (0 .. 2^31-1), received ${JSON.stringify(v)}`);
    }
  }
  if (o.retryMaxMs < o.retryBaseMs) {
    throw new ConfigError(`notifier option "retryMaxMs" (${o.retryMaxMs}) must not be below "retryBaseMs" (${o.retryBaseMs})`);
  }
  return Object.freeze(o);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
