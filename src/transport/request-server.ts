import net from 'node:net';
import { once } from 'node:events';
import type { Logger } from '../log.js';
import { ProtocolSniffer, type WireProtocol } from '../protocol/protocol-sniffer.js';

/** A connection's session, as far as the server needs to know it. */
export interface SessionHandle {
  /** True while the peer is owed an answer: silence is then not idleness. */
  isBusy(): boolean;
}

/** Hands a connection whose protocol is known to the code that speaks it. */
export type SessionOpener = (socket: net.Socket, protocol: WireProtocol, buffered: Buffer, ended: boolean, log: Logger) => SessionHandle;

export interface RequestServerOptions {
  host: string;
  port: number;
  maxConnections: number;
  /** A connection silent for this long is closed (0 = never). */
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
    this.#server.on('error', (err) => options.log.error({ err }, 'request server error'));
  }

  async listen(): Promise<net.AddressInfo> {
    this.#server.listen({ host: this.#options.host, port: this.#options.port, exclusive: true });
    await once(this.#server, 'listening');
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
    const connLog = log.child({ conn: id, peer: socket.remoteAddress });
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    socket.on('error', (err) => connLog.debug({ err: err.message }, 'socket error'));
    let session: SessionHandle | undefined;
    if (idleTimeoutMs > 0) {
      socket.setTimeout(idleTimeoutMs, () => {
        if (session?.isBusy()) {
          socket.setTimeout(idleTimeoutMs);
          return;
        }
        connLog.info({ idleTimeoutMs }, 'closing idle connection');
        socket.destroy();
      });
    }
    const sniffer = new ProtocolSniffer();
    const decide = (protocol: WireProtocol, ended: boolean) => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      connLog.debug({ protocol }, 'connection');
      session = this.#options.openSession(socket, protocol, sniffer.takeBuffered(), ended, connLog);
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
