import { EventEmitter } from 'node:events';
import PQueue from 'p-queue';
import { BusyError, ProcessingError, ShuttingDownError, messageOf } from '../errors.js';
import {
  metaTileKey,
  metaTileOf,
  onMap,
  tileKey,
  type MetaTile,
  type TileCoord,
} from '../tile/tile-coord.js';
import { DEFAULT_QUEUE_LIMITS, PRIORITY_VALUE, type PriorityClass } from './priority.js';
import type { Viewport } from './viewport.js';
import type { Scheduler } from './scheduler.js';
import { LocalWaiters, type WaitedJob } from './local-waiters.js';

/** One rendered tile of a metatile, as PNG bytes. */
export interface RenderedTile {
  readonly x: number;
  readonly y: number;
  readonly png: Uint8Array;
}

/** Draws a metatile. The render pool in production; a gated fake in scheduler tests. */
export interface MetaTileRenderer {
  renderMetaTile(meta: MetaTile, signal?: AbortSignal): Promise<RenderedTile[]>;
  /** Optional: a job for this metatile was queued; get ready for it (the built-in renderer builds its geometry level ahead). */
  prepare?(meta: MetaTile): void;
  readonly size: number;
}

/**
 * Where finished tiles go and how we know a tile exists. `has` is synchronous
 * on purpose: a request is admitted, coalesced or answered from disk in one
 * turn of the event loop, so a `cancel` or viewport update that follows it
 * always finds it (a local stat costs microseconds).
 */
export interface TileSink {
  has(tile: TileCoord): boolean;
  writeMany(tiles: Array<{ tile: TileCoord; png: Uint8Array }>): Promise<void>;
}

export interface TileSchedulerOptions {
  renderer: MetaTileRenderer;
  sink: TileSink;
  /** Tiles per metatile side; 1 renders tile by tile. A function gives each map its own (undefined: the default map). */
  metatile: number | ((map: string | undefined) => number);
  /** Renders at once; defaults to the renderer's size. */
  concurrency?: number;
  queueLimits?: Partial<Record<PriorityClass, number>>;
}

export interface TileRequest {
  cls: PriorityClass;
  /** Groups requests for viewport re-ordering and cancellation. */
  clientId?: string;
  /** Render even when the tile is on disk (`dirty`). */
  force?: boolean;
  /** The requester gave up (its connection went away): its share of the job is cancelled. */
  signal?: AbortSignal;
}

export interface TileOutcome {
  readonly tile: TileCoord;
  /** Answered from disk without rendering. */
  readonly cached: boolean;
  /** Joined a render another request had started or queued. */
  readonly coalesced: boolean;
}

type Lane = 'foreground' | 'background';

/** visible and interactive work runs in the foreground lane; the rest in the background lane. */
function laneOf(cls: PriorityClass): Lane {
  return cls === 'visible' || cls === 'interactive' ? 'foreground' : 'background';
}

interface Job extends WaitedJob<Job> {
  readonly key: string;
  readonly meta: MetaTile;
  cls: PriorityClass;
  /** Aborts the job for good (every waiter gone). */
  readonly controller: AbortController;
  /** The job's place in a lane's queue; replaced when the job changes lanes. */
  submission: { lane: Lane; controller: AbortController } | undefined;
}

/**
 * How long after the last foreground job the background lane keeps one
 * render slot free for it, ms. While someone is looking at the map, a
 * visible tile then never waits behind a full set of bulk renders.
 */
export const FOREGROUND_HEADROOM_MS = 3000;

interface ZoomStats {
  renders: number;
  tiles: number;
  totalMs: number;
  maxMs: number;
}

export interface TileSchedulerStats {
  queued: Record<PriorityClass, number>;
  queuedJobs: number;
  running: number;
  rendered: Record<string, { renders: number; tiles: number; meanMs: number; maxMs: number }>;
  cached: number;
  coalesced: number;
  cancelled: number;
  rejectedBusy: number;
  failed: number;
  /** Renders of each named map, present once one has rendered (`rendered` counts every map, by zoom). */
  maps?: Record<string, { renders: number; tiles: number }>;
}

/**
 * Decides what renders next. Requests for tiles of the same metatile join
 * one job; the job runs at the highest class among its waiters; a viewport
 * update re-ranks a client's queued waiters. Every promise handed out
 * settles: with the tile, or with a coded error (cancelled, busy, stopping).
 */
