import { EventEmitter } from 'node:events';
import net from 'node:net';
import { BusyError, CancelledError, ConfigError, ShuttingDownError, TimeoutError } from '../errors.js';
import { MAX_PENDING_NOTICES } from '../limits.js';
import { Fifo } from './fifo.js';

/**
 * Completion notices to the client's listener port (wire.md §4).
 *
 * ## Delivery guarantee
 *
 * Every notice passed to `enqueue()` is delivered **at least once while the
 * daemon runs**: while the listener is absent or failing the queue is kept
 * (up to `maxPending`, past which `enqueue()` throws BusyError) and retried
 * with exponential backoff (`retryBaseMs`, doubling, capped at `retryMaxMs`).
 * Nothing is dropped until `close()`, which reports what was left.
 *
 * ### `short` mode (default; what the C# listener expects)
 *
 * One connection per notice: connect, write the line, end. A notice counts as
 * **delivered** when its data and our FIN were flushed (the `end()` callback)
 * *and* the listener then closed its side cleanly, i.e. it read to EOF and
 * closed, as the C# listener does. A reset or any error at any point means
 * "not delivered" and the notice is retried, so a listener that dies or is
 * stopped with connections in its accept queue (which the kernel resets)
 * loses nothing. Waiting for the listener's close, not just our own flush, is
 * what makes that true: our flush alone only says the bytes reached our
 * kernel. What TCP can tell us is that the listener closed with none of our
 * bytes left unread in its socket; a listener that read the line into its
 * own memory and then died before printing it looks the same as one that
 * printed it. If the listener never closes, the notice counts as delivered
 * `ackTimeoutMs` after our flush (its bytes are then in the listener's socket
 * and the connection is left to close on its own).
 *
 * **No duplicates within one run**: a notice is only re-sent after its
 * connection failed (error, reset, timeout before our flush), and a
 * connection closed with our bytes unread ends in a reset, not a clean
 * close. (The exception would be a listener that reads the line and then
 * resets the connection instead of closing it; it gets the line again.)
 *
 * **Order**: up to `maxInFlight` connections (default 8) are open at once for
 * throughput, but connection k+1 is only started once connection k is
 * established, so the connections enter the listener's accept queue in
 * enqueue (completion) order. A listener that accepts and reads one
 * connection at a time, like the C# one, therefore sees notices in completion
 * order. After a failure no new connection is started until the backoff ends,
 * and then the oldest undelivered notice (the head) goes first. The one case
 * that can reorder: a connection that fails *after* it was established
 * (listener crashed mid-read) while later connections already got through;
 * the failed notice then arrives after them. With `maxInFlight: 1` order is
 * strict even then, at one round trip per notice.
 *
 * ### `persistent` mode (extension)
 *
 * One connection, one notice per line, written in order. TCP gives no
 * per-line acknowledgement, so a line counts as *written* (and `flush()`
 * counts it done) when the socket's write callback fires, and the last
 * `resendWindow` written lines are kept. If the connection then fails (error
 * or reset), those lines plus any unwritten ones are sent again, in order, on
 * the next connection after a backoff. **Persistent mode can therefore deliver
 * a line twice across a reconnect**; short mode doesn't. If the listener
 * closes the connection cleanly (FIN, no reset), it had no unread data, so the
 * written lines count as read and the next line opens a new connection. Lines
 * older than the window are assumed read: a listener that leaves more than
 * `resendWindow` lines unread and then resets can lose the older ones; use
 * short mode where that matters.
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
}

type FilledOptions = Readonly<Required<NotifierOptions>>;

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

/** Largest single write in persistent mode (lines are batched up to this). */
const PERSISTENT_BATCH_BYTES = 64 * 1024;

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
 */
