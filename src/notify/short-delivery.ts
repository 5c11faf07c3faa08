import net from 'node:net';
import { ShuttingDownError, TimeoutError } from '../errors.js';
import type { DeliveryOptions, DeliveryQueue, DeliveryStrategy, Notice } from './delivery.js';

/**
 * `short` mode (default; what the C# listener expects): one connection per
 * notice: connect, write the line, end.
 *
 * A notice counts as **delivered** when its data and our FIN were flushed
 * (the `end()` callback) *and* the listener then closed its side cleanly,
 * i.e. it read to EOF and closed, as the C# listener does. A reset or any
 * error at any point means "not delivered" and the notice is retried, so a
 * listener that dies or is stopped with connections in its accept queue
 * (which the kernel resets) loses nothing. Waiting for the listener's close,
 * not just our own flush, is what makes that true: our flush alone only says
 * the bytes reached our kernel. What TCP can tell us is that the listener
 * closed with none of our bytes left unread in its socket; a listener that
 * read the line into its own memory and then died before printing it looks
 * the same as one that printed it. If the listener never closes, the notice
 * counts as delivered `ackTimeoutMs` after our flush (its bytes are then in
 * the listener's socket and the connection is left to close on its own).
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
 */
export class ShortDelivery implements DeliveryStrategy {
  readonly #o: DeliveryOptions;
  readonly #q: DeliveryQueue;
  /** Open connections and how to wait for their end. */
  readonly #sockets = new Map<net.Socket, { established: boolean; closed: Promise<void> }>();
  #connecting = false;

  constructor(options: DeliveryOptions, queue: DeliveryQueue) {
    this.#o = options;
    this.#q = queue;
  }

  pump(): void {
    while (!this.#connecting && this.#sockets.size < this.#o.maxInFlight) {
      const next = this.#firstWaiting();
      if (next === undefined) return;
      this.#send(next);
    }
  }

  async close(): Promise<void> {
    for (const [socket, s] of this.#sockets) {
      if (!s.established) socket.destroy(new ShuttingDownError('the completion notifier is closing'));
    }
    await Promise.all([...this.#sockets.values()].map((s) => s.closed));
  }

  #firstWaiting(): Notice | undefined {
    for (const n of this.#q.notices) {
      if (n.state === 'waiting') return n;
      // Not yet in the journal: nothing after it may overtake it.
      if (n.state === 'journalling') return undefined;
    }
    return undefined;
  }

  #send(n: Notice): void {
    n.state = 'sending';
    if (++n.attempts > 1) this.#q.retried(1);
    this.#connecting = true;

    const { host, port } = this.#o;
    const socket = net.connect({ host, port });
    const entry = { established: false, closed: Promise.resolve() };
    let error: Error | undefined;
    let flushed = false;
    let settled = false;
    let ackTimer: NodeJS.Timeout | undefined;
    const connectTimer = setTimeout(() => {
      socket.destroy(new TimeoutError(`no connection to ${host}:${port} after ${this.#o.connectTimeoutMs} ms`));
    }, this.#o.connectTimeoutMs);

    const settle = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      if (ok) {
        this.#q.delivered([n]);
        this.#q.released([n]);
      } else {
        n.state = 'waiting';
        this.#q.failed(error ?? new Error('the completion listener closed the connection before our data was flushed'), 1);
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
        }, this.#o.ackTimeoutMs);
      });
      this.#q.pump();
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
        this.#q.pump();
      });
    });
    this.#sockets.set(socket, entry);
  }
}
