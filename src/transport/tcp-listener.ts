import net from 'node:net';
import { once } from 'node:events';
import type { Logger } from '../log.js';
import { ConfigError } from '../errors.js';

/** A connection's session, as far as the listener needs to know it. */
export interface SessionHandle {
  /** True while the peer is owed an answer: silence is then not idleness. */
  isBusy(): boolean;
  /**
   * performance.now() of the session's last progress: a complete request
   * (line, frame or message) received, or a reply written. Bytes of a request
   * not yet complete are not progress (see the idle rule in TcpListener).
   */
  lastActivityAt(): number;
}

/** What the listener tells the code that takes an accepted connection. */
export interface AcceptedConnection {
  socket: net.Socket;
  /** The peer's address, read at accept: once the peer has closed, the socket no longer knows it. */
  peer: string;
  /** A child logger naming the connection and its peer. */
  log: Logger;
}

export interface TcpListenerOptions {
  host: string;
  port: number;
  maxConnections: number;
  /** A connection without progress for this long is closed (0 = never); see the idle rule below. */
  idleTimeoutMs: number;
  log: Logger;
  /** Names the connections in logs: "mp" gives conn "mp1", "mp2"...; none gives 1, 2... */
  label?: string;
  /** The ConfigError message when the port is taken. */
  inUseMessage: (host: string, port: number) => string;
  /** Refuses a peer before it counts against the limit: the reason to log, or undefined to accept. */
  refusePeer?: (peer: string) => string | undefined;
  /** Takes an accepted connection; the handle it returns feeds the idle rule. */
  onConnection: (conn: AcceptedConnection) => SessionHandle;
}

/**
 * The one TCP listener of the request port and the mp port: accepts
 * connections, enforces the connection limit and the idle timeout, and
 * tracks live sockets so stopping never hangs on an idle client. What is
 * spoken on a connection is the onConnection callback's business.
 */
export class TcpListener {
  readonly #o: TcpListenerOptions;
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  #nextId = 1;
  #refused = 0;

  constructor(options: TcpListenerOptions) {
    this.#o = options;
    this.#server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.#accept(socket));
    this.#server.on('error', (err) => options.log.debug({ err: err.message }, `${options.label ?? 'request'} server error`));
  }

  get #what(): string {
    return this.#o.label ? `${this.#o.label} connection` : 'connection';
  }

  async listen(): Promise<net.AddressInfo> {
    const { host, port } = this.#o;
    this.#server.listen({ host, port, exclusive: true });
    try {
      await once(this.#server, 'listening');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new ConfigError(this.#o.inUseMessage(host, port));
      throw err;
    }
    return this.address();
  }

  address(): net.AddressInfo {
    return this.#server.address() as net.AddressInfo;
  }

  get connections(): number {
    return this.#sockets.size;
  }

  /** Connections refused because the limit was reached. */
  get refusedConnections(): number {
    return this.#refused;
  }

  /** Stops accepting; live connections are left to finish (see destroyConnections). */
  async stopAccepting(): Promise<void> {
    if (!this.#server.listening) return;
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  destroyConnections(): void {
    for (const s of this.#sockets) s.destroy();
  }

  #accept(socket: net.Socket): void {
    const { log, maxConnections, idleTimeoutMs, label } = this.#o;
    const peer = socket.remoteAddress ?? 'unknown';
    const refusal = this.#o.refusePeer?.(peer);
    if (refusal !== undefined) {
      log.warn({ peer }, `${this.#what} refused: ${refusal}`);
      socket.destroy();
      return;
    }
    if (this.#sockets.size >= maxConnections) {
      this.#refused++;
      log.warn({ peer, maxConnections }, `${this.#what} refused: too many connections`);
      socket.destroy();
      return;
    }
    const id = this.#nextId++;
    const connLog = log.child({ conn: label ? `${label}${id}` : id, peer });
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    socket.on('error', (err) => connLog.debug({ err: err.message }, 'socket error'));
    const acceptedAt = performance.now();
    const session = this.#o.onConnection({ socket, peer, log: connLog });
    if (idleTimeoutMs > 0) {
      // The idle rule (slow-loris guard): a connection must make progress, a
      // complete request received or a reply written, at least once every
      // idleTimeoutMs unless it is owed an answer. Bytes alone do not count,
      // so one byte a second never keeps a line or frame open for ever: a
      // request must be complete within idleTimeoutMs of the last progress.
      let busySeenAt = acceptedAt;
      let timer: NodeJS.Timeout | undefined;
      const check = (): void => {
        const now = performance.now();
        if (session.isBusy()) busySeenAt = now;
        const last = Math.max(acceptedAt, busySeenAt, session.lastActivityAt());
        const left = last + idleTimeoutMs - now;
        if (left > 0) {
          timer = setTimeout(check, Math.max(1, left));
          return;
        }
        connLog.info({ idleTimeoutMs }, `closing idle ${this.#what} (no complete request or reply within the idle timeout)`);
        socket.destroy();
      };
      timer = setTimeout(check, idleTimeoutMs);
      socket.once('close', () => clearTimeout(timer));
    }
  }
}
