import net from 'node:net';
import { once } from 'node:events';

export interface TileClientOptions {
  host?: string;
  /** The daemon's request port (default 12345). */
  port?: number;
}

/**
 * The line protocol (wire.md §3) from the client's side. Every call opens a
 * connection, writes its lines, half-closes, and reads what the daemon
 * writes back on that connection (barrier replies, `pong`, stats).
 */
export class TileClient {
  readonly host: string;
  readonly port: number;

  constructor(options: TileClientOptions = {}) {
    this.host = options.host ?? '127.0.0.1';
    this.port = options.port ?? 12345;
  }

  /** Sends lines on one connection and resolves with everything written back until the daemon closes it. */
  async send(lines: readonly string[], options: { terminate?: boolean } = {}): Promise<string> {
    const socket = net.connect({ host: this.host, port: this.port, allowHalfOpen: true });
    socket.setEncoding('utf8');
    let reply = '';
    socket.on('data', (chunk: string) => (reply += chunk));
    await once(socket, 'connect');
    const body = lines.join('\n') + (options.terminate === false ? '' : '\n');
    socket.end(body);
    await once(socket, 'close');
    return reply;
  }

  /** Asks for tiles; with `barrier`, resolves only once all of them are finished. */
  async request(names: readonly string[], options: { barrier?: boolean } = {}): Promise<void> {
    await this.send(options.barrier ? [...names, ''] : names);
  }

  viewport(z: number, minX: number, minY: number, maxX: number, maxY: number): Promise<string> {
    return this.send([`viewport ${z} ${minX} ${minY} ${maxX} ${maxY}`]);
  }

  cancel(name: string): Promise<string> {
    return this.send([`cancel ${name}`]);
  }

  async ping(): Promise<boolean> {
    return (await this.send(['ping'])).trim() === 'pong';
  }

  async stats(): Promise<Record<string, unknown>> {
    return JSON.parse((await this.send(['stats'])).trim()) as Record<string, unknown>;
  }

  /** Asks the daemon to finish its queue, send `done` and exit. Resolves with any refusal it wrote back. */
  stop(token?: string): Promise<string> {
    return this.send([token ? `stop ${token}` : 'stop']);
  }
}
