/**
 * The parent's side of one Mapnik render process: a Renderer whose work is
 * done in the child (mapnik-process.ts). One process, one job at a time on
 * its side; deadlines, restarts and several processes are the worker pool's
 * job, not this one's. The spawn is injectable (tests, the pool).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { MosaicError, ProcessingError, type ErrorCode } from '../../errors.js';
import type { MetaTile } from '../../tile/tile-coord.js';
import type { RenderedTile } from '../meta.js';
import type { MapnikRendererOptions } from './options.js';
import type { FromRendererProcess, RendererInfo, ToRendererProcess } from './process-protocol.js';
import type { Renderer } from './renderer.js';

export type SpawnRendererProcess = () => ChildProcess;

/** Forks mapnik-process (the .js beside this file; under tsx, the .ts through tsx's loader). */
export const forkMapnikProcess: SpawnRendererProcess = () => {
  const ts = import.meta.url.endsWith('.ts');
  const entry = fileURLToPath(new URL(`./mapnik-process.${ts ? 'ts' : 'js'}`, import.meta.url));
  return fork(entry, [], {
    serialization: 'advanced',
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    execArgv: ts ? ['--import', 'tsx'] : [],
  });
};

export interface MapnikProcessRenderer extends Renderer {
  readonly info: RendererInfo;
  readonly child: ChildProcess;
}

function coded(code: string, message: string): MosaicError {
  return new MosaicError(code as ErrorCode, message);
}

/** Starts a render process, loads the style in it, and resolves once it is ready (or rejects with its coded error). */
export async function startMapnikProcess(options: MapnikRendererOptions, spawn: SpawnRendererProcess = forkMapnikProcess): Promise<MapnikProcessRenderer> {
  const child = spawn();
  const pending = new Map<number, { resolve: (t: RenderedTile[]) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let gone: Error | undefined;
  let onReady: { resolve: (i: RendererInfo) => void; reject: (e: Error) => void } | undefined;

  child.on('message', (raw) => {
    const msg = raw as FromRendererProcess;
    if (msg.type === 'ready') onReady?.resolve(msg.info);
    else if (msg.type === 'init-failed') onReady?.reject(coded(msg.code, msg.message));
    else if (msg.type === 'rendered' || msg.type === 'failed') {
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.type === 'rendered') p?.resolve(msg.tiles);
      else p?.reject(coded(msg.code, msg.message));
    }
  });
  child.on('exit', (code, signal) => {
    gone = new ProcessingError(`the Mapnik render process ${child.pid} exited (${signal ?? `code ${code}`})`);
    onReady?.reject(gone);
    for (const p of pending.values()) p.reject(gone);
    pending.clear();
  });
  const send = (msg: ToRendererProcess) => child.send(msg);

  const info = await new Promise<RendererInfo>((resolve, reject) => {
    onReady = { resolve, reject };
    child.once('error', reject);
    send({ type: 'init', options });
  }).catch((err: unknown) => {
    child.kill();
    throw err;
  });
  onReady = undefined;

  return {
    info,
    child,
    renderMetaTile(meta: MetaTile): Promise<RenderedTile[]> {
      if (gone) return Promise.reject(gone);
      return new Promise((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        send({ type: 'render', id, meta });
      });
    },
    async close(): Promise<void> {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      send({ type: 'close' });
      await exited;
    },
  };
}
