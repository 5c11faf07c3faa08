/**
 * The pool's one source of geometry: levels are prepared on first request in
 * a separate builder thread (never on the main thread's event loop, never
 * once per render worker) and kept here as SharedArrayBuffer-backed data that
 * every render worker reads in place.
 *
 * The builder thread starts on the first request and ends after `idleMs`
 * with nothing to do: the memory it used to parse Natural Earth goes with
 * it. One build runs at a time, in request order; the rest wait here. A
 * build with no answer for `timeoutMs`
 * fails with TimeoutError and the thread is replaced on the next request; a
 * thread that dies fails the build it was running (and those waiting) with
 * ProcessingError.
 */
import type { Worker, WorkerOptions } from 'node:worker_threads';
import { MosaicError, ProcessingError, ShuttingDownError, TimeoutError } from '../errors.js';
import { spawnWorker } from '../util/spawn-worker.js';
import type { LevelData, LevelSource } from './geometry.js';
import type { BuilderData, FromBuilder, ToBuilder } from './worker-protocol.js';

export interface GeometryBuilderOptions {
  /** A build with no answer for this long fails with TimeoutError and the thread is replaced. */
  readonly timeoutMs: number;
  /** End the builder thread after this long with no build to do (default BUILDER_IDLE_MS). */
  readonly idleMs?: number;
  /** Test seam: starts the builder thread (default: geometry-worker beside this module). */
  readonly spawn?: (options: WorkerOptions) => Worker;
  /** Load levels from and store them in this geometry cache root (GeometryCache); default: no cache. */
  readonly cacheDir?: string | undefined;
  /** A level is ready: built, or loaded from the cache. */
  readonly onLevel?: (level: number, source: LevelSource, ms: number) => void;
  /** The builder thread's warnings (a cache file ignored, a cache folder that cannot be written). */
  readonly onWarning?: (message: string) => void;
}

/** The builder thread's young generation (V8 semi-spaces and all), MB. */
const BUILDER_YOUNG_GENERATION_MB = 4;
/** The builder thread's old generation limit, MB; the 10m data needs ~50 live. */
const BUILDER_OLD_GENERATION_MB = 512;

/**
 * Long enough to keep a parsed dataset between the levels of a pyramid
 * (the next level is asked for as soon as the last one's renders start),
 * short enough not to sit on it while the workers render.
 */
export const BUILDER_IDLE_MS = 500;

interface Pending {
  readonly promise: Promise<LevelData>;
  readonly resolve: (data: LevelData) => void;
  readonly reject: (err: MosaicError) => void;
}

export class GeometryBuilder {
  private readonly levels = new Map<number, LevelData>();
  private readonly pending = new Map<number, Pending>();
  /** Levels requested and not yet sent to the thread, in build order. */
  private readonly queue: number[] = [];
  /** Levels in the queue that only prepare() asked for so far. */
  private readonly ahead = new Set<number>();
  /** The level the thread is building. */
  private building: number | null = null;
  private readonly timeoutMs: number;
  private readonly idleMs: number;
  private readonly spawn: (options: WorkerOptions) => Worker;
  private worker: Worker | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private closed = false;
  /** Builder threads started so far (tests). */
  threadsStarted = 0;
  /** Levels made so far (built or loaded), in order (tests). */
  readonly built: number[] = [];
  /** Of those, the levels loaded from the geometry cache (tests). */
  readonly loaded: number[] = [];
  private readonly cacheDir: string | undefined;
  private readonly onLevel: GeometryBuilderOptions['onLevel'];
  private readonly onWarning: GeometryBuilderOptions['onWarning'];

  constructor(options: GeometryBuilderOptions) {
    this.timeoutMs = options.timeoutMs;
    this.idleMs = options.idleMs ?? BUILDER_IDLE_MS;
    this.spawn = options.spawn ?? ((o) => spawnWorker(import.meta.url, 'geometry-worker', o));
    this.cacheDir = options.cacheDir;
    this.onLevel = options.onLevel;
    this.onWarning = options.onWarning;
  }

  /** A level already built, or undefined. */
  get(level: number): LevelData | undefined {
    return this.levels.get(level);
  }

  /** True while a builder thread is alive (tests). */
  get running(): boolean {
    return this.worker !== null;
  }

