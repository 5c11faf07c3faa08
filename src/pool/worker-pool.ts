/**
 * One pool of workers for rendering and inference: N slots, each holding a
 * worker (a thread or a child process, whatever `spawn` returns) that takes
 * up to `jobsPerWorker` jobs; a FIFO beyond them.
 *
 * - A job is timed from the moment a worker takes it. Past `timeoutMs` it
 *   fails with TIMEOUT and its worker is killed (nothing else can stop
 *   native code) and replaced; the worker's other jobs did nothing wrong and
 *   go back to the front of the queue.
 * - A worker that dies (exit, SIGSEGV, abort, OOM kill) fails nothing at
 *   once: each of its jobs is retried once on another worker, then fails
 *   with PROCESSING_ERROR. Deaths in a row without a job completed are
 *   replaced after a doubling delay (bounded), so a worker that cannot
 *   start does not spin; while no worker has started at all, queued jobs
 *   fail rather than wait for ever.
 * - A worker is recycled (replaced once its jobs are done) after
 *   `recycleAfterJobs` jobs or when it reports more than `recycleRssBytes`
 *   resident (child processes report it; a thread shares the daemon's).
 * - close() drains: queued jobs fail SHUTTING_DOWN, running ones finish.
 */
import {
  CancelledError, MosaicError, ProcessingError, ShuttingDownError, TimeoutError,
} from '../errors.js';
import { MAX_RESTART_BACKOFF_MS, RESTART_BACKOFF_MS } from '../limits.js';
import type { FromPoolWorker } from './protocol.js';
import type { PoolWorkerHandle, SpawnWorker } from './worker-handle.js';

/** How long close() waits for a worker to go after SIGTERM before SIGKILL, ms. */
const CLOSE_GRACE_MS = 5000;

export interface WorkerPoolOptions<Init, Job, Result, Event> {
  /** Names the workers in messages: "render", "inference". */
  readonly name: string;
  readonly size: number;
  /** Jobs one worker holds at once (default 1). */
  readonly jobsPerWorker?: number;
  /** Per job, from the moment a worker takes it. */
  readonly timeoutMs: number;
  readonly spawn: SpawnWorker<Init, Job, Result, Event>;
  /** Replace a worker after this many jobs (0 = never). */
  readonly recycleAfterJobs?: number;
  /** Replace a worker that reports more resident memory than this, bytes (0 = never). */
  readonly recycleRssBytes?: number;
  /** First delay before replacing a worker that died again without completing a job, ms; doubles. */
  readonly restartBackoffMs?: number;
  readonly maxRestartBackoffMs?: number;
  /** An abort reaches a running job too: it settles CANCELLED at once and its answer is dropped (default: only queued jobs). */
  readonly abortRunning?: boolean;
  /** Tries per job when its worker dies (default 2: retried once). */
  readonly attempts?: number;
  readonly onEvent?: (event: Event) => void;
  /** A worker said `ready`. */
  readonly onReady?: () => void;
  /** The error message of a job that failed in its worker (default: "<label> failed in the <name> worker: <message>"). */
  readonly failureMessage?: (label: string, message: string) => string;
  /** The error message of a job past its deadline (default: "<label> took longer than N ms; its <name> worker was replaced"). */
  readonly timeoutMessage?: (label: string, timeoutMs: number) => string;
  /** A worker was replaced or recycled. */
  readonly onRestart?: (reason: string) => void;
}

export interface RunOptions {
  readonly signal?: AbortSignal | undefined;
  /** Names the job in error messages, e.g. "metatile 3/0/0/8". */
  readonly label?: string;
}

export interface PoolStats {
  /** Live workers. */
  workers: number;
  /** Workers holding at least one job. */
  busy: number;
  running: number;
  queued: number;
  /** Workers replaced after a crash or a timeout. */
  replaced: number;
  crashes: number;
  timeouts: number;
  /** Jobs run again because their worker died. */
  retried: number;
  /** Workers replaced after recycleAfterJobs jobs or recycleRssBytes. */
  recycled: number;
  /** OS process ids of the workers (child processes only). */
  pids: number[];
  /** Those of them running a job. */
  busyPids: number[];
}

