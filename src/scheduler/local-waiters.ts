import { CancelledError } from '../errors.js';
import type { TileCoord } from '../tile/tile-coord.js';
import { PRIORITY_CLASSES, higher, type PriorityClass } from './priority.js';
import { RequesterSignals } from './requester-signals.js';
import type { TileOutcome, TileRequest } from './tile-scheduler.js';
import { inViewport, nearViewport, type Viewport } from './viewport.js';

/** One requester on this node waiting for a tile of a job. */
export interface Waiter<J> {
  readonly tile: TileCoord;
  /** The class the request came with; the viewport can raise or lower `cls` from it. */
  readonly baseCls: PriorityClass;
  cls: PriorityClass;
  readonly clientId: string | undefined;
  readonly coalesced: boolean;
  readonly resolve: (o: TileOutcome) => void;
  readonly reject: (e: Error) => void;
  readonly job: J;
  detach?: () => void;
}

/**
 * The part of an engine's job that the waiters live in. While `queued`, its
 * waiters count towards their class's limit and a viewport change, cancel or
 * disconnect can still move or drop them; once `running`, they wait for the
 * render to finish.
 */
export interface WaitedJob<J> {
  state: 'queued' | 'running';
  readonly waiters: Set<Waiter<J>>;
}

/**
 * The requesters on this node waiting for tiles, shared by both scheduler
 * engines: their clients' viewports, the class each waiter has now, the
 * queued waiters per class (for limits, `busy` and stats), and the links
 * from a client and from a requester's signal to its waiters.
 *
 * The engine owns its jobs and what happens to one when a waiter leaves it
 * (`onDropped`: re-rank it, or withdraw it once nobody waits).
 */