export class TileScheduler extends EventEmitter implements Scheduler {
  readonly #renderer: MetaTileRenderer;
  readonly #sink: TileSink;
  readonly #metatile: (map: string | undefined) => number;
  readonly #limits: Record<PriorityClass, number>;
  readonly #lanes: Record<Lane, PQueue>;
  readonly #concurrency: number;
  readonly #running: Record<Lane, number> = { foreground: 0, background: 0 };
  #lastForeground = -Infinity;
  #headroom = false;
  #headroomTimer: NodeJS.Timeout | undefined;
  readonly #jobs = new Map<string, Job>();
  readonly #waiters = new LocalWaiters<Job>((job, error) => this.#dropped(job, error));
  readonly #spaceWaiters: Array<{ cls: PriorityClass; resolve: () => void }> = [];
  readonly #zoomStats = new Map<number, ZoomStats>();
  /** Renders of each named map (the zoom stats count every map). */
  readonly #mapStats = new Map<string, { renders: number; tiles: number }>();
  #closing = false;
  #counters = { cached: 0, coalesced: 0, cancelled: 0, rejectedBusy: 0, failed: 0 };

  constructor(options: TileSchedulerOptions) {
    super();
    this.#renderer = options.renderer;
    this.#sink = options.sink;
    const metatile = options.metatile;
    this.#metatile = typeof metatile === 'number' ? () => metatile : metatile;
    this.#limits = { ...DEFAULT_QUEUE_LIMITS, ...options.queueLimits };
    this.#concurrency = options.concurrency ?? options.renderer.size;
    // Two p-queues share the render slots (see #rebalance): the foreground lane
    // may use all of them; the background lane waits while foreground work is
    // queued, and leaves one slot free while foreground work is recent.
    this.#lanes = {
      foreground: new PQueue({ concurrency: this.#concurrency }),
      background: new PQueue({ concurrency: this.#concurrency }),
    };
    for (const q of Object.values(this.#lanes)) {
      // A job's own `finally` runs before p-queue counts it as done; check idleness after p-queue moves on.
      q.on('next', () => this.#maybeIdle());
    }
  }

  /** The default map's metatile size. */
  get metatileSize(): number {
    return this.#metatile(undefined);
  }

  /**
   * Asks for a tile. Resolves once it is on disk. Rejects with BusyError when
   * the class is at its limit, CancelledError when cancelled, and
   * ShuttingDownError after close() or destroy().
   */
  request(tile: TileCoord, req: TileRequest): Promise<TileOutcome> {
    try {
      if (this.#closing) throw new ShuttingDownError();
      req.signal?.throwIfAborted();
      if (!req.force && this.#sink.has(tile)) {
        this.#counters.cached++;
        return Promise.resolve({ tile, cached: true, coalesced: false });
      }
      return this.#enqueue(tile, req);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** True when a new request of this class would be refused as busy. */
  isFull(cls: PriorityClass): boolean {
    return this.#waiters.queued(cls) >= this.#limits[cls];
  }

  /** Resolves when a request of this class would not be refused as busy. Bulk producers await this. */
  async waitForSpace(cls: PriorityClass, signal?: AbortSignal): Promise<void> {
    while (this.#waiters.queued(cls) >= this.#limits[cls]) {
      signal?.throwIfAborted();
      if (this.#closing) throw new ShuttingDownError();
      await new Promise<void>((resolve) => this.#spaceWaiters.push({ cls, resolve }));
    }
  }

  /** Records what a client now shows and re-ranks its queued requests. */
  setViewport(clientId: string, viewport: Viewport | undefined): void {
    const touched = this.#waiters.setViewport(clientId, viewport);
    for (const job of touched) this.#rerank(job);
    if (touched.size > 0) this.#wakeSpaceWaiters();
  }

  viewportOf(clientId: string): Viewport | undefined {
    return this.#waiters.viewportOf(clientId);
  }

  /** Removes a client's queued request for a tile. A running render is left to finish. Returns how many were cancelled. */
  cancel(tile: TileCoord, clientId?: string): number {
    return this.#waiters.cancel(this.#jobs.get(this.#jobKey(tile)), tile, clientId);
  }

  /** Forgets a client: its viewport, and its queued requests nobody else waits for. */
  forgetClient(clientId: string): void {
    this.#waiters.forgetClient(clientId);
  }

  /** Resolves when nothing is queued or running. */
  async onIdle(): Promise<void> {
    while (!this.#isIdle()) await new Promise((resolve) => this.once('idle', resolve));
  }

  /** Stops taking requests; resolves when every queued and running job has finished. */
  async close(): Promise<void> {
    this.#closing = true;
    this.#wakeSpaceWaiters();
    await this.onIdle();
    clearTimeout(this.#headroomTimer);
  }

  /** Stops at once: queued jobs fail with ShuttingDownError; running renders are awaited. */
  async destroy(): Promise<void> {
    this.#closing = true;
    this.#wakeSpaceWaiters();
    for (const job of [...this.#jobs.values()]) {
      if (job.state !== 'queued') continue;
      for (const w of [...job.waiters]) this.#waiters.drop(w, new ShuttingDownError());
    }
    await this.onIdle();
    clearTimeout(this.#headroomTimer);
  }

  stats(): TileSchedulerStats {
    const rendered: TileSchedulerStats['rendered'] = {};
    for (const [z, s] of [...this.#zoomStats].sort((a, b) => a[0] - b[0])) {
      rendered[String(z)] = {
        renders: s.renders,
        tiles: s.tiles,
        meanMs: s.renders ? Math.round((s.totalMs / s.renders) * 10) / 10 : 0,
        maxMs: Math.round(s.maxMs * 10) / 10,
      };
    }
    return {
      queued: this.#waiters.queuedByClass(),
      queuedJobs: this.#lanes.foreground.size + this.#lanes.background.size,
      running: this.#lanes.foreground.pending + this.#lanes.background.pending,
      rendered,
      ...this.#counters,
      ...(this.#mapStats.size > 0 ? { maps: Object.fromEntries([...this.#mapStats].map(([k, v]) => [k, { ...v }])) } : {}),
    };
  }

  #jobKey(tile: TileCoord): string {
    return metaTileKey(metaTileOf(tile, this.#metatile(tile.map)));
  }

  #enqueue(tile: TileCoord, req: TileRequest): Promise<TileOutcome> {
    const cls = this.#waiters.classOf(tile, req);
    const key = this.#jobKey(tile);
    let job = this.#jobs.get(key);
    const coalesced = job !== undefined;
    if (this.#waiters.queued(cls) >= this.#limits[cls] && !(job && job.state === 'running')) {
      this.#counters.rejectedBusy++;
      throw new BusyError(`the ${cls} queue is full (${this.#limits[cls]} tiles)`);
    }
    if (!job) {
      const meta = metaTileOf(tile, this.#metatile(tile.map));
      job = { key, meta, state: 'queued', cls, waiters: new Set(), controller: new AbortController(), submission: undefined };
      this.#jobs.set(key, job);
      this.#renderer.prepare?.(meta);
      this.#submit(job);
    } else {
      this.#counters.coalesced++;
    }
    const promise = this.#waiters.wait(job, tile, req, cls, coalesced);
    if (job.state === 'queued' && PRIORITY_VALUE[cls] > PRIORITY_VALUE[job.cls]) this.#rerank(job);
    return promise;
  }

  #submit(job: Job): void {
    const lane = laneOf(job.cls);
    const submission = { lane, controller: new AbortController() };
    job.submission = submission;
    if (lane === 'foreground') {
      this.#foregroundSeen();
      this.#rebalance();
    }
    const onJobAbort = () => submission.controller.abort(job.controller.signal.reason);
    job.controller.signal.addEventListener('abort', onJobAbort, { once: true });
    this.#lanes[lane]
      .add(({ signal }) => this.#run(job, signal), {
        priority: PRIORITY_VALUE[job.cls],
        id: job.key,
        signal: submission.controller.signal,
      })
      .catch(() => {
        // Withdrawn from this lane: moved to the other one, or every waiter is gone
        // (its waiters were already settled by LocalWaiters.drop).
        if (job.submission !== submission) return;
        this.#jobs.delete(job.key);
        this.#maybeIdle();
      })
      .finally(() => job.controller.signal.removeEventListener('abort', onJobAbort));
    // A foreground job waiting holds the background lane back.
    this.#rebalance();
  }

  /** Keeps one render slot free for foreground work for a while after it was last seen. */
  #foregroundSeen(): void {
    this.#lastForeground = performance.now();
    if (this.#concurrency < 2 || this.#headroom) return;
    this.#headroom = true;
    const check = () => {
      const fg = this.#lanes.foreground;
      const idleFor = performance.now() - this.#lastForeground;
      if (fg.size === 0 && this.#running.foreground === 0 && idleFor >= FOREGROUND_HEADROOM_MS) {
        this.#headroomTimer = undefined;
        this.#headroom = false;
        this.#rebalance();
        return;
      }
      this.#headroomTimer = setTimeout(check, Math.max(50, FOREGROUND_HEADROOM_MS - idleFor)).unref();
    };
    this.#headroomTimer = setTimeout(check, FOREGROUND_HEADROOM_MS).unref();
  }

  /**
   * Opens or holds each lane so that renders never exceed the slots: the
   * foreground lane starts work while any slot is free; the background lane
   * only while no foreground job waits and, during headroom, one slot stays
   * free. p-queue starts jobs synchronously, and #run calls this before its
   * first await, so a lane is held the moment it fills its share.
   */
  #rebalance(): void {
    const { foreground, background } = this.#lanes;
    const total = this.#running.foreground + this.#running.background;
    if (total < this.#concurrency) foreground.start();
    else foreground.pause();
    const backgroundSlots = this.#concurrency - (this.#headroom ? 1 : 0);
    if (foreground.size === 0 && total < backgroundSlots) background.start();
    else background.pause();
  }

  async #run(job: Job, signal: AbortSignal | undefined): Promise<void> {
    this.#waiters.start(job);
    const lane = job.submission?.lane ?? laneOf(job.cls);
    this.#running[lane]++;
    if (lane === 'foreground') this.#foregroundSeen();
    this.#rebalance();
    this.#wakeSpaceWaiters();
    const started = performance.now();
    try {
      const tiles = await this.#renderer.renderMetaTile(job.meta, signal);
      const ms = performance.now() - started;
      const { z, map } = job.meta;
      await this.#sink.writeMany(tiles.map((t) => ({ tile: onMap({ z, x: t.x, y: t.y }, map), png: t.png })));
      this.#record(z, map, tiles.length, ms);
      this.#waiters.settle(job, (w) => w.resolve({ tile: w.tile, cached: false, coalesced: w.coalesced }));
      this.emit('rendered', job.meta, ms);
    } catch (err) {
      this.#counters.failed++;
      const error = err instanceof Error && 'code' in err ? err : new ProcessingError(`render failed: ${messageOf(err)}`, { cause: err });
      this.#waiters.settle(job, (w) => w.reject(error as Error));
    } finally {
      this.#jobs.delete(job.key);
      this.#running[lane]--;
      this.#rebalance();
      this.#maybeIdle();
    }
  }

  /** A waiter left a queued job (LocalWaiters.drop): the job goes when nobody waits for it, else it is re-ranked. */
  #dropped(job: Job, error: Error): void {
    this.#counters.cancelled++;
    if (job.waiters.size === 0) {
      this.#jobs.delete(job.key);
      job.controller.abort(error);
    } else {
      this.#rerank(job);
    }
    this.#wakeSpaceWaiters();
    this.#maybeIdle();
  }

  /** Moves a queued job to the class of its highest waiter (and to that class's lane). */
  #rerank(job: Job): void {
    if (job.state !== 'queued' || job.waiters.size === 0) return;
    const cls = this.#waiters.highestClass(job);
    if (cls === job.cls) return;
    const from = laneOf(job.cls);
    job.cls = cls;
    if (laneOf(cls) !== from) {
      const old = job.submission;
      this.#submit(job);
      old?.controller.abort();
      return;
    }
    try {
      this.#lanes[from].setPriority(job.key, PRIORITY_VALUE[cls]);
    } catch {
      // Already handed to a worker between our state check and now: nothing to re-rank.
    }
  }

  #record(z: number, map: string | undefined, tiles: number, ms: number): void {
    if (map !== undefined) {
      const m = this.#mapStats.get(map) ?? { renders: 0, tiles: 0 };
      m.renders++;
      m.tiles += tiles;
      this.#mapStats.set(map, m);
    }
    let s = this.#zoomStats.get(z);
    if (!s) this.#zoomStats.set(z, (s = { renders: 0, tiles: 0, totalMs: 0, maxMs: 0 }));
    s.renders++;
    s.tiles += tiles;
    s.totalMs += ms;
    s.maxMs = Math.max(s.maxMs, ms);
  }

  #wakeSpaceWaiters(): void {
    for (let i = this.#spaceWaiters.length - 1; i >= 0; i--) {
      const sw = this.#spaceWaiters[i]!;
      if (this.#closing || this.#waiters.queued(sw.cls) < this.#limits[sw.cls]) {
        this.#spaceWaiters.splice(i, 1);
        sw.resolve();
      }
    }
  }

  #isIdle(): boolean {
    const { foreground: fg, background: bg } = this.#lanes;
    return this.#jobs.size === 0 && fg.size + bg.size + fg.pending + bg.pending === 0;
  }

  #maybeIdle(): void {
    if (this.#isIdle()) queueMicrotask(() => this.#isIdle() && this.emit('idle'));
  }
}
