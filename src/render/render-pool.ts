/**
 * A fixed set of render worker threads with a small FIFO in front.
 *
 * The daemon's scheduler decides the order of jobs and calls at most `size`
 * at a time; the FIFO only absorbs calls beyond that. A job is timed from the
 * moment a worker takes it. A worker that times out, dies or throws outside a
 * job fails only its own job and is replaced by a fresh one.
 *
 * Geometry is prepared once for the whole pool, lazily, one zoom level at a
 * time (GeometryBuilder, in its own thread), and shared with the workers
 * through SharedArrayBuffers: workers start ready, and a job waits in the
 * FIFO — untimed — until the level it draws from exists, then goes to a
 * worker together with that level if the worker has not had it yet.
 */
import os from 'node:os';
import type { Worker } from 'node:worker_threads';
import {
  CancelledError,
  MosaicError,
  ProcessingError,
  ShuttingDownError,
  TimeoutError,
} from '../errors.js';
import { RENDER_TIMEOUT_MS } from '../limits.js';
import { metaTileKey, type MetaTile } from '../tile/tile-coord.js';
import { spawnWorker } from '../util/spawn-worker.js';
import { levelForPixelZoom, pixelZoomOf } from './geometry.js';
import { GeometryBuilder } from './geometry-builder.js';
import { checkMeta, type RenderedTile } from './meta.js';
import type { FromWorker, RenderWorkerData, ToWorker, WorkerFault } from './worker-protocol.js';

export type { RenderedTile } from './meta.js';

export interface RenderPoolOptions {
  /** Worker threads (default: os.availableParallelism()). */
  workers?: number;
  /** Tile side in pixels (default 256). */
  tileSize?: 256 | 512;
  /** 8-bit palette PNG, like Mapnik's png256 (default true). */
  palette?: boolean;
  /** A render past this fails with TimeoutError and its worker is replaced (default RENDER_TIMEOUT_MS). */
  timeoutMs?: number;
}

/** The messages that are jobs (answered with the job's id). */
type JobMessage = Extract<ToWorker, { id: number }>;

/** A job waiting for, or running on, a worker. */
interface Job {
  readonly id: number;
  readonly message: JobMessage;
  readonly label: string;
  /** The geometry level the job draws from (null: needs none). */
  readonly level: number | null;
  readonly resolve: (tiles: RenderedTile[]) => void;
  readonly reject: (err: MosaicError) => void;
  /** Removes the abort listener once the job leaves the queue. */
  detach: () => void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  /** Set once the worker has failed or been told to stop, so its late events are ignored. */
  retired: boolean;
  job: Job | null;
  timer: NodeJS.Timeout | null;
  /** Geometry levels already sent to this worker. */
  readonly levels: Set<number>;
}

/** Delay before replacing a worker that died while starting (doubles up to the cap), so a broken install does not spin. */
const RESTART_DELAY_MS = 500;
const MAX_RESTART_DELAY_MS = 30_000;

export class RenderPool {
  readonly size: number;
  private readonly workerData: RenderWorkerData;
  private readonly timeoutMs: number;
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private replaced = 0;
  private restartDelay = RESTART_DELAY_MS;
  private closing: Promise<void> | null = null;
  private readonly idleWaiters: (() => void)[] = [];
  /** TEST ONLY: metatile key → the fault its next render turns into (armFaultForTest). */
  private readonly armedFaults = new Map<string, WorkerFault>();
  private readonly geometry: GeometryBuilder;

  constructor(options: RenderPoolOptions = {}) {
    this.size = Math.max(1, Math.floor(options.workers ?? os.availableParallelism()));
    this.workerData = { tileSize: options.tileSize ?? 256, palette: options.palette ?? true };
    this.timeoutMs = options.timeoutMs ?? RENDER_TIMEOUT_MS;
    this.geometry = new GeometryBuilder({ timeoutMs: this.timeoutMs });
    for (let i = 0; i < this.size; i++) this.slots.push(this.startWorker());
  }

