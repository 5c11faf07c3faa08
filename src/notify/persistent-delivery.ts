import net from 'node:net';
import { ShuttingDownError, TimeoutError } from '../errors.js';
import { Fifo } from './fifo.js';
import type { DeliveryOptions, DeliveryQueue, DeliveryStrategy, Notice } from './delivery.js';

/** Largest single write (lines are batched up to this). */
const PERSISTENT_BATCH_BYTES = 64 * 1024;

/** The connection and what is in flight on it. */
interface Conn {
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

/**
 * `persistent` mode (extension): one connection, one notice per line,
 * written in order. TCP gives no per-line acknowledgement, so a line counts
 * as *written* (and `flush()` counts it done) when the socket's write
 * callback fires, and the last `resendWindow` written lines are kept. If the
 * connection then fails (error or reset), those lines plus any unwritten ones
 * are sent again, in order, on the next connection after a backoff.
 * **Persistent mode can therefore deliver a line twice across a reconnect**;
 * short mode doesn't. If the listener closes the connection cleanly (FIN, no
 * reset), it had no unread data, so the written lines count as read and the
 * next line opens a new connection. Lines older than the window are assumed
 * read: a listener that leaves more than `resendWindow` lines unread and then
 * resets can lose the older ones; use short mode where that matters.
 *
 * A line is released (its journal record dropped) only when it is assumed
 * read: it left the window, or the connection closed cleanly. So a crash
 * re-sends the window's lines on the next start, like a reconnect does.
 */
export class PersistentDelivery implements DeliveryStrategy {
  readonly #o: DeliveryOptions;
  readonly #q: DeliveryQueue;
  #conn: Conn | undefined;
  #connClosed: Promise<void> | undefined;
  /** Lines written on the current connection, oldest first, at most resendWindow. */
  #window = new Fifo<Notice>();

  constructor(options: DeliveryOptions, queue: DeliveryQueue) {
    this.#o = options;
    this.#q = queue;
  }

  pump(): void {
    if (this.#q.notices.length === 0) return;
    const conn = this.#conn;
    if (conn === undefined) {
      this.#connect();
      return;
    }
    if (!conn.writable || conn.batch.length > 0) return;

    const batch: Notice[] = [];
    let bytes = 0;
    for (const n of this.#q.notices) {
      // Not yet in the journal: it and what follows wait.
      if (n.state === 'journalling') break;
      if (batch.length > 0 && bytes + n.data.length > PERSISTENT_BATCH_BYTES) break;
      n.state = 'sending';
      batch.push(n);
      bytes += n.data.length;
    }
    if (batch.length === 0) return;
    conn.batch = batch;
    const data = batch.length === 1 ? batch[0]!.data : Buffer.concat(batch.map((n) => n.data), bytes);
    conn.socket.write(data, (err?: Error | null) => {
      if (err != null || this.#conn !== conn) return; // the 'close' handler puts the batch back
      conn.batch = [];
      conn.wroteAny = true;
      for (const n of batch) this.#window.push(n);
      const old: Notice[] = [];
      while (this.#window.length > this.#o.resendWindow) old.push(this.#window.shift()!);
      this.#q.released(old);
      this.#q.delivered(batch);
      this.#q.pump();
    });
  }

  async close(): Promise<void> {
    if (this.#conn === undefined) return;
    const { socket } = this.#conn;
    if (this.#conn.established) {
      // end() goes after any write in progress; the listener's close confirms everything written.
      socket.end();
      const timer = setTimeout(() => socket.destroy(), this.#o.ackTimeoutMs);
      await this.#connClosed;
      clearTimeout(timer);
    } else {
      socket.destroy(new ShuttingDownError('the completion notifier is closing'));
      await this.#connClosed;
    }
  }

  #connect(): void {
    const { host, port } = this.#o;
    const socket = net.connect({ host, port });
    const conn: Conn = { socket, established: false, writable: false, error: undefined, batch: [], wroteAny: false };
    this.#conn = conn;
    const connectTimer = setTimeout(() => {
      socket.destroy(new TimeoutError(`no connection to ${host}:${port} after ${this.#o.connectTimeoutMs} ms`));
    }, this.#o.connectTimeoutMs);
    socket.setNoDelay(true);
    socket.resume();
    socket.once('connect', () => {
      clearTimeout(connectTimer);
      conn.established = true;
      conn.writable = true;
      this.#q.connected();
      this.#q.pump();
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
        this.#onClose(conn);
        resolve();
      });
    });
  }

  #onClose(conn: Conn): void {
    const lost = conn.error !== undefined || !conn.established || conn.batch.length > 0;
    for (const n of conn.batch) n.state = 'waiting';
    const written = [...this.#window];
    this.#window = new Fifo<Notice>();
    if (!lost) {
      // Clean close by the listener (or by close()): it had nothing unread, so every written line was read.
      this.#q.released(written);
      if (this.#q.closing() || this.#q.notices.length === 0) return;
      // More to send: reconnect now if this connection was useful, else back off (a listener that closes at once).
      if (conn.wroteAny) this.#q.pump();
      else this.#q.failed(new Error('the completion listener closed the connection before any line was written'), this.#q.notices.length);
      return;
    }
    // Lines written on this connection may not have been read: send them again, before anything else.
    // Lines of an unfinished write go out again too.
    this.#q.retried(written.length + conn.batch.length);
    this.#q.requeueFront(written);
    this.#q.failed(conn.error ?? new Error('the persistent connection to the completion listener was lost'), this.#q.notices.length);
  }
}