export const NotifierEvent = {
  DELIVERED: 'delivered',
  ATTEMPT_FAILED: 'attempt-failed',
  RETRY: 'retry',
  CONNECTED: 'connected',
  IDLE: 'idle',
  DRAIN: 'drain',
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

interface Notice {
  readonly seq: number;
  readonly data: Buffer;
  state: 'waiting' | 'sending' | 'delivered';
  attempts: number;
  /** Counted in `sent` already (persistent lines can be written again). */
  counted: boolean;
}

interface FlushWaiter {
  target: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** The persistent connection and what is in flight on it. */
interface PersistentConn {
  readonly socket: net.Socket;
  /** The connection was established. */
  established: boolean;
  /** Established and the listener hasn't ended its side: lines may be written. */
  writable: boolean;
  error: Error | undefined;
  /** Notices of the write in progress (they are the front of the queue). */
  batch: Notice[];
  wroteAny: boolean;
}

export class CallbackNotifier extends EventEmitter {
  readonly #opts: FilledOptions;
  /** Undelivered notices in enqueue order. Short mode: delivered ones are popped as soon as everything before them is delivered too. */
  readonly #queue = new Fifo<Notice>();
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

  // short mode
  /** Open short connections and how to wait for their end. */
  readonly #sockets = new Map<net.Socket, { established: boolean; closed: Promise<void> }>();
  #connecting = false;

  // persistent mode
  #conn: PersistentConn | undefined;
  #connClosed: Promise<void> | undefined;
  /** Lines written on the current persistent connection, oldest first, at most resendWindow. */
  #window = new Fifo<Notice>();

  constructor(options: NotifierOptions) {
    super();
    this.#opts = validate(options);
  }

  get mode(): NotifierMode {
    return this.#opts.mode;
  }

  /**
   * Queues one notice: a whole line including its `\n` (`16_58001_25480\n`,
   * `error 3_8_0 outside the grid\n`, `done\n`); the text is opaque here.
   * Throws BusyError when `maxPending` notices are already waiting (listen
   * for `drain`) unless `overLimit` (the daemon's `done`, which is owed
   * whatever the backlog), ShuttingDownError after close().
   */
  enqueue(line: string, options: { overLimit?: boolean } = {}): void {
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
    this.#queue.push({ seq: this.#nextSeq++, data: Buffer.from(line, 'utf8'), state: 'waiting', attempts: 0, counted: false });
    this.#pending++;
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
   * delivered. Idempotent. Call flush() first to deliver everything.
   */
  close(): Promise<{ undelivered: number }> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<{ undelivered: number }> {
    clearTimeout(this.#backoff);
    this.#backoff = undefined;
    if (this.#opts.mode === 'short') {
      for (const [socket, s] of this.#sockets) {
        if (!s.established) socket.destroy(new ShuttingDownError('the completion notifier is closing'));
      }
      await Promise.all([...this.#sockets.values()].map((s) => s.closed));
    } else if (this.#conn !== undefined) {
      const { socket } = this.#conn;
      if (this.#conn.established) {
        // end() goes after any write in progress; the listener's close confirms everything written.
        socket.end();
        const timer = setTimeout(() => socket.destroy(), this.#opts.ackTimeoutMs);
        await this.#connClosed;
        clearTimeout(timer);
      } else {
        socket.destroy(new ShuttingDownError('the completion notifier is closing'));
        await this.#connClosed;
      }
    }
    const undelivered = this.#pending;
    for (const w of this.#flushWaiters.splice(0)) {
      w.reject(new ShuttingDownError(`the completion notifier closed with ${undelivered} notices undelivered`));
    }
    return { undelivered };
  }

  // ── shared ──────────────────────────────────────────────────────────────

  #pump(): void {
    if (this.#closing !== undefined || this.#backoff !== undefined) return;
    if (this.#opts.mode === 'short') this.#pumpShort();
    else this.#pumpPersistent();
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

  // ── short mode ─────────────────────────────────────────────────────────

  #pumpShort(): void {
    while (!this.#connecting && this.#sockets.size < this.#opts.maxInFlight) {
      const next = this.#firstWaiting();
      if (next === undefined) return;
      this.#sendShort(next);
    }
  }

  #firstWaiting(): Notice | undefined {
    for (const n of this.#queue) if (n.state === 'waiting') return n;
    return undefined;
  }

  #sendShort(n: Notice): void {
    n.state = 'sending';
    if (++n.attempts > 1) this.#retried++;
    this.#connecting = true;

    const socket = net.connect({ host: this.#opts.host, port: this.#opts.port });
    const entry = { established: false, closed: Promise.resolve() };
    let error: Error | undefined;
    let flushed = false;
    let settled = false;
    let ackTimer: NodeJS.Timeout | undefined;
    const connectTimer = setTimeout(() => {
      socket.destroy(new TimeoutError(`no connection to ${this.#opts.host}:${this.#opts.port} after ${this.#opts.connectTimeoutMs} ms`));
    }, this.#opts.connectTimeoutMs);

    const settle = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      if (ok) {
        this.#failures = 0;
        this.#markDelivered(n);
        this.#advance();
      } else {
        n.state = 'waiting';
        this.#failed(error ?? new Error('the completion listener closed the connection before our data was flushed'), 1);
      }
    };

    socket.setNoDelay(true);
    // Read (and discard) anything the listener sends, so its FIN is seen.
    socket.resume();
    socket.once('connect', () => {
      clearTimeout(connectTimer);
      entry.established = true;
      this.#connecting = false;
      socket.end(n.data, (err?: Error | null) => {
        if (err != null) return;
        flushed = true;
        // The listener should now read to EOF and close; if it never does, its bytes are in its socket anyway.
        ackTimer = setTimeout(() => {
          settle(true);
          socket.destroy();
        }, this.#opts.ackTimeoutMs);
      });
      this.#pump();
    });
    socket.on('error', (err) => {
      error ??= err;
    });
    entry.closed = new Promise<void>((resolve) => {
      socket.once('close', () => {
        clearTimeout(connectTimer);
        clearTimeout(ackTimer);
        this.#sockets.delete(socket);
        if (!entry.established) this.#connecting = false;
        settle(error === undefined && flushed);
        resolve();
        this.#pump();
      });
    });
    this.#sockets.set(socket, entry);
  }

  // ── persistent mode ─────────────────────────────────────────────────────

  #pumpPersistent(): void {
    if (this.#queue.length === 0) return;
    const conn = this.#conn;
    if (conn === undefined) {
      this.#connectPersistent();
      return;
    }
    if (!conn.writable || conn.batch.length > 0) return;

    const batch: Notice[] = [];
    let bytes = 0;
    for (const n of this.#queue) {
      if (batch.length > 0 && bytes + n.data.length > PERSISTENT_BATCH_BYTES) break;
      n.state = 'sending';
      batch.push(n);
      bytes += n.data.length;
    }
    conn.batch = batch;
    const data = batch.length === 1 ? batch[0]!.data : Buffer.concat(batch.map((n) => n.data), bytes);
    conn.socket.write(data, (err?: Error | null) => {
      if (err != null || this.#conn !== conn) return; // the 'close' handler puts the batch back
      conn.batch = [];
      conn.wroteAny = true;
      this.#failures = 0;
      for (const n of batch) {
        this.#markDelivered(n);
        this.#window.push(n);
      }
      while (this.#window.length > this.#opts.resendWindow) this.#window.shift();
      this.#advance();
      this.#pump();
    });
  }

  #connectPersistent(): void {
    const socket = net.connect({ host: this.#opts.host, port: this.#opts.port });
    const conn: PersistentConn = { socket, established: false, writable: false, error: undefined, batch: [], wroteAny: false };
    this.#conn = conn;
    const connectTimer = setTimeout(() => {
      socket.destroy(new TimeoutError(`no connection to ${this.#opts.host}:${this.#opts.port} after ${this.#opts.connectTimeoutMs} ms`));
    }, this.#opts.connectTimeoutMs);
    socket.setNoDelay(true);
    socket.resume();
    socket.once('connect', () => {
      clearTimeout(connectTimer);
      conn.established = true;
      conn.writable = true;
      this.emit(NotifierEvent.CONNECTED);
      this.#pump();
    });
    socket.on('error', (err) => {
      conn.error ??= err;
    });
    // The listener ended its side: write nothing more here; the next line waits for 'close' and a new connection.
    socket.on('end', () => {
      conn.writable = false;
    });
    this.#connClosed = new Promise<void>((resolve) => {
      socket.once('close', () => {
        clearTimeout(connectTimer);
        this.#conn = undefined;
        this.#onPersistentClose(conn);
        resolve();
      });
    });
  }

  #onPersistentClose(conn: PersistentConn): void {
    const lost = conn.error !== undefined || !conn.established || conn.batch.length > 0;
    for (const n of conn.batch) n.state = 'waiting';
    if (!lost) {
      // Clean close by the listener (or by close()): it had nothing unread, so every written line was read.
      this.#window = new Fifo<Notice>();
      if (this.#closing !== undefined || this.#queue.length === 0) return;
      // More to send: reconnect now if this connection was useful, else back off (a listener that closes at once).
      if (conn.wroteAny) this.#pump();
      else this.#failed(new Error('the completion listener closed the connection before any line was written'), this.#queue.length);
      return;
    }
    // Lines written on this connection may not have been read: send them again, before anything else.
    const resend = [...this.#window];
    this.#window = new Fifo<Notice>();
    for (const n of resend) {
      n.state = 'waiting';
      this.#pending++;
    }
    // Lines of an unfinished write go out again too.
    this.#retried += resend.length + conn.batch.length;
    this.#queue.unshiftAll(resend);
    this.#failed(
      conn.error ?? new Error('the persistent connection to the completion listener was lost'),
      this.#queue.length,
    );
  }
}

function validate(options: NotifierOptions): FilledOptions {
  if (options === null || typeof options !== 'object') {
    throw new ConfigError(`notifier options must be an object, received ${String(options)}`);
  }
  const o = { ...DEFAULTS, ...stripUndefined(options) } as FilledOptions;
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