interface PendingJob<Job, Result> {
  readonly id: number;
  readonly job: Job;
  readonly label: string;
  readonly resolve: (r: Result) => void;
  readonly reject: (e: MosaicError) => void;
  settled: boolean;
  attempts: number;
  worker: Worker<Job, Result> | null;
  timer: NodeJS.Timeout | null;
  detach: () => void;
}

interface Worker<Job, Result> {
  readonly handle: PoolWorkerHandle<unknown, Job, Result, unknown>;
  readonly jobs: Map<number, PendingJob<Job, Result>>;
  ready: boolean;
  /** Dead, killed or being recycled: takes no new job, its late events are ignored once dead. */
  retiring: boolean;
  dead: boolean;
  done: number;
  readonly exited: Promise<void>;
  markExited: () => void;
}

export class WorkerPool<Init, Job, Result, Event = never> {
  readonly size: number;
  private readonly jobsPerWorker: number;
  private readonly slots: (Worker<Job, Result> | null)[];
  /** Workers being recycled: out of their slot, finishing their jobs. */
  private readonly leaving = new Set<Worker<Job, Result>>();
  private readonly queue: PendingJob<Job, Result>[] = [];
  private readonly respawnTimers = new Set<NodeJS.Timeout>();
  private nextId = 1;
  private deathStreak = 0;
  private closing: Promise<void> | null = null;
  private idleWaiters: (() => void)[] = [];
  private readonly counters = { replaced: 0, crashes: 0, timeouts: 0, retried: 0, recycled: 0 };

  constructor(private readonly o: WorkerPoolOptions<Init, Job, Result, Event>) {
    this.size = Math.max(1, Math.floor(o.size));
    this.jobsPerWorker = Math.max(1, Math.floor(o.jobsPerWorker ?? 1));
    this.slots = Array.from({ length: this.size }, () => null);
    for (let i = 0; i < this.size; i++) this.start(i);
  }

  /**
   * Runs one job. Rejects with TIMEOUT past the deadline, PROCESSING_ERROR
   * when the job failed in the worker (the worker's own code) or its worker
   * died twice, CANCELLED on abort, SHUTTING_DOWN after close().
   */
  run(job: Job, options: RunOptions = {}): Promise<Result> {
    if (this.closing !== null) return Promise.reject(new ShuttingDownError());
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(new CancelledError());
    return new Promise<Result>((resolve, reject) => {
      const id = this.nextId++;
      const p: PendingJob<Job, Result> = {
        id, job, label: options.label ?? `${this.o.name} job ${id}`,
        resolve, reject, settled: false, attempts: 0, worker: null, timer: null, detach: () => {},
      };
      if (signal !== undefined) {
        const onAbort = (): void => {
          if (p.worker !== null && !this.o.abortRunning) return; // running: it finishes
          this.settle(p, new CancelledError());
        };
        signal.addEventListener('abort', onAbort, { once: true });
        p.detach = () => signal.removeEventListener('abort', onAbort);
      }
      this.queue.push(p);
      this.dispatch();
    });
  }

  /** True once every slot holds a worker that said `ready`. */
  ready(): boolean {
    return this.closing === null && this.slots.every((w) => w !== null && w.ready && !w.dead);
  }

  stats(): PoolStats {
    const live = [...this.slots, ...this.leaving].filter((w): w is Worker<Job, Result> => w !== null && !w.dead);
    let running = 0;
    for (const w of live) running += w.jobs.size;
    return {
      workers: live.length,
      busy: live.filter((w) => w.jobs.size > 0).length,
      running,
      queued: this.queue.length,
      ...this.counters,
      pids: live.map((w) => w.handle.pid).filter((pid): pid is number => pid !== undefined),
      busyPids: live.filter((w) => w.jobs.size > 0).map((w) => w.handle.pid).filter((pid): pid is number => pid !== undefined),
    };
  }

