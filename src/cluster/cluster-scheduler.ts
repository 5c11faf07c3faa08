import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import type { Logger } from '../log.js';
import { BusyError, ErrorCode, MosaicError, ProcessingError, QueueUnavailableError, ShuttingDownError, messageOf } from '../errors.js';
import { MAX_QUEUE_PENDING_ADDS, QUEUE_COUNTS_CACHE_MS } from '../limits.js';
import { DEFAULT_QUEUE_LIMITS, PRIORITY_CLASSES, PRIORITY_VALUE, type PriorityClass } from '../scheduler/priority.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import type { MetaTileRenderer, TileOutcome, TileRequest, TileSchedulerStats, TileSink } from '../scheduler/tile-scheduler.js';
import type { Viewport } from '../scheduler/viewport.js';
import { metaTileOf, type MetaTile, type TileCoord } from '../tile/tile-coord.js';
import { ClusterWorkers } from './cluster-worker.js';
import { CompletionChannel, type JobEvent } from './completion-channel.js';
import { closeOrDrop, commandClient, connectionOf, installClientFactory } from './connection.js';
import { JOB_PRIORITY, jobDataOf, jobIdOf, queueNameOf, wantsKeyOf } from './job-data.js';
import type { QueueUrl } from './queue-url.js';
import type { Redis } from 'ioredis';
import { LocalWaiters, type WaitedJob, type Waiter } from '../scheduler/local-waiters.js';

export interface ClusterSchedulerOptions {
  url: QueueUrl;
  /** Key prefix; nodes with the same URL and prefix share queues. */
  prefix: string;
  stallMs: number;
  renderer: MetaTileRenderer;
  sink: TileSink;
  /** The maps this node serves (undefined: the default map); every node of a cluster serves the same. */
  maps: ReadonlyArray<string | undefined>;
  /** A map's metatile size and max zoom; throws for a map this node does not serve. */
  mapCheck: (map: string | undefined) => { metatile: number; maxZoom: number };
  queueLimits?: Partial<Record<PriorityClass, number>>;
  /** Renders at once on this node; 0: this node only accepts requests, others render. */
  slots: number;
  log: Logger;
}

/** The cluster part of `stats` and `/metrics` (DaemonStats.cluster). */
export interface ClusterQueueStats {
  /** The queue URL (no secret in it). */
  url: string;
  prefix: string;
  /** Render jobs (metatiles) queued per class across the cluster, as Redis counted them at most QUEUE_COUNTS_CACHE_MS ago. */
  queued: Record<PriorityClass, number>;
  /** Metatiles this node's workers rendered, and their tiles. */
  renders: number;
  tiles: number;
  /** Jobs this node's workers are rendering now. */
  running: number;
  /** This node's connection to Redis. */
  redis: string;
}

/** This node's view of one shared job: who here waits for it (`running`: BullMQ reported it active somewhere). */
interface LocalJob extends WaitedJob<LocalJob> {
  readonly key: string;
  readonly queue: Queue;
  readonly jobId: string;
  readonly meta: MetaTile;
  readonly force: boolean;
  /** Highest class among this node's waiters. */
  cls: PriorityClass;
  /** The priority last asked of Redis for it (raised only, never lowered: other nodes may want it sooner). */
  askedCls: PriorityClass | undefined;
}

const FOREGROUND: ReadonlySet<PriorityClass> = new Set(['visible', 'interactive']);
/** How long a job's set of wanting nodes outlives its last update, s (a killed node leaves its member behind). */
const WANTS_TTL_S = 24 * 3600;
/** SREM this node from a job's wanting nodes; the count left. */
const WITHDRAW_LUA = "redis.call('SREM', KEYS[1], ARGV[1]); return redis.call('SCARD', KEYS[1])";

/**
 * The BullMQ engine of the Scheduler interface (`--queue`): render work on
 * one queue per map in Redis, shared by every node; completions come back to
 * the accepting node over the queue's event stream (completion-channel.ts).
 *
 * - A request joins this node's waiters of the metatile's job; the first one
 *   adds the job (job id from map, zoom, metatile: a duplicate anywhere
 *   joins the existing job) and records this node among the job's wanting
 *   nodes (a Redis set).
 * - Classes map to BullMQ priorities; a job is raised (changePriority) when
 *   a waiter here rises above what was asked, never lowered.
 * - Cancel / disconnect drop this node's waiters; when none is left here the
 *   node leaves the wanting set, and the last one out removes the job if it
 *   is still waiting. A job already running is left to finish: its tiles
 *   are still worth having, and aborting across nodes buys little.
 * - `busy`: this node's own queued waiters per class (as the in-process
 *   engine counts them), and the cluster's queued jobs per class, from
 *   Redis, reused for QUEUE_COUNTS_CACHE_MS (plus the jobs this node added
 *   since): the cluster may overshoot a limit by what all nodes add in
 *   that window.
 */