export class LocalWaiters<J extends WaitedJob<J>> {
  readonly #byClient = new Map<string, Set<Waiter<J>>>();
  readonly #viewports = new Map<string, Viewport>();
  readonly #queued = Object.fromEntries(PRIORITY_CLASSES.map((c) => [c, 0])) as Record<PriorityClass, number>;
  readonly #onDropped: (job: J, error: Error) => void;
  readonly #signals = new RequesterSignals<Waiter<J>>((w) => {
    if (w.job.state === 'queued') this.drop(w, new CancelledError('the requester went away'));
  });

  /** `onDropped` runs after a waiter left `job` by drop(), with the error it was rejected with (the job may have no waiter left). */
  constructor(onDropped: (job: J, error: Error) => void) {
    this.#onDropped = onDropped;
  }

  /** Queued waiters of this class. */
  queued(cls: PriorityClass): number {
    return this.#queued[cls];
  }

  /** Queued waiters per class (a copy). */
  queuedByClass(): Record<PriorityClass, number> {
    return { ...this.#queued };
  }

  viewportOf(clientId: string): Viewport | undefined {
    return this.#viewports.get(clientId);
  }

  /** The class a new request starts at: visible when its client shows the tile, else the class it came with. */
  classOf(tile: TileCoord, req: TileRequest): PriorityClass {
    const viewport = req.clientId === undefined ? undefined : this.#viewports.get(req.clientId);
    return viewport && inViewport(tile, viewport) ? 'visible' : req.cls;
  }

  /** Adds a waiter for `tile` to `job`; the promise settles when the job does, or when the waiter is dropped. */
  wait(job: J, tile: TileCoord, req: TileRequest, cls: PriorityClass, coalesced: boolean): Promise<TileOutcome> {
    return new Promise<TileOutcome>((resolve, reject) => {
      const w: Waiter<J> = { tile, baseCls: req.cls, cls, clientId: req.clientId, coalesced, resolve, reject, job };
      job.waiters.add(w);
      if (job.state === 'queued') this.#queued[cls]++;
      if (req.clientId !== undefined) {
        let set = this.#byClient.get(req.clientId);
        if (!set) this.#byClient.set(req.clientId, (set = new Set()));
        set.add(w);
      }
      if (req.signal) w.detach = this.#signals.watch(req.signal, w);
    });
  }

  /** The highest class among a job's waiters (bulk when it has none). */
  highestClass(job: J): PriorityClass {
    let cls: PriorityClass = 'bulk';
    for (const w of job.waiters) cls = higher(cls, w.cls);
    return cls;
  }

  /**
   * Records what a client now shows and re-classes its queued waiters:
   * inside the view → visible; one that was visible or prefetch and left it
   * → prefetch when near, else bulk; dirty and bulk work keeps its class; no
   * viewport → the class each came with. Returns the jobs whose waiters
   * changed class (for the engine to re-rank).
   */
  setViewport(clientId: string, viewport: Viewport | undefined): Set<J> {
    if (viewport === undefined) this.#viewports.delete(clientId);
    else this.#viewports.set(clientId, viewport);
    const touched = new Set<J>();
    for (const w of this.#byClient.get(clientId) ?? []) {
      if (w.job.state !== 'queued') continue;
      const next = classFor(w.tile, w.baseCls, viewport, w.cls);
      if (next !== w.cls) {
        this.#queued[w.cls]--;
        this.#queued[next]++;
        w.cls = next;
        touched.add(w.job);
      }
    }
    return touched;
  }

  /** Drops the waiters of a queued job for this tile (of this client, if given) with CANCELLED; returns how many. */
  cancel(job: J | undefined, tile: TileCoord, clientId?: string): number {
    if (!job || job.state !== 'queued') return 0;
    let n = 0;
    for (const w of [...job.waiters]) {
      if (w.tile.x === tile.x && w.tile.y === tile.y && (clientId === undefined || w.clientId === clientId)) {
        this.drop(w, new CancelledError(`tile ${tile.z}_${tile.x}_${tile.y} was cancelled`));
        n++;
      }
    }
    return n;
  }

  /** Forgets a client's viewport and drops its queued waiters with CANCELLED; those of running jobs still get their tile. */
  forgetClient(clientId: string): void {
    this.#viewports.delete(clientId);
    for (const w of [...(this.#byClient.get(clientId) ?? [])]) {
      if (w.job.state === 'queued') this.drop(w, new CancelledError(`client ${clientId} went away`));
    }
  }

  /** Removes a waiter from its job and rejects it with `error`, then tells the engine (onDropped). */
  drop(w: Waiter<J>, error: Error): void {
    const job = w.job;
    if (!job.waiters.delete(w)) return;
    if (job.state === 'queued') this.#queued[w.cls]--;
    this.#unlink(w);
    w.reject(error);
    this.#onDropped(job, error);
  }

  /** Settles every waiter of a job with `fn` and empties it. */
  settle(job: J, fn: (w: Waiter<J>) => void): void {
    for (const w of job.waiters) {
      if (job.state === 'queued') this.#queued[w.cls]--;
      this.#unlink(w);
      fn(w);
    }
    job.waiters.clear();
  }

  /** The job left the queue (it renders): its waiters no longer count towards the class limits. */
  start(job: J): void {
    if (job.state !== 'queued') return;
    job.state = 'running';
    for (const w of job.waiters) this.#queued[w.cls]--;
  }

  /** The job is queued again (the cluster lost or removed it): its waiters count again. */
  requeue(job: J): void {
    if (job.state === 'queued') return;
    job.state = 'queued';
    for (const w of job.waiters) this.#queued[w.cls]++;
  }

  #unlink(w: Waiter<J>): void {
    w.detach?.();
    if (w.clientId === undefined) return;
    const set = this.#byClient.get(w.clientId);
    set?.delete(w);
    if (set?.size === 0) this.#byClient.delete(w.clientId);
  }
}

function classFor(tile: TileCoord, base: PriorityClass, viewport: Viewport | undefined, current: PriorityClass): PriorityClass {
  if (viewport === undefined) return base;
  if (inViewport(tile, viewport)) return 'visible';
  // Only what the client asked for interactively moves down when it leaves the view;
  // dirty and bulk work keeps its class.
  if (base === 'dirty' || base === 'bulk') return base;
  // An interactive request never seen in the view keeps its class. Any other class here
  // (bulk included: it left the view far away) means it left the view.
  if (current === 'visible' || base === 'prefetch' || current === 'prefetch' || current === 'bulk') {
    return nearViewport(tile, viewport) ? 'prefetch' : 'bulk';
  }
  return base;
}