  /**
   * Renders every tile of the block; resolves with all of them (row-major).
   * Rejects with a MosaicError: BadTileError for a block off the grid,
   * TimeoutError past the deadline, ProcessingError if the worker throws or
   * dies (a dead worker is replaced), CancelledError if `signal` aborts before
   * the job reaches a worker (once running, a render finishes), and
   * ShuttingDownError after close().
   */
  renderMetaTile(meta: MetaTile, signal?: AbortSignal): Promise<RenderedTile[]> {
    try {
      checkMeta(meta, this.workerData.tileSize);
    } catch (err) {
      return Promise.reject(err);
    }
    const id = this.nextId++;
    const key = metaTileKey(meta);
    const fault = this.armedFaults.get(key);
    if (fault !== undefined) {
      this.armedFaults.delete(key);
      return this.submit({ type: 'test-fault', id, fault }, `metatile ${key}`, null, signal);
    }
    const level = levelForPixelZoom(pixelZoomOf(meta.z, this.workerData.tileSize));
    return this.submit({ type: 'render', id, meta }, `metatile ${key}`, level, signal);
  }

  stats(): { workers: number; busy: number; queued: number; replaced: number } {
    return {
      workers: this.slots.filter((s) => !s.retired).length,
      busy: this.slots.filter((s) => s.job !== null).length,
      queued: this.queue.length,
      replaced: this.replaced,
    };
  }

  /** Rejects queued jobs, waits for running renders, then terminates the workers. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const job of this.queue.splice(0)) {
        job.detach();
        job.reject(new ShuttingDownError());
      }
      const geometry = this.geometry.close();
      while (this.slots.some((s) => s.job !== null)) {
        await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
      }
      await Promise.all([
        geometry,
        ...this.slots.map((s) => {
          s.retired = true;
          return s.worker.terminate();
        }),
      ]);
    })();
    return this.closing;
  }

  /**
   * @internal TEST ONLY: queues a job that makes the worker taking it
   * misbehave (see WorkerFault), to test timeouts and worker replacement
   * against a real thread. Settles like a render job would.
   */
  injectFaultForTest(fault: WorkerFault): Promise<void> {
    const id = this.nextId++;
    return this.submit({ type: 'test-fault', id, fault }, `test fault ${fault}`, null).then(() => undefined);
  }

  /**
   * @internal TEST ONLY: the next render of this metatile becomes a
   * test-fault job (see WorkerFault) on whichever worker takes it, so a test
   * can make a real tile request throw, hang or crash its worker. Reachable
   * from a daemon only with MOSAICD_TEST_FAULTS=1 (the framed `test_fault`).
   */
  armFaultForTest(meta: MetaTile, fault: WorkerFault): void {
    this.armedFaults.set(metaTileKey(meta), fault);
  }

  private submit(message: JobMessage, label: string, level: number | null, signal?: AbortSignal): Promise<RenderedTile[]> {
    if (this.closing !== null) return Promise.reject(new ShuttingDownError());
    if (signal?.aborted) return Promise.reject(new CancelledError());
    return new Promise<RenderedTile[]>((resolve, reject) => {
      const job: Job = { id: message.id, message, label, level, resolve, reject, detach: () => {} };
      if (signal !== undefined) {
        const onAbort = (): void => {
          const i = this.queue.indexOf(job);
          if (i < 0) return; // already running: the render finishes
          this.queue.splice(i, 1);
          reject(new CancelledError());
        };
        signal.addEventListener('abort', onAbort, { once: true });
        job.detach = () => signal.removeEventListener('abort', onAbort);
      }
      this.queue.push(job);
      if (level !== null && this.geometry.get(level) === undefined) this.prepare(level);
      this.dispatch();
    });
  }

  /** Has the level built; jobs waiting for it are dispatched when it arrives, or fail with the build. */
  private prepare(level: number): void {
    this.geometry.request(level).then(
      () => this.dispatch(),
      (err: MosaicError) => {
        for (let i = this.queue.length - 1; i >= 0; i--) {
          const job = this.queue[i]!;
          if (job.level !== level) continue;
          this.queue.splice(i, 1);
          job.detach();
          job.reject(err);
        }
      },
    );
  }

