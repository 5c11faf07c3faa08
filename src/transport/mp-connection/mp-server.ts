import net from 'node:net';
import { once } from 'node:events';
import type { Logger } from '../../log.js';
import { ConfigError } from '../../errors.js';
import type { PickleLimits } from '../../protocol/pickle/index.js';
import { isLoopback } from '../../service/peer.js';
import type { FramedRequestHandler } from '../framed-session.js';
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
 * the peer check, the connection limit and idle timeout, one MpSession per
 * connection. Tracks live sockets so stopping never hangs on an idle client.
 */
export class MpServer {
  readonly #o: MpServerOptions;
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  #nextId = 1;

  constructor(options: MpServerOptions) {
    this.#o = options;
    this.#server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.#accept(socket));
    this.#server.on('error', (err) => options.log.debug({ err: err.message }, 'mp server error'));
  }

  async listen(): Promise<net.AddressInfo> {
    const { host, port } = this.#o;
    this.#server.listen({ host, port, exclusive: true });
    try {
      await once(this.#server, 'listening');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new ConfigError(`--mp-port: ${host}:${port} is already in use`);
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

  async stopAccepting(): Promise<void> {
    if (!this.#server.listening) return;
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  destroyConnections(): void {
    for (const s of this.#sockets) s.destroy();
  }

  #accept(socket: net.Socket): void {
    const o = this.#o;
    const peer = socket.remoteAddress ?? 'unknown';
    if (!mayConnect(peer, o.authkey !== undefined)) {
      o.log.warn({ peer }, 'mp connection refused: without --mp-authkey only loopback peers may connect');
      socket.destroy();
      return;
    }
    if (this.#sockets.size >= o.maxConnections) {
      o.log.warn({ peer, maxConnections: o.maxConnections }, 'mp connection refused: too many connections');
      socket.destroy();
      return;
    }
    const log = o.log.child({ conn: `mp${this.#nextId++}`, peer });
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    socket.on('error', (err) => log.debug({ err: err.message }, 'socket error'));
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
    if (o.idleTimeoutMs > 0) {
      const check = (): void => {
        const left = session.lastActivityAt() + o.idleTimeoutMs - performance.now();
        if (session.isBusy() || left > 0) {
          timer = setTimeout(check, Math.max(1, session.isBusy() ? o.idleTimeoutMs : left));
          return;
        }
        log.info({ idleTimeoutMs: o.idleTimeoutMs }, 'closing idle mp connection');
        socket.destroy();
      };
      let timer = setTimeout(check, o.idleTimeoutMs);
      socket.once('close', () => clearTimeout(timer));
    }
    session.start();
  }
}
