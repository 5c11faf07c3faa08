import type net from 'node:net';
import type { Logger } from '../log.js';
import { ProtocolSniffer, type WireProtocol } from '../protocol/protocol-sniffer.js';
import { TcpListener, type SessionHandle } from './tcp-listener.js';

export type { SessionHandle } from './tcp-listener.js';

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
  /** A connection without progress for this long is closed (0 = never); see the idle rule in TcpListener. */
  idleTimeoutMs: number;
  log: Logger;
  openSession: SessionOpener;
}

/**
 * The request port: a TcpListener (connection limit, idle timeout, close)
 * that detects each connection's protocol (wire.md §2) and hands the socket
 * on.
 */
export class RequestServer {
  readonly #listener: TcpListener;

  constructor(options: RequestServerOptions) {
    this.#listener = new TcpListener({
      host: options.host,
      port: options.port,
      maxConnections: options.maxConnections,
      idleTimeoutMs: options.idleTimeoutMs,
      log: options.log,
      inUseMessage: (host, port) => `${host}:${port} is already in use (another mosaicd? 'mosaicd stop --port ${port}' stops it; or choose --port)`,
      onConnection: ({ socket, peer, log }) => {
        let session: SessionHandle | undefined;
        const sniffer = new ProtocolSniffer();
        const decide = (protocol: WireProtocol, ended: boolean) => {
          socket.off('data', onData);
          socket.off('end', onEnd);
          log.debug({ protocol }, 'connection');
          session = options.openSession(socket, protocol, sniffer.takeBuffered(), ended, log, peer);
        };
        const onData = (chunk: Buffer) => {
          const protocol = sniffer.push(chunk);
          if (protocol !== undefined) decide(protocol, false);
        };
        const onEnd = () => decide(sniffer.end(), true);
        socket.on('data', onData);
        socket.on('end', onEnd);
        // Until the protocol is known, only the time of accept counts.
        return { isBusy: () => session?.isBusy() ?? false, lastActivityAt: () => session?.lastActivityAt() ?? 0 };
      },
    });
  }

  listen(): Promise<net.AddressInfo> {
    return this.#listener.listen();
  }

  address(): net.AddressInfo {
    return this.#listener.address();
  }

  get connections(): number {
    return this.#listener.connections;
  }

  get refusedConnections(): number {
    return this.#listener.refusedConnections;
  }

  /** Stops accepting; live connections are left to finish (see destroyConnections). */
  stopAccepting(): Promise<void> {
    return this.#listener.stopAccepting();
  }

  destroyConnections(): void {
    this.#listener.destroyConnections();
  }
}