  /**
   * The level, built (in the builder thread) if it is the first request; one
   * build per level however many ask. A level only asked for ahead
   * (`prepare`) that a render now waits for moves to the front of the queue.
   */
  request(level: number, ahead = false): Promise<LevelData> {
    const ready = this.levels.get(level);
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.closed) return Promise.reject(new ShuttingDownError());
    const waiting = this.pending.get(level);
    if (waiting !== undefined) {
      if (!ahead && this.ahead.delete(level)) {
        const at = this.queue.indexOf(level);
        if (at >= 0) this.queue.splice(at, 1);
        this.queueUrgent(level);
      }
      return waiting.promise;
    }
    let resolve!: (data: LevelData) => void, reject!: (err: MosaicError) => void;
    const promise = new Promise<LevelData>((res, rej) => ((resolve = res), (reject = rej)));
    this.pending.set(level, { promise, resolve, reject });
    if (ahead) {
      this.ahead.add(level);
      this.queue.push(level);
    } else {
      this.queueUrgent(level);
    }
    this.pump();
    return promise;
  }

  /** Queues a level a render waits for: after the others renders wait for, before those only asked ahead. */
  private queueUrgent(level: number): void {
    const at = this.queue.findIndex((l) => this.ahead.has(l));
    if (at < 0) this.queue.push(level);
    else this.queue.splice(at, 0, level);
  }

  /**
   * Queues a level that work already queued will need, behind the levels
   * asked for so far: it builds while earlier levels render, instead of
   * holding the render slots when that work starts. A failure is reported
   * to the render that asks for it with request().
   */
  prepare(level: number): void {
    if (this.levels.has(level) || this.closed) return;
    this.request(level, true).catch(() => undefined);
  }

  /** Fails waiting builds with ShuttingDownError and ends the thread. Built levels stay readable. */
  async close(): Promise<void> {
    this.closed = true;
    this.failAll(new ShuttingDownError());
    await this.stopWorker();
  }

  /** Sends the next queued level to the thread if it is free. */
  private pump(): void {
    if (this.building !== null || this.closed) return;
    const level = this.queue.shift();
    if (level === undefined) {
      this.idle();
      return;
    }
    this.ahead.delete(level);
    const worker = this.ensureWorker();
    this.building = level;
    this.armWatchdog();
    worker.postMessage({ type: 'build', level } satisfies ToBuilder);
  }

  private ensureWorker(): Worker {
    if (this.idleTimer !== null) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
    if (this.worker !== null) {
      this.worker.ref();
      return this.worker;
    }
    const worker = this.spawn({
      // Parsing makes garbage fast, and with the default limits (sized from
      // the machine's memory) V8 lets the heap grow far ahead of it. A small
      // young generation and a bounded old one (~10× the 10m build's live
      // data) keep it collected: measured on level 9 from the 10m data,
      // +70 MB peak RSS instead of +113, no slower.
      resourceLimits: { maxYoungGenerationSizeMb: BUILDER_YOUNG_GENERATION_MB, maxOldGenerationSizeMb: BUILDER_OLD_GENERATION_MB },
      workerData: { cacheDir: this.cacheDir } satisfies BuilderData,
    });
    this.threadsStarted++;
    this.worker = worker;
    worker.on('message', (msg: FromBuilder) => {
      if (this.worker === worker) this.onMessage(msg);
    });
    worker.on('error', (err) => {
      if (this.worker === worker) this.onDeath(`geometry builder crashed: ${err.message}`);
    });
    worker.on('exit', (code) => {
      if (this.worker === worker) this.onDeath(`geometry builder exited with code ${code}`);
    });
    return worker;
  }

  private onMessage(msg: FromBuilder): void {
    if (msg.type === 'warning') {
      this.onWarning?.(msg.message);
      return;
    }
    if (msg.level !== this.building) return;
    this.building = null;
    this.clearWatchdog();
    const p = this.pending.get(msg.level);
    this.pending.delete(msg.level);
    if (msg.type === 'built') {
      this.levels.set(msg.level, msg.data);
      this.built.push(msg.level);
      if (msg.source === 'cache') this.loaded.push(msg.level);
      this.onLevel?.(msg.level, msg.source, msg.ms);
      p?.resolve(msg.data);
    } else {
      p?.reject(new ProcessingError(`preparing the geometry for level ${msg.level} failed: ${msg.message}`));
    }
    this.pump();
  }

  /** Nothing to build: let the process exit without waiting for the thread, and end it soon. */
  private idle(): void {
    if (this.worker === null || this.idleTimer !== null) return;
    this.worker.unref();
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.building === null && this.queue.length === 0) void this.stopWorker();
    }, this.idleMs);
    this.idleTimer.unref();
  }

  /** The thread is gone: the build it was running and every one waiting fail (the next request starts a new thread). */
  private onDeath(reason: string): void {
    this.worker = null;
    this.building = null;
    this.clearWatchdog();
    this.failAll(new ProcessingError(reason));
  }

  private armWatchdog(): void {
    this.clearWatchdog();
    this.watchdog = setTimeout(() => {
      this.watchdog = null;
      const level = this.building;
      this.building = null;
      void this.stopWorker();
      this.failAll(new TimeoutError(`preparing the geometry for level ${level} took longer than ${this.timeoutMs} ms`));
    }, this.timeoutMs);
  }

  private clearWatchdog(): void {
    if (this.watchdog !== null) clearTimeout(this.watchdog);
    this.watchdog = null;
  }

  private failAll(err: MosaicError): void {
    const waiting = [...this.pending.values()];
    this.pending.clear();
    this.queue.length = 0;
    this.ahead.clear();
    for (const p of waiting) p.reject(err);
  }

  private async stopWorker(): Promise<void> {
    this.clearWatchdog();
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const worker = this.worker;
    this.worker = null;
    if (worker !== null) await worker.terminate();
  }
}