  /** Fails queued jobs with SHUTTING_DOWN, waits for running ones, ends the workers. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const p of this.queue.splice(0)) this.settle(p, new ShuttingDownError());
      for (const t of this.respawnTimers) clearTimeout(t);
      this.respawnTimers.clear();
      while (this.running() > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
      const workers = [...this.slots, ...this.leaving].filter((w): w is Worker<Job, Result> => w !== null);
      await Promise.all(workers.map(async (w) => {
        this.kill(w, 'SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), CLOSE_GRACE_MS)));
        if ((await Promise.race([w.exited, late])) === 'late') this.kill(w, 'SIGKILL');
        clearTimeout(timer);
      }));
    })();
    return this.closing;
  }

  private running(): number {
    let n = 0;
    for (const w of [...this.slots, ...this.leaving]) if (w !== null && !w.dead) n += w.jobs.size;
    return n;
  }

  private start(index: number): void {
    let handle: PoolWorkerHandle<Init, Job, Result, Event>;
    try {
      handle = this.o.spawn();
    } catch (err) {
      this.slots[index] = null;
      this.died(index, null, `it could not be started: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    let markExited!: () => void;
    const exited = new Promise<void>((resolve) => (markExited = resolve));
    const w: Worker<Job, Result> = {
      handle: handle as unknown as PoolWorkerHandle<unknown, Job, Result, unknown>,
      jobs: new Map(), ready: false, retiring: false, dead: false, done: 0, exited, markExited,
    };
    this.slots[index] = w;
    handle.listen({
      message: (msg) => this.onMessage(w, msg),
      exit: (reason) => this.onExit(w, reason),
    });
  }

  private onMessage(w: Worker<Job, Result>, msg: FromPoolWorker<Result, Event>): void {
    if (w.dead) return;
    switch (msg.type) {
      case 'ready':
        w.ready = true;
        this.o.onReady?.();
        this.dispatch();
        return;
      case 'event':
        this.o.onEvent?.(msg.event);
        return;
      case 'done':
      case 'failed': {
        const p = w.jobs.get(msg.id);
        if (p === undefined) return;
        w.jobs.delete(msg.id);
        this.clearTimer(p);
        p.worker = null;
        w.done++;
        this.deathStreak = 0;
        if (msg.type === 'done') this.settle(p, null, msg.result);
        else {
          const message = this.o.failureMessage?.(p.label, msg.error.message) ?? `${p.label} failed in the ${this.o.name} worker: ${msg.error.message}`;
          this.settle(p, new MosaicError(msg.error.code, message));
        }
        this.maybeRecycle(w, msg.rss);
        this.afterJob();
      }
    }
  }

  private onExit(w: Worker<Job, Result>, reason: string): void {
    w.markExited();
    if (w.dead) return;
    const expected = w.retiring;
    w.dead = true;
    this.leaving.delete(w);
    const jobs = [...w.jobs.values()];
    w.jobs.clear();
    const index = this.slots.indexOf(w);
    if (!expected) {
      this.counters.crashes++;
      const why = `the ${this.o.name} worker${w.handle.pid !== undefined ? ` (pid ${w.handle.pid})` : ''} died: ${reason}`;
      this.requeue(jobs, why);
      if (index >= 0) this.died(index, w, why);
    } else {
      // Killed on purpose (timeout, recycling): its remaining jobs are not at fault.
      this.requeue(jobs, `the ${this.o.name} worker was replaced`);
    }
    this.afterJob();
  }

  /** A slot's worker died unexpectedly (or could not be spawned): replace it, later if deaths keep coming. */
  private died(index: number, w: Worker<Job, Result> | null, why: string): void {
    this.slots[index] = null;
    this.deathStreak++;
    if ((w === null || !w.ready) && !this.slots.some((s) => s !== null && s.ready)) {
      // Nothing could start (a broken install, a missing module): jobs would wait for ever.
      for (const p of this.queue.splice(0)) this.settle(p, new ProcessingError(`no ${this.o.name} worker could start: ${why}`));
    }
    const base = this.o.restartBackoffMs ?? RESTART_BACKOFF_MS;
    const max = this.o.maxRestartBackoffMs ?? MAX_RESTART_BACKOFF_MS;
    const delay = this.deathStreak <= 1 ? 0 : Math.min(max, base * 2 ** (this.deathStreak - 2));
    this.replace(index, why, delay);
  }

  /** Jobs of a lost worker: back to the front of the queue, unless they have had their tries. */
  private requeue(jobs: PendingJob<Job, Result>[], why: string): void {
    const limit = this.o.attempts ?? 2;
    for (const p of jobs.reverse()) {
      this.clearTimer(p);
      p.worker = null;
      if (p.settled) continue;
      if (this.closing !== null) this.settle(p, new ShuttingDownError(`${p.label}: ${why} while the daemon was stopping`));
      else if (p.attempts >= limit) this.settle(p, new ProcessingError(`${p.label} failed: ${why}${limit > 1 ? ` (tried ${p.attempts} times)` : ''}`));
      else {
        this.counters.retried++;
        this.queue.unshift(p);
      }
    }
  }

