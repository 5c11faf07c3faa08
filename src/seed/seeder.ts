import net from 'node:net';
import { once, EventEmitter } from 'node:events';
import { noticeName } from '../protocol/tile-syntax.js';
import type { TileCoord } from '../tile/tile-coord.js';

/** Requests in flight on the seeding connection; the daemon's bulk queue limit applies behind it. */
export const SEED_WINDOW = 4096;

export interface SeedProgress {
  sent: number;
  done: number;
  errors: number;
  skipped: number;
}

export interface SeedOptions {
  host: string;
  port: number;
  /** `bulk` (seed) or `expire` (re-render as dirty). */
  command: 'bulk' | 'expire';
  /** Re-render tiles that exist (bulk only; expire always re-renders). */
  force: boolean;
  /** The daemon's admin token (`--admin-token`), sent with `bulk ... force` and `expire`. */
  token?: string;
  /** The map to seed (`NAME/Z/X/Y` lines); absent: the default map (`Z_X_Y`). */
  map?: string;
  /** Skip a tile without asking (e.g. it is on disk). */
  skip?: (tile: TileCoord) => boolean;
  signal?: AbortSignal;
  window?: number;
}

/**
 * Feeds tiles to a running daemon on one line connection at bulk (or
 * dirty) priority and counts the in-band answers. Pull-based: it takes the
 * next tile from the iterator only when the window has room, so a world
 * seed never sits in memory. Closing the connection (abort) makes the
 * daemon drop this seed's queued tiles.
 */
export class Seeder extends EventEmitter {
  readonly progress: SeedProgress = { sent: 0, done: 0, errors: 0, skipped: 0 };
  readonly firstErrors: string[] = [];

  async run(tiles: Iterable<TileCoord>, options: SeedOptions): Promise<SeedProgress> {
    const window = options.window ?? SEED_WINDOW;
    const socket = net.connect({ host: options.host, port: options.port, allowHalfOpen: true });
    socket.setNoDelay(true);
    await Promise.race([once(socket, 'connect'), once(socket, 'error').then(([e]) => Promise.reject(e))]);
    const iterator = tiles[Symbol.iterator]();
    let exhausted = false;
    let wake: (() => void) | undefined;
    let buffered = '';
    const admin = options.command === 'expire' || options.force;
    const suffix = `${options.command === 'bulk' && options.force ? ' force' : ''}${admin && options.token ? ` ${options.token}` : ''}`;

    const onAbort = () => socket.destroy();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const closed = once(socket, 'close');
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.startsWith('error ')) {
          this.progress.errors++;
          if (this.firstErrors.length < 10) this.firstErrors.push(line);
        } else {
          this.progress.done++;
        }
        this.emit('progress', this.progress);
      }
      wake?.();
    });
    socket.on('error', () => undefined);
    // A window-full wait must end when the connection does (Ctrl-C, daemon gone).
    socket.on('close', () => wake?.());

    try {
      while (!exhausted && !socket.destroyed) {
        let batch = '';
        while (this.progress.sent - this.progress.done - this.progress.errors < window) {
          const next = iterator.next();
          if (next.done) {
            exhausted = true;
            break;
          }
          if (options.skip?.(next.value)) {
            this.progress.skipped++;
            continue;
          }
          batch += `${options.command} ${noticeName(next.value, options.map)}${suffix}\n`;
          this.progress.sent++;
          if (batch.length > 64 * 1024) break;
        }
        if (batch) {
          if (!socket.write(batch)) await once(socket, 'drain');
        } else if (!exhausted) {
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
        }
      }
      socket.end();
      await closed;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
    if (options.signal?.aborted) throw new Error('seeding was cancelled');
    const answered = this.progress.done + this.progress.errors;
    if (answered < this.progress.sent) throw new Error(`the daemon closed the connection with ${this.progress.sent - answered} tiles unanswered`);
    return this.progress;
  }
}
