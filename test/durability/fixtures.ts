/**
 * Helpers for the durability tests: real daemons (bin/mosaicd.js from dist/)
 * killed with SIGKILL and restarted on the same tiles and state folders.
 */
import type { Test } from 'tap';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { connect, readUntil, spawnDaemon, within, type Child } from '../hardening/fixtures/lib.js';

export interface Setup {
  dir: string;
  callbackPort: number;
  /** Extra serve flags (e.g. --callback-mode persistent, --state-dir). */
  extra: string[];
}

/** Starts `mosaicd serve` on `port` and waits until it listens. */
export async function serve(t: Test, s: Setup, port: number): Promise<Child> {
  const child = spawnDaemon(t, [
    'serve', '--port', String(port), '--callback-port', String(s.callbackPort), '--tiles-dir', s.dir,
    '--no-inference', '--concurrency', '1', '--log-level', 'info', ...s.extra,
  ]);
  await child.waitForOutput('mosaicd listening', 60_000);
  return child;
}

/** kill -9, and wait for the exit. */
export async function kill9(child: Child): Promise<void> {
  child.proc.kill('SIGKILL');
  const { signal } = await within(child.exited, 10_000, 'the daemon dying');
  if (signal !== 'SIGKILL') throw new Error(`the daemon exited with ${String(signal)}, not SIGKILL`);
}

/** Sends tile lines and a barrier on one connection; resolves when the barrier is answered (every tile finished and its notice journalled). */
export async function requestAndWait(port: number, names: readonly string[]): Promise<void> {
  const socket = await connect(port);
  try {
    socket.write(names.map((n) => `${n}\n`).join('') + '\n');
    await readUntil(socket, '\n', 120_000);
  } finally {
    socket.destroy();
  }
}

/** Sends a line and closes; the daemon answers nothing on the connection for tiles and `stop`. */
export async function send(port: number, text: string): Promise<void> {
  const socket = await connect(port);
  socket.end(text);
  await new Promise<void>((resolve) => socket.once('close', () => resolve()));
}

/** The daemon's `stats` object. */
export async function stats(port: number): Promise<{ tiles: { queued: Record<string, number>; running: number }; notices: { pending: number } }> {
  const socket = await connect(port);
  try {
    socket.write('stats\n');
    const text = await readUntil(socket, '}\n', 10_000);
    return JSON.parse(text) as never;
  } finally {
    socket.destroy();
  }
}

/** Decodes a tile file as a whole PNG; resolves with its size. */
export async function decodeTile(dir: string, name: string): Promise<{ width: number; height: number }> {
  const { info } = await sharp(await readFile(path.join(dir, `${name}.png`)), { failOn: 'truncated' }).raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height };
}

/** How many times each line occurs. */
export function counts(lines: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const l of lines) m.set(l, (m.get(l) ?? 0) + 1);
  return m;
}