  private replace(index: number, reason: string, delayMs: number): void {
    if (this.closing !== null) return;
    this.counters.replaced++;
    this.o.onRestart?.(reason);
    const go = (): void => {
      if (this.closing !== null || this.slots[index] !== null) return;
      this.start(index);
      this.dispatch();
    };
    if (delayMs === 0) {
      go();
      return;
    }
    const t = setTimeout(() => {
      this.respawnTimers.delete(t);
      go();
    }, delayMs);
    t.unref();
    this.respawnTimers.add(t);
  }

  private maybeRecycle(w: Worker<Job, Result>, rss: number | undefined): void {
    if (w.retiring || this.closing !== null) return;
    const jobs = this.o.recycleAfterJobs ?? 0;
    const bytes = this.o.recycleRssBytes ?? 0;
    const byJobs = jobs > 0 && w.done >= jobs;
    const byRss = bytes > 0 && rss !== undefined && rss > bytes;
    if (!byJobs && !byRss) return;
    const index = this.slots.indexOf(w);
    if (index < 0) return;
    w.retiring = true;
    this.counters.recycled++;
    this.o.onRestart?.(byJobs ? `recycled after ${w.done} jobs` : `recycled at ${Math.round(rss! / 1048576)} MB resident`);
    this.slots[index] = null;
    this.leaving.add(w);
    this.start(index);
    if (w.jobs.size === 0) this.kill(w, 'SIGTERM');
  }

  private dispatch(): void {
    while (this.queue.length > 0 && this.closing === null) {
      let best: Worker<Job, Result> | null = null;
      for (const w of this.slots) {
        if (w === null || !w.ready || w.retiring || w.dead || w.jobs.size >= this.jobsPerWorker) continue;
        if (best === null || w.jobs.size < best.jobs.size) best = w;
      }
      if (best === null) return;
      const p = this.queue.shift()!;
      if (p.settled) continue;
      if (!this.o.abortRunning) p.detach();
      p.attempts++;
      p.worker = best;
      best.jobs.set(p.id, p);
      p.timer = setTimeout(() => this.timedOut(p), this.o.timeoutMs);
      // Cloned, never transferred: a job must survive its worker to be retried.
      best.handle.send({ type: 'job', id: p.id, job: p.job });
    }
  }

  private timedOut(p: PendingJob<Job, Result>): void {
    const w = p.worker;
    p.timer = null;
    if (w === null || w.dead) return;
    this.counters.timeouts++;
    w.jobs.delete(p.id);
    p.worker = null;
    const message = this.o.timeoutMessage?.(p.label, this.o.timeoutMs) ?? `${p.label} took longer than ${this.o.timeoutMs} ms; its ${this.o.name} worker was replaced`;
    this.settle(p, new TimeoutError(message));
    const index = this.slots.indexOf(w);
    this.kill(w, 'SIGKILL');
    const others = [...w.jobs.values()];
    w.jobs.clear();
    w.dead = true;
    this.leaving.delete(w);
    this.requeue(others, `the ${this.o.name} worker running it was replaced after another job's timeout`);
    if (index >= 0) {
      this.slots[index] = null;
      this.replace(index, `${p.label} timed out`, 0);
    }
    this.afterJob();
  }

  private kill(w: Worker<Job, Result>, signal: NodeJS.Signals): void {
    w.retiring = true;
    try {
      w.handle.kill(signal);
    } catch {
      // already gone
    }
  }

  private clearTimer(p: PendingJob<Job, Result>): void {
    if (p.timer !== null) clearTimeout(p.timer);
    p.timer = null;
  }

  private settle(p: PendingJob<Job, Result>, err: MosaicError | null, result?: Result): void {
    const queued = this.queue.indexOf(p);
    if (queued >= 0) this.queue.splice(queued, 1);
    if (p.settled) return;
    p.settled = true;
    p.detach();
    if (err === null) p.resolve(result as Result);
    else p.reject(err);
  }

  private afterJob(): void {
    for (const w of this.leaving) if (w.jobs.size === 0 && !w.dead) this.kill(w, 'SIGTERM');
    this.dispatch();
    if (this.running() === 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }
}