  /** The first queued job that can run now: its geometry is ready (FIFO among those). */
  private nextRunnable(): number {
    return this.queue.findIndex((j) => j.level === null || this.geometry.get(j.level) !== undefined);
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (!slot.ready || slot.retired || slot.job !== null) continue;
      const i = this.nextRunnable();
      if (i < 0) return;
      const job = this.queue.splice(i, 1)[0]!;
      job.detach();
      slot.job = job;
      slot.timer = setTimeout(() => this.onTimeout(slot), this.timeoutMs);
      if (job.level !== null && !slot.levels.has(job.level)) {
        slot.worker.postMessage({ type: 'geometry', level: job.level, data: this.geometry.get(job.level)! } satisfies ToWorker);
        slot.levels.add(job.level);
      }
      slot.worker.postMessage(job.message);
    }
  }

  private startWorker(): Slot {
    const worker = spawnWorker(import.meta.url, 'render-worker', { workerData: this.workerData });
    const slot: Slot = { worker, ready: false, retired: false, job: null, timer: null, levels: new Set() };
    worker.on('message', (msg: FromWorker) => this.onMessage(slot, msg));
    worker.on('error', (err) => this.onDeath(slot, `render worker crashed: ${err.message}`));
    worker.on('exit', (code) => this.onDeath(slot, `render worker exited with code ${code}`));
    return slot;
  }

  private onMessage(slot: Slot, msg: FromWorker): void {
    if (slot.retired) return;
    if (msg.type === 'ready') {
      slot.ready = true;
      this.restartDelay = RESTART_DELAY_MS;
      this.dispatch();
      return;
    }
    const job = slot.job;
    if (job === null || job.id !== msg.id) return; // a stale answer (cannot happen: one job per worker)
    this.finishJob(slot);
    if (msg.type === 'rendered') {
      job.resolve(msg.tiles.map((t) => ({ x: t.x, y: t.y, png: new Uint8Array(msg.data, t.offset, t.length) })));
    } else {
      job.reject(new ProcessingError(`${job.label} failed in the render worker: ${msg.error.message}`));
    }
    this.afterJob();
  }

  private onTimeout(slot: Slot): void {
    const job = slot.job;
    if (job === null || slot.retired) return;
    this.finishJob(slot);
    job.reject(new TimeoutError(`${job.label} took longer than ${this.timeoutMs} ms`));
    this.replace(slot, false);
    this.afterJob();
  }

  /** 'error' and 'exit' both land here; only the first counts. */
  private onDeath(slot: Slot, reason: string): void {
    if (slot.retired) return;
    const job = slot.job;
    const started = slot.ready;
    if (job !== null) {
      this.finishJob(slot);
      job.reject(new ProcessingError(`${job.label} failed: ${reason}`));
    }
    if (!started) {
      // Dying before 'ready' is a start-up failure (missing data, broken
      // install): waiting jobs would wait for ever, so fail them now.
      for (const queued of this.queue.splice(0)) {
        queued.detach();
        queued.reject(new ProcessingError(`no render worker could start: ${reason}`));
      }
    }
    this.replace(slot, !started);
    this.afterJob();
  }

  private finishJob(slot: Slot): void {
    if (slot.timer !== null) clearTimeout(slot.timer);
    slot.timer = null;
    slot.job = null;
  }

  /** Retires the slot's worker and puts a fresh one in its place (unless the pool is closing). */
  private replace(slot: Slot, delayed: boolean): void {
    slot.retired = true;
    void slot.worker.terminate();
    if (this.closing !== null) return;
    this.replaced++;
    const i = this.slots.indexOf(slot);
    const restart = (): void => {
      if (this.closing !== null) return;
      this.slots[i] = this.startWorker();
    };
    if (delayed) {
      setTimeout(restart, this.restartDelay).unref();
      this.restartDelay = Math.min(this.restartDelay * 2, MAX_RESTART_DELAY_MS);
    } else {
      restart();
    }
  }

  private afterJob(): void {
    this.dispatch();
    if (this.slots.every((s) => s.job === null)) for (const wake of this.idleWaiters.splice(0)) wake();
  }
}
