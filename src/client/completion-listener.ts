import net from 'node:net';
import { EventEmitter, once } from 'node:events';

/** A completion notice as the daemon sends it (wire.md §4). */
export type Notice =
  | { readonly type: 'tile'; readonly name: string }
  | { readonly type: 'error'; readonly name: string; readonly reason: string }
  | { readonly type: 'done' };

export function parseNotice(line: string): Notice {
  if (line === 'done') return { type: 'done' };
  if (line.startsWith('error ')) {
    const rest = line.slice(6);
    const space = rest.indexOf(' ');
    return space < 0 ? { type: 'error', name: rest, reason: '' } : { type: 'error', name: rest.slice(0, space), reason: rest.slice(space + 1) };
  }
  return { type: 'tile', name: line };
}

/**
 * The client's side of the callback channel: a TCP listener that reads each
 * connection to EOF (short mode) or line by line (persistent mode) and emits
 * one `notice` event per line.
 */
export class CompletionListener extends EventEmitter {
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  readonly notices: Notice[] = [];

  private constructor(server: net.Server) {
    super();
    this.#server = server;
  }

  static async listen(options: { host?: string; port?: number } = {}): Promise<CompletionListener> {
    let listener!: CompletionListener;
    const server = net.createServer((socket) => listener.#accept(socket));
    listener = new CompletionListener(server);
    server.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0, exclusive: true });
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([e]) => Promise.reject(e))]);
    return listener;
  }

  get port(): number {
    return (this.#server.address() as net.AddressInfo).port;
  }

  #accept(socket: net.Socket): void {
    this.#sockets.add(socket);
    socket.setEncoding('utf8');
    let buffered = '';
    const emitLines = (final: boolean) => {
      const parts = buffered.split('\n');
      buffered = final ? '' : parts.pop()!;
      for (const line of final ? parts.filter((p) => p !== '') : parts) this.#emit(line.replace(/\r$/, ''));
    };
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      emitLines(false);
    });
    socket.on('end', () => emitLines(true));
    socket.on('error', () => undefined);
    socket.on('close', () => this.#sockets.delete(socket));
  }

  #emit(line: string): void {
    const notice = parseNotice(line);
    this.notices.push(notice);
    this.emit('notice', notice);
  }

  /**
   * Resolves with the notices for `names` (a tile notice or an error notice
   * each) once all have arrived; rejects after `timeoutMs`.
   */
  waitFor(names: Iterable<string>, timeoutMs = 60_000): Promise<Notice[]> {
    const wanted = new Set(names);
    const got = new Map<string, Notice>();
    const take = (n: Notice) => {
      if (n.type !== 'done' && wanted.has(n.name) && !got.has(n.name)) got.set(n.name, n);
    };
    for (const n of this.notices) take(n);
    return new Promise((resolve, reject) => {
      const check = () => {
        if (got.size < wanted.size) return false;
        cleanup();
        resolve([...wanted].map((w) => got.get(w)!));
        return true;
      };
      const onNotice = (n: Notice) => {
        take(n);
        check();
      };
      const timer = setTimeout(() => {
        cleanup();
        const missing = [...wanted].filter((w) => !got.has(w));
        reject(new Error(`no notice within ${timeoutMs} ms for ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.off('notice', onNotice);
      };
      this.on('notice', onNotice);
      check();
    });
  }

  /** Resolves when `done` arrives (or has arrived). */
  async waitForDone(timeoutMs = 60_000): Promise<void> {
    if (this.notices.some((n) => n.type === 'done')) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no done within ${timeoutMs} ms`)), timeoutMs);
      const onNotice = (n: Notice) => {
        if (n.type !== 'done') return;
        clearTimeout(timer);
        this.off('notice', onNotice);
        resolve();
      };
      this.on('notice', onNotice);
    });
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