export class ClusterScheduler extends EventEmitter implements Scheduler {
  readonly #o: ClusterSchedulerOptions;
  readonly #limits: Record<PriorityClass, number>;
  readonly #nodeId = randomUUID();
  readonly #queues = new Map<string, Queue>();
  readonly #cmd: Redis;
  readonly #channel: CompletionChannel;
  readonly #workers: ClusterWorkers | undefined;
  readonly #jobs = new Map<string, LocalJob>();
  readonly #waiters = new LocalWaiters<LocalJob>((job) => this.#dropped(job));
  #clusterCounts: Record<PriorityClass, number>;
  #addedSinceCount: Record<PriorityClass, number>;
  #countsAt = -Infinity;
  #counting = false;
  /** Jobs added here whose add Redis has not acknowledged (it may be away). */
  #pendingAdds = 0;
  readonly #spaceWaiters = new Set<() => void>();
  readonly #background = new Set<Promise<unknown>>();
  readonly #zoomStats = new Map<number, { renders: number; tiles: number; totalMs: number; maxMs: number }>();
  readonly #mapStats = new Map<string, { renders: number; tiles: number }>();
  #renders = 0;
  #tilesRendered = 0;
  #closing = false;
  #closed: Promise<void> | undefined;
  #counters = { cached: 0, coalesced: 0, cancelled: 0, rejectedBusy: 0, failed: 0 };

  /**
   * Builds the engine (queues, events, workers connect in the background).
   * Call probe() first, so an unreachable Redis stops the daemon at once,
   * and ready() before taking requests.
   */
  static create(o: ClusterSchedulerOptions): ClusterScheduler {
    installClientFactory();
    return new ClusterScheduler(o);
  }

  /** Resolves when every queue, event reader and worker is connected; a QUEUE_UNAVAILABLE error otherwise. */
  async ready(): Promise<void> {
    try {
      await this.#ready();
    } catch (err) {
      throw new QueueUnavailableError(`the queue at ${this.#o.url.text} did not start: ${messageOf(err)}`, { cause: err });
    }
  }

