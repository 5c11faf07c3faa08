import type net from 'node:net';
import type { Logger } from '../../log.js';
import type { PickleLimits } from '../../protocol/pickle/index.js';
import { isLoopback } from '../../service/peer.js';
import type { FramedRequestHandler } from '../framed-session.js';
import { TcpListener } from '../tcp-listener.js';
import { MpSession } from './mp-session.js';

export interface MpServerOptions {
  host: string;
  port: number;
  /** The multiprocessing authkey; without one only loopback peers are accepted. */
  authkey: Buffer | undefined;
  maxConnections: number;
  /** Same rule as the request port: no complete message or reply for this long, and nothing owed: closed (0 = never). */
  idleTimeoutMs: number;
  maxMessageBytes: number;
  pickleLimits: PickleLimits;
  maxInputPixels: number;
  handle: FramedRequestHandler;
  log: Logger;
}

/**
 * Pickles cross this port, so a peer that may connect can make us parse
 * them: without an authkey that is only this machine.
 */
export function mayConnect(peer: string | undefined, hasAuthkey: boolean): boolean {
  return hasAuthkey || isLoopback(peer);
}

/**
 * The `--mp-port` listener for Python `multiprocessing.connection.Client`s:
 * a TcpListener (connection limit, idle timeout, close) with the peer
 * check, one MpSession per connection.
 */
export class MpServer {
  readonly #listener: TcpListener;

  constructor(o: MpServerOptions) {
    this.#listener = new TcpListener({
      host: o.host,
      port: o.port,
      maxConnections: o.maxConnections,
      idleTimeoutMs: o.idleTimeoutMs,
      log: o.log,
      label: 'mp',
      inUseMessage: (host, port) => `--mp-port: ${host}:${port} is already in use`,
      refusePeer: (peer) => (mayConnect(peer, o.authkey !== undefined) ? undefined : 'without --mp-authkey only loopback peers may connect'),
      onConnection: ({ socket, peer, log }) => {
        const session = new MpSession({
          socket,
          peer,
          authkey: o.authkey,
          maxMessageBytes: o.maxMessageBytes,
          pickleLimits: o.pickleLimits,
          maxInputPixels: o.maxInputPixels,
          handle: o.handle,
          log,
          onClose: (reason) => {
            if (reason === 'error') socket.destroy();
            else if (reason === 'fatal') setTimeout(() => socket.destroy(), 5000).unref();
          },
        });
        session.start();
        return session;
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

  stopAccepting(): Promise<void> {
    return this.#listener.stopAccepting();
  }

  destroyConnections(): void {
    this.#listener.destroyConnections();
  }
}
