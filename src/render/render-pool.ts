/**
 * Render workers on the shared WorkerPool (src/pool): slots, a FIFO,
 * deadlines, retry-once and replacement with backoff, recycling.
 *
 * A worker loads the renderer module it is told to (the built-in Natural
 * Earth renderer by default), in a thread or, with `isolation: 'process'`, a
 * child process, so a native crash takes down one process and one job.
 *
 * For the built-in renderer in threads, geometry is prepared once for the
 * whole pool, lazily, one level at a time (GeometryBuilder, in its own
 * thread), and shared with the workers through SharedArrayBuffers: a job
 * waits here — untimed — until its level exists, then goes to the pool
 * with that level. Processes cannot share memory: each builds its own.
 */
import os from 'node:os';
import { CancelledError, ShuttingDownError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { MAX_RESTART_BACKOFF_MS, RECYCLE_AFTER_JOBS, RECYCLE_RSS_MB, RENDER_TIMEOUT_MS, RESTART_BACKOFF_MS } from '../limits.js';
import { processWorker } from '../pool/process-worker.js';
import { threadWorker } from '../pool/thread-worker.js';
import type { SpawnWorker } from '../pool/worker-handle.js';
import { WorkerPool, type PoolStats } from '../pool/worker-pool.js';
import { metaTileKey, type MetaTile } from '../tile/tile-coord.js';
import type { BuiltinRendererOptions } from './builtin-renderer.js';
import { levelForPixelZoom, pixelZoomOf, type LevelData, type LevelSource } from './geometry.js';
import { GeometryBuilder } from './geometry-builder.js';
import { checkMeta, type RenderedTile } from './meta.js';
import type { RenderJob, RenderResult, RenderWorkerEvent, RenderWorkerInit } from './worker-protocol.js';

export type { RenderedTile } from './meta.js';

export type Isolation = 'thread' | 'process';

export interface RenderPoolOptions {
  /** Workers (default: os.availableParallelism()). */
  workers?: number;
  /** Tile side in pixels (default 256). */
  tileSize?: 256 | 512;
  /** 8-bit palette PNG, like Mapnik's png256 (default true). */
  palette?: boolean;
  /** A render past this fails with TimeoutError and its worker is replaced (default RENDER_TIMEOUT_MS). */
  timeoutMs?: number;
  /** Worker threads (default) or child processes. */
  isolation?: Isolation;
  /**
   * The renderer module workers load (RenderWorkerInit) and its options;
   * default: the built-in renderer. Another module runs in processes only
   * (a native renderer must not take the daemon down with it).
   */
  renderer?: RenderWorkerInit;
  /** Replace a worker after this many metatiles (default RECYCLE_AFTER_JOBS; 0 = never). */
  recycleAfterJobs?: number;
  /** Replace a render process past this resident size after a job, MB (default RECYCLE_RSS_MB; 0 = never). */
  recycleRssMb?: number;
  restartBackoffMs?: number;
  maxRestartBackoffMs?: number;
  /**
   * Built-in renderer: the geometry cache root (src/render/geometry-cache.ts)
   * its levels are loaded from and stored in, by the builder thread or by
   * each render process. Default: no cache.
   */
  cacheDir?: string | undefined;
  /** Where geometry warnings (a cache file ignored, a cache folder not writable) and debug lines go. */
  log?: Logger;
  /** Test seam: starts one worker instead of a thread or a process. */
  spawn?: SpawnWorker<RenderWorkerInit, RenderJob, RenderResult, RenderWorkerEvent>;
}

export interface RenderPoolStats extends PoolStats {
  isolation: Isolation;
}

export class RenderPool {
  readonly size: number;
  readonly isolation: Isolation;
  readonly tileSize: 256 | 512;
  private readonly pool: WorkerPool<RenderWorkerInit, RenderJob, RenderResult, RenderWorkerEvent>;
  /** Shared geometry: the built-in renderer in threads only. */
  private readonly geometry: GeometryBuilder | null;
  private waitingForGeometry = 0;
  private closing: Promise<void> | null = null;

  constructor(options: RenderPoolOptions = {}) {
    this.size = Math.max(1, Math.floor(options.workers ?? os.availableParallelism()));
    this.tileSize = options.tileSize ?? 256;
    const builtin = options.renderer === undefined;
    this.isolation = builtin ? (options.isolation ?? 'thread') : 'process';
    const timeoutMs = options.timeoutMs ?? RENDER_TIMEOUT_MS;
    const log = options.log ?? silentLogger();
    // Every builder thread and render process warns on its own; the log gets each problem once.
    const warned = new Set<string>();
    const onWarning = (message: string): void => {
      if (warned.has(message)) return;
      warned.add(message);
      log.warn(message);
    };
    const onLevel = (level: number, source: LevelSource, ms: number): void =>
      log.debug({ level, source, ms: Math.round(ms) }, `geometry level ${level} ${source === 'cache' ? 'loaded from the geometry cache' : 'built'}`);
    const init: RenderWorkerInit = options.renderer ?? {
      module: new URL(`./builtin-renderer${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url).href,
      options: { tileSize: this.tileSize, palette: options.palette ?? true, cacheDir: options.cacheDir } satisfies BuiltinRendererOptions,
    };
    this.geometry = builtin && this.isolation === 'thread' && options.spawn === undefined
      ? new GeometryBuilder({ timeoutMs, cacheDir: options.cacheDir, onLevel, onWarning })
      : null;
    const spawn = options.spawn ?? (this.isolation === 'process'
      ? () => processWorker<RenderWorkerInit, RenderJob, RenderResult, RenderWorkerEvent>(import.meta.url, 'render-worker', init)
      : () => threadWorker<RenderWorkerInit, RenderJob, RenderResult, RenderWorkerEvent>(import.meta.url, 'render-worker', init));
    this.pool = new WorkerPool({
      name: 'render',
      size: this.size,
      timeoutMs,
      spawn,
      recycleAfterJobs: options.recycleAfterJobs ?? RECYCLE_AFTER_JOBS,
      recycleRssBytes: (options.recycleRssMb ?? RECYCLE_RSS_MB) * 1024 * 1024,
      restartBackoffMs: options.restartBackoffMs ?? RESTART_BACKOFF_MS,
      maxRestartBackoffMs: options.maxRestartBackoffMs ?? MAX_RESTART_BACKOFF_MS,
      onEvent: (event) => (event.type === 'warning' ? onWarning(event.message) : onLevel(event.level, event.source, event.ms)),
    });
  }

  /**
   * Renders every tile of the block; resolves with all of them (row-major).
   * Rejects with a MosaicError: BadTileError for a block off the grid,
   * TimeoutError past the deadline, ProcessingError if the renderer fails or
   * its worker dies twice (a dead worker is replaced and the job retried
   * once), CancelledError if `signal` aborts before the job reaches a worker
   * (once running, a render finishes), ShuttingDownError after close().
   */
  async renderMetaTile(meta: MetaTile, signal?: AbortSignal): Promise<RenderedTile[]> {
    checkMeta(meta, this.tileSize);
    if (this.closing !== null) throw new ShuttingDownError();
    let job: RenderJob = { meta };
    if (this.geometry !== null) {
      const level = levelForPixelZoom(pixelZoomOf(meta.z, this.tileSize));
      job = { meta, geometry: { level, data: this.geometry.get(level) ?? (await this.levelFor(level, signal)) } };
    }
    const result = await this.pool.run(job, { signal, label: `metatile ${metaTileKey(meta)}` });
    return result.tiles.map((t) => ({ x: t.x, y: t.y, png: new Uint8Array(result.data, t.offset, t.length) }));
  }

  /** A job for this metatile was queued: have its geometry level built now, while earlier jobs render. */
  prepare(meta: MetaTile): void {
    if (this.geometry === null || this.closing !== null) return;
    this.geometry.prepare(levelForPixelZoom(pixelZoomOf(meta.z, this.tileSize)));
  }

  stats(): RenderPoolStats {
    const s = this.pool.stats();
    return { ...s, queued: s.queued + this.waitingForGeometry, isolation: this.isolation };
  }

  /** Rejects queued jobs, waits for running renders, then ends the workers. Idempotent. */
  close(): Promise<void> {
    this.closing ??= Promise.all([this.geometry?.close(), this.pool.close()]).then(() => undefined);
    return this.closing;
  }

  /** The level, built once for the pool; waiting is untimed, and an abort while waiting cancels. */
  private async levelFor(level: number, signal: AbortSignal | undefined): Promise<LevelData> {
    if (signal?.aborted) throw new CancelledError();
    this.waitingForGeometry++;
    let onAbort: (() => void) | undefined;
    try {
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => reject(new CancelledError());
        signal?.addEventListener('abort', onAbort, { once: true });
      });
      return await Promise.race([this.geometry!.request(level), aborted]);
    } finally {
      this.waitingForGeometry--;
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
    }
  }
}