  private constructor(o: ClusterSchedulerOptions) {
    super();
    this.#o = o;
    this.#limits = { ...DEFAULT_QUEUE_LIMITS, ...o.queueLimits };
    const zero = () => Object.fromEntries(PRIORITY_CLASSES.map((c) => [c, 0])) as Record<PriorityClass, number>;
    this.#clusterCounts = zero();
    this.#addedSinceCount = zero();
    const names = o.maps.map((m) => ({ name: queueNameOf(m), map: m }));
    for (const { name } of names) {
      const q = new Queue(name, { connection: connectionOf(o.url), prefix: o.prefix });
      q.on('error', (err) => o.log.debug({ queue: name, err: messageOf(err) }, 'queue: redis error (reconnecting)'));
      this.#queues.set(name, q);
    }
    this.#cmd = commandClient(o.url);
    let connectedOnce = false;
    let connected = false;
    this.#cmd.on('error', (err: Error) => o.log.debug({ err: err.message }, 'queue: redis error'));
    this.#cmd.on('close', () => {
      if (connected && !this.#closing) o.log.warn({ queue: o.url.text }, 'queue: lost the connection to redis; reconnecting (new jobs wait for it)');
      connected = false;
    });
    this.#cmd.on('ready', () => {
      connected = true;
      if (connectedOnce) {
        o.log.info({ queue: o.url.text }, 'queue: reconnected to redis; re-checking the jobs this node waits for');
        this.#track(this.#recheck());
      }
      connectedOnce = true;
    });
    this.#channel = new CompletionChannel({ url: o.url, prefix: o.prefix, queues: names.map((n) => n.name), log: o.log, onEvent: (e) => this.#onEvent(e) });
    if (o.slots > 0) {
      this.#workers = new ClusterWorkers({
        url: o.url,
        prefix: o.prefix,
        queues: names,
        renderer: o.renderer,
        sink: o.sink,
        slots: o.slots,
        stallMs: o.stallMs,
        mapCheck: o.mapCheck,
        log: o.log,
        // The next job of this metatile starts with a fresh set of wanting nodes.
        onDone: (queue, jobId) => this.#track(this.#cmd.del(wantsKeyOf(o.prefix, queue, jobId)).catch(() => undefined)),
      });
      this.#workers.on('rendered', (meta: MetaTile, ms: number, tiles: number) => {
        this.#record(meta, tiles, ms);
        this.emit('rendered', meta, ms);
      });
    }
  }

  async #ready(): Promise<void> {
    await Promise.all([...this.#queues.values()].map((q) => q.waitUntilReady()));
    await this.#channel.waitUntilReady();
    await this.#workers?.waitUntilReady();
    if (this.#cmd.status !== 'ready') await new Promise((resolve) => this.#cmd.once('ready', resolve));
  }

  get metatileSize(): number {
    return this.#o.mapCheck(undefined).metatile;
  }

  request(tile: TileCoord, req: TileRequest): Promise<TileOutcome> {
    try {
      if (this.#closing) throw new ShuttingDownError();
      req.signal?.throwIfAborted();
      if (!req.force && this.#o.sink.has(tile)) {
        this.#counters.cached++;
        return Promise.resolve({ tile, cached: true, coalesced: false });
      }
      return this.#enqueue(tile, req);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  isFull(cls: PriorityClass): boolean {
    return this.#waiters.queued(cls) >= this.#limits[cls] || this.#clusterQueued(cls) >= this.#limits[cls];
  }

  async waitForSpace(cls: PriorityClass, signal?: AbortSignal): Promise<void> {
    while (this.isFull(cls)) {
      signal?.throwIfAborted();
      if (this.#closing) throw new ShuttingDownError();
      // Woken when a local waiter leaves, or after the cluster counts are due again.
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.#spaceWaiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, QUEUE_COUNTS_CACHE_MS);
        this.#spaceWaiters.add(wake);
      });
    }
  }

  setViewport(clientId: string, viewport: Viewport | undefined): void {
    const touched = this.#waiters.setViewport(clientId, viewport);
    for (const job of touched) this.#rerank(job);
    if (touched.size > 0) this.#wakeSpaceWaiters();
  }

  viewportOf(clientId: string): Viewport | undefined {
    return this.#waiters.viewportOf(clientId);
  }

  /** Withdraws the tile's waiters from both jobs of its metatile (plain and forced). */
  cancel(tile: TileCoord, clientId?: string): number {
    const meta = metaTileOf(tile, this.#o.mapCheck(tile.map).metatile);
    let n = 0;
    for (const force of [false, true]) n += this.#waiters.cancel(this.#jobs.get(this.#keyOf(meta, force)), tile, clientId);
    return n;
  }

  forgetClient(clientId: string): void {
    this.#waiters.forgetClient(clientId);
  }

  async onIdle(): Promise<void> {
    while (this.#jobs.size > 0) await new Promise((resolve) => this.once('idle', resolve));
  }

  /** Drains this node only: its accepted work is answered (its worker keeps helping meanwhile), then the worker finishes its running jobs and everything closes. */
  async close(): Promise<void> {
    this.#closing = true;
    this.#wakeSpaceWaiters();
    await this.onIdle();
    await this.#shutdown();
  }

  /** Stops now: this node's queued requests fail SHUTTING_DOWN (and leave the shared queue); this node's running renders finish. */
  async destroy(): Promise<void> {
    this.#closing = true;
    this.#wakeSpaceWaiters();
    for (const job of [...this.#jobs.values()]) {
      for (const w of [...job.waiters]) this.#waiters.drop(w, new ShuttingDownError());
    }
    await this.#shutdown();
  }

  stats(): TileSchedulerStats {
    const rendered: TileSchedulerStats['rendered'] = {};
    for (const [z, s] of [...this.#zoomStats].sort((a, b) => a[0] - b[0])) {
      rendered[String(z)] = { renders: s.renders, tiles: s.tiles, meanMs: s.renders ? Math.round((s.totalMs / s.renders) * 10) / 10 : 0, maxMs: Math.round(s.maxMs * 10) / 10 };
    }
    let queuedJobs = 0;
    for (const j of this.#jobs.values()) if (j.state === 'queued') queuedJobs++;
    return {
      queued: this.#waiters.queuedByClass(),
      queuedJobs,
      running: this.#workers?.running ?? 0,
      rendered,
      ...this.#counters,
      failed: this.#counters.failed + (this.#workers?.failed ?? 0),
      ...(this.#mapStats.size > 0 ? { maps: Object.fromEntries([...this.#mapStats].map(([k, v]) => [k, { ...v }])) } : {}),
    };
  }

  clusterStats(): ClusterQueueStats {
    this.#clusterQueued('bulk'); // refreshes the counts when they are due
    return {
      url: this.#o.url.text,
      prefix: this.#o.prefix,
      queued: { ...this.#clusterCounts },
      renders: this.#renders,
      tiles: this.#tilesRendered,
      running: this.#workers?.running ?? 0,
      redis: this.#cmd.status,
    };
  }

  // --- requests ---

  #keyOf(meta: MetaTile, force: boolean): string {
    return `${queueNameOf(meta.map)}/${jobIdOf(meta, force)}`;
  }

  #enqueue(tile: TileCoord, req: TileRequest): Promise<TileOutcome> {
    const cls = this.#waiters.classOf(tile, req);
    const meta = metaTileOf(tile, this.#o.mapCheck(tile.map).metatile);
    const force = req.force === true;
    const key = this.#keyOf(meta, force);
    let job = this.#jobs.get(key);
    const coalesced = job !== undefined;
    const full = this.#waiters.queued(cls) >= this.#limits[cls] || (!job && this.#clusterQueued(cls) >= this.#limits[cls]);
    if (full && !(job && job.state === 'running')) {
      this.#counters.rejectedBusy++;
      throw new BusyError(`the ${cls} queue is full (${this.#limits[cls]} tiles)`);
    }
    if (!job && this.#pendingAdds >= MAX_QUEUE_PENDING_ADDS) {
      throw new QueueUnavailableError(`the queue at ${this.#o.url.text} does not answer and ${MAX_QUEUE_PENDING_ADDS} render jobs already wait for it`);
    }
    if (!job) {
      const queue = this.#queues.get(queueNameOf(meta.map));
      if (!queue) throw new ProcessingError(`no queue for map ${String(meta.map)}`);
      job = { key, queue, jobId: jobIdOf(meta, force), meta, force, cls, askedCls: undefined, state: 'queued', waiters: new Set() };
      this.#jobs.set(key, job);
      // Most jobs a node queues it renders itself: its geometry level is built while the job waits, not when it runs.
      if (this.#workers) this.#o.renderer.prepare?.(meta);
    } else {
      this.#counters.coalesced++;
    }
    const promise = this.#waiters.wait(job, tile, req, cls, coalesced);
    if (!coalesced) this.#add(job);
    else if (PRIORITY_VALUE[cls] > PRIORITY_VALUE[job.cls]) this.#rerank(job);
    return promise;
  }

  /** Puts a job on its queue (or joins the one there) and records this node among its wanting nodes. */
  #add(job: LocalJob): void {
    const cls = job.cls;
    job.askedCls = cls;
    this.#addedSinceCount[cls]++;
    this.#pendingAdds++;
    const wants = this.#wantsKey(job);
    const added = Promise.all([
      job.queue.add('render', jobDataOf(job.meta, job.force), { jobId: job.jobId, priority: JOB_PRIORITY[cls], removeOnComplete: true, removeOnFail: true }),
      this.#cmd.pipeline().sadd(wants, this.#nodeId).expire(wants, WANTS_TTL_S).exec(),
    ]).finally(() => this.#pendingAdds--).then(
      () => {
        // The job may have been there already, at a lower priority; raise it for foreground waiters (cheap enough there, and seeding needs none).
        if (this.#jobs.get(job.key) === job && (FOREGROUND.has(job.cls) || job.cls !== cls)) return this.#raise(job, true);
        return undefined;
      },
      (err: unknown) => {
        if (this.#jobs.get(job.key) !== job) return;
        this.#o.log.warn({ job: job.key, err: messageOf(err) }, 'queue: could not queue a render job');
        const error = new QueueUnavailableError(`could not queue metatile ${job.key}: ${messageOf(err)}`, { cause: err });
        this.#settle(job, (w) => w.reject(error));
      },
    );
    this.#track(added);
  }

  #wantsKey(job: LocalJob): string {
    return wantsKeyOf(this.#o.prefix, job.queue.name, job.jobId);
  }

  /** Asks Redis for the job's priority to be the local class, when that is higher than asked so far (or `check`: than what Redis has). */
  async #raise(job: LocalJob, check = false): Promise<void> {
    const target = JOB_PRIORITY[job.cls];
    if (!check && job.askedCls !== undefined && JOB_PRIORITY[job.askedCls] <= target) return;
    job.askedCls = job.cls;
    try {
      const remote = await job.queue.getJob(job.jobId);
      if (!remote || remote.priority <= target) return;
      await remote.changePriority({ priority: target });
    } catch (err) {
      // Already running or finished somewhere: nothing to raise.
      this.#o.log.debug({ job: job.key, err: messageOf(err) }, 'queue: could not raise a job');
    }
  }

  #rerank(job: LocalJob): void {
    if (job.state !== 'queued' || job.waiters.size === 0) return;
    const cls = this.#waiters.highestClass(job);
    job.cls = cls;
    if (job.askedCls !== undefined && PRIORITY_VALUE[cls] > PRIORITY_VALUE[job.askedCls]) this.#track(this.#raise(job));
  }

  /** A waiter left the job (LocalWaiters.drop): the node withdraws from the job when nobody here waits for it, else re-ranks it. */
  #dropped(job: LocalJob): void {
    this.#counters.cancelled++;
    if (job.waiters.size === 0) {
      this.#jobs.delete(job.key);
      this.#track(this.#withdraw(job));
    } else {
      this.#rerank(job);
    }
    this.#wakeSpaceWaiters();
    this.#maybeIdle();
  }

  /** This node wants the job no more; the last node out removes it if it still waits (a running job is locked: remove() leaves it). */
  async #withdraw(job: LocalJob): Promise<void> {
    try {
      const left = await this.#cmd.eval(WITHDRAW_LUA, 1, this.#wantsKey(job), this.#nodeId);
      if (left === 0 && job.state === 'queued') await job.queue.remove(job.jobId);
    } catch (err) {
      this.#o.log.debug({ job: job.key, err: messageOf(err) }, 'queue: could not withdraw from a job');
    }
  }

  #settle(job: LocalJob, fn: (w: Waiter<LocalJob>) => void): void {
    this.#waiters.settle(job, fn);
    if (this.#jobs.get(job.key) === job) this.#jobs.delete(job.key);
    this.#wakeSpaceWaiters();
    this.#maybeIdle();
  }

  // --- completions ---

  #onEvent(e: JobEvent): void {
    const job = this.#jobs.get(`${e.queue}/${e.jobId}`);
    if (!job) return;
    switch (e.kind) {
      case 'active':
        if (job.state === 'queued') {
          this.#waiters.start(job);
          this.#wakeSpaceWaiters();
        }
        return;
      case 'completed':
        this.#settle(job, (w) => w.resolve({ tile: w.tile, cached: false, coalesced: w.coalesced }));
        return;
      case 'failed': {
        this.#counters.failed++;
        const error = errorOfReason(e.reason);
        this.#settle(job, (w) => w.reject(error));
        return;
      }
      case 'removed':
        // Another node withdrew the last share it knew of while this node still wants it: queue it
        // again (also while this node drains: close() waits for these requests to be answered).
        if (job.waiters.size > 0) {
          this.#waiters.requeue(job);
          this.#add(job);
        }
        return;
    }
  }

  /** After a reconnect: events may have been missed; ask Redis about every job this node waits for. */
  async #recheck(): Promise<void> {
    for (const job of [...this.#jobs.values()]) {
      if (this.#jobs.get(job.key) !== job) continue;
      try {
        const state = await job.queue.getJobState(job.jobId);
        if (this.#jobs.get(job.key) !== job) continue;
        if (state === 'completed') {
          this.#onEvent({ kind: 'completed', queue: job.queue.name, jobId: job.jobId });
        } else if (state === 'failed') {
          const remote = await job.queue.getJob(job.jobId);
          this.#onEvent({ kind: 'failed', queue: job.queue.name, jobId: job.jobId, reason: remote?.failedReason ?? 'PROCESSING_ERROR: the render failed' });
        } else if (state === 'unknown') {
          // Gone: finished (completed jobs are removed) or lost with Redis's data.
          const done = !job.force && [...job.waiters].every((w) => this.#o.sink.has(w.tile));
          if (done) this.#onEvent({ kind: 'completed', queue: job.queue.name, jobId: job.jobId });
          else {
            this.#o.log.info({ job: job.key }, 'queue: a job this node waits for is gone from redis; queueing it again');
            this.#waiters.requeue(job);
            this.#add(job);
          }
        }
      } catch (err) {
        this.#o.log.debug({ job: job.key, err: messageOf(err) }, 'queue: re-check failed');
      }
    }
  }

  // --- counts, stats, lifecycle ---

  #clusterQueued(cls: PriorityClass): number {
    if (!this.#counting && performance.now() - this.#countsAt >= QUEUE_COUNTS_CACHE_MS && !this.#closed) {
      this.#counting = true;
      const since = { ...this.#addedSinceCount };
      const priorities = PRIORITY_CLASSES.map((c) => JOB_PRIORITY[c]);
      this.#track(
        Promise.all([...this.#queues.values()].map((q) => q.getCountsPerPriority(priorities)))
          .then((all) => {
            const counts = Object.fromEntries(PRIORITY_CLASSES.map((c) => [c, 0])) as Record<PriorityClass, number>;
            for (const per of all) for (const c of PRIORITY_CLASSES) counts[c] += Number(per[JOB_PRIORITY[c]] ?? 0);
            this.#clusterCounts = counts;
            // Jobs this node added while Redis counted may be counted twice until the next count: the slack errs towards busy.
            for (const c of PRIORITY_CLASSES) this.#addedSinceCount[c] -= since[c];
            this.#wakeSpaceWaiters();
          })
          .catch(() => undefined)
          .finally(() => {
            this.#countsAt = performance.now();
            this.#counting = false;
          }),
      );
    }
    return this.#clusterCounts[cls] + this.#addedSinceCount[cls];
  }

  #record(meta: MetaTile, tiles: number, ms: number): void {
    this.#renders++;
    this.#tilesRendered += tiles;
    if (meta.map !== undefined) {
      const m = this.#mapStats.get(meta.map) ?? { renders: 0, tiles: 0 };
      m.renders++;
      m.tiles += tiles;
      this.#mapStats.set(meta.map, m);
    }
    let s = this.#zoomStats.get(meta.z);
    if (!s) this.#zoomStats.set(meta.z, (s = { renders: 0, tiles: 0, totalMs: 0, maxMs: 0 }));
    s.renders++;
    s.tiles += tiles;
    s.totalMs += ms;
    s.maxMs = Math.max(s.maxMs, ms);
  }

  #track(p: Promise<unknown>): void {
    this.#background.add(p);
    void p.finally(() => this.#background.delete(p));
  }

  #wakeSpaceWaiters(): void {
    for (const wake of [...this.#spaceWaiters]) wake();
  }

  #maybeIdle(): void {
    if (this.#jobs.size === 0) queueMicrotask(() => this.#jobs.size === 0 && this.emit('idle'));
  }

  #shutdown(): Promise<void> {
    this.#closed ??= (async () => {
      await this.#workers?.close();
      // Jobs that were running here and finished are answered by their events; anything left is abandoned.
      for (const job of [...this.#jobs.values()]) this.#settle(job, (w) => w.reject(new ShuttingDownError()));
      await Promise.race([Promise.allSettled([...this.#background]), new Promise((r) => setTimeout(r, 2000).unref())]);
      await closeOrDrop(this.#channel);
      await Promise.all([...this.#queues.values()].map((q) => closeOrDrop(q)));
      this.#cmd.disconnect();
    })();
    return this.#closed;
  }
}

/** A job's failedReason (`CODE: message` from cluster-worker.ts, or BullMQ's own) as a coded error. */
function errorOfReason(reason: string): MosaicError {
  const m = /^([A-Z_]+): ([\s\S]*)$/.exec(reason);
  const codes = Object.values(ErrorCode) as string[];
  if (m && codes.includes(m[1]!)) return new MosaicError(m[1] as ErrorCode, m[2]!);
  return new ProcessingError(`render failed: ${reason.slice(0, 500)}`);
}
