import net from 'node:net';
import { once } from 'node:events';
import type { Logger } from '../log.js';
import { ConfigError } from '../errors.js';
import { ProtocolSniffer, type WireProtocol } from '../protocol/protocol-sniffer.js';

/** A connection's session, as far as the server needs to know it. */
export interface SessionHandle {
  /** True while the peer is owed an answer: silence is then not idleness. */
  isBusy(): boolean;
  /**
   * performance.now() of the session's last progress: a complete request
   * (line or frame) received, or a reply written. Bytes of a request not yet
   * complete are not progress (see the idle rule in RequestServer).
   */
  lastActivityAt(): number;
}

/** Hands a connection whose protocol is known to the code that speaks it. */
export type SessionOpener = (
  socket: net.Socket,
  protocol: WireProtocol,
  buffered: Buffer,
  ended: boolean,
  log: Logger,
  /** The peer's address, read at accept: once the peer has closed, the socket no longer knows it. */
  peer: string,
) => SessionHandle;

export interface RequestServerOptions {
  host: string;
  port: number;
  maxConnections: number;
  /** A connection without progress for this long is closed (0 = never); see the idle rule below. */
  idleTimeoutMs: number;
  log: Logger;
  openSession: SessionOpener;
}

/**
 * The request port: accepts connections, enforces the connection limit and
 * idle timeout, detects the protocol (wire.md §2) and hands the socket on.
 * Tracks live sockets so close() never hangs on an idle client.
 */
export class RequestServer {
  readonly #options: RequestServerOptions;
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  #nextId = 1;
  #refused = 0;

  constructor(options: RequestServerOptions) {
    this.#options = options;
    this.#server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.#accept(socket));
    this.#server.on('error', (err) => options.log.debug({ err: err.message }, 'request server error'));
  }

  async listen(): Promise<net.AddressInfo> {
    const { host, port } = this.#options;
    this.#server.listen({ host, port, exclusive: true });
    try {
      await once(this.#server, 'listening');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        throw new ConfigError(`${host}:${port} is already in use (another mosaicd? 'mosaicd stop --port ${port}' stops it; or choose --port)`);
      }
      throw err;
    }
    return this.#server.address() as net.AddressInfo;
  }

  address(): net.AddressInfo {
    return this.#server.address() as net.AddressInfo;
  }

  get connections(): number {
    return this.#sockets.size;
  }

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
    const { log, maxConnections, idleTimeoutMs } = this.#options;
    if (this.#sockets.size >= maxConnections) {
      this.#refused++;
      log.warn({ peer: socket.remoteAddress, maxConnections }, 'connection refused: too many connections');
      socket.destroy();
      return;
    }
    const id = this.#nextId++;
    const peer = socket.remoteAddress ?? 'unknown';
    const connLog = log.child({ conn: id, peer });
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    socket.on('error', (err) => connLog.debug({ err: err.message }, 'socket error'));
    let session: SessionHandle | undefined;
    if (idleTimeoutMs > 0) {
      // The idle rule (slow-loris guard): a connection must make progress, a
      // complete request received or a reply written, at least once every
      // idleTimeoutMs unless it is owed an answer. Bytes alone do not count,
      // so one byte a second never keeps a line or frame open for ever: a
      // request must be complete within idleTimeoutMs of the last progress.
      const acceptedAt = performance.now();
      let busySeenAt = acceptedAt;
      let timer: NodeJS.Timeout | undefined;
      const check = (): void => {
        const now = performance.now();
        if (session?.isBusy()) busySeenAt = now;
        const last = Math.max(acceptedAt, busySeenAt, session?.lastActivityAt() ?? acceptedAt);
        const left = last + idleTimeoutMs - now;
        if (left > 0) {
          timer = setTimeout(check, Math.max(1, left));
          return;
        }
        connLog.info({ idleTimeoutMs }, 'closing idle connection (no complete request or reply within the idle timeout)');
        socket.destroy();
      };
      timer = setTimeout(check, idleTimeoutMs);
      socket.once('close', () => clearTimeout(timer));
    }
    const sniffer = new ProtocolSniffer();
    const decide = (protocol: WireProtocol, ended: boolean) => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      connLog.debug({ protocol }, 'connection');
      session = this.#options.openSession(socket, protocol, sniffer.takeBuffered(), ended, connLog, peer);
    };
    const onData = (chunk: Buffer) => {
      const protocol = sniffer.push(chunk);
      if (protocol !== undefined) decide(protocol, false);
    };
    const onEnd = () => decide(sniffer.end(), true);
    socket.on('data', onData);
    socket.on('end', onEnd);
  }
}
