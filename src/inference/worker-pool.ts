import type { Worker } from 'node:worker_threads';
import {
  CancelledError, MosaicError, ProcessingError, ShuttingDownError, TimeoutError, type ErrorCode,
} from '../errors.js';
import type { FromWorker, TestFault, ToWorker } from './messages.js';
import type { InferenceResult } from './types.js';

export interface PoolOptions {
  size: number;
  /**
   * Requests a worker holds at once. More than one lets a worker overlap one
   * request's decode with another's model runs and batch their recognition
   * crops together.
   */
  jobsPerWorker: number;
  /** Per request, from the moment it reaches a worker. */
  timeoutMs: number;
  spawn: () => Worker;
  /** batch / ready / preload-failed messages, and worker restarts. */
  onEvent?: (event: FromWorker | { type: 'restart'; reason: string }) => void;
}

interface Job {
  id: number;
  model: string;
  image: Uint8Array;
  resolve: (r: InferenceResult[]) => void;
  reject: (e: unknown) => void;
  settled: boolean;
  attempts: number;
  slot?: Slot;
  timer?: NodeJS.Timeout;
  cleanup?: () => void;
  /** TEST ONLY: sent as a test-fault job instead of a run. */
  fault?: TestFault;
}

interface Slot {
  worker: Worker;
  jobs: Map<number, Job>;
  ready: boolean;
  dead: boolean;
}

/**
 * A fixed number of worker threads, each holding up to `jobsPerWorker`
 * requests. A request that runs past `timeoutMs` fails with TIMEOUT and its
 * worker is terminated and replaced (ORT cannot abort a run from Node);
 * the other requests that worker held are not at fault and are queued again
 * once. A worker that crashes fails the requests it held and is replaced,
 * with a growing delay if it keeps crashing.
 */
export class WorkerPool {
  private readonly slots: (Slot | undefined)[];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closing: Promise<void> | undefined;
  private idle: (() => void) | undefined;
  private readonly respawnTimers = new Set<NodeJS.Timeout>();
  private crashStreak = 0;
  readonly counters = { restarts: 0, timeouts: 0, crashes: 0 };

  constructor(private readonly opts: PoolOptions) {
    this.slots = Array.from({ length: opts.size }, () => undefined);
    for (let i = 0; i < opts.size; i++) this.spawn(i);
  }

  run(model: string, image: Uint8Array, signal?: AbortSignal): Promise<InferenceResult[]> {
    if (this.closing) return Promise.reject(new ShuttingDownError());
    if (signal?.aborted) return Promise.reject(new CancelledError());
    return new Promise((resolve, reject) => {
      const job: Job = { id: this.nextId++, model, image, resolve, reject, settled: false, attempts: 0 };
      if (signal) {
        const onAbort = () => this.settle(job, new CancelledError());
        signal.addEventListener('abort', onAbort, { once: true });
        job.cleanup = () => signal.removeEventListener('abort', onAbort);
      }
      this.queue.push(job);
      this.dispatch();
    });
  }

  /**
   * @internal TEST ONLY: a job that makes the worker taking it misbehave
   * (see TestFault), settled like a request: PROCESSING_ERROR, or TIMEOUT
   * and a replaced worker for 'hang'.
   */
  injectFaultForTest(fault: TestFault): Promise<void> {
    if (this.closing) return Promise.reject(new ShuttingDownError());
    return new Promise<InferenceResult[]>((resolve, reject) => {
      const job: Job = { id: this.nextId++, model: `test-fault:${fault}`, image: new Uint8Array(0), resolve, reject, settled: false, attempts: 0, fault };
      this.queue.push(job);
      this.dispatch();
    }).then(() => undefined);
  }

  ready(): boolean {
    return !this.closing && this.slots.every((s) => s?.ready === true);
  }

  stats(): Record<string, number> {
    let running = 0;
    for (const s of this.slots) running += s?.jobs.size ?? 0;
    return { workers: this.slots.filter((s) => s && !s.dead).length, queued: this.queue.length, running, ...this.counters };
  }

  /** Refuses new work, fails queued requests with SHUTTING_DOWN, waits for running ones, stops the workers. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const job of this.queue.splice(0)) this.settle(job, new ShuttingDownError());
      for (const t of this.respawnTimers) clearTimeout(t);
      if (this.running() > 0) await new Promise<void>((r) => (this.idle = r));
      await Promise.all(this.slots.map((s) => (s && !s.dead ? ((s.dead = true), s.worker.terminate()) : undefined)));
    })();
    return this.closing;
  }

  private running(): number {
    return this.slots.reduce((n, s) => n + (s?.jobs.size ?? 0), 0);
  }

  private spawn(index: number): void {
    const worker = this.opts.spawn();
    const slot: Slot = { worker, jobs: new Map(), ready: false, dead: false };
    this.slots[index] = slot;
    worker.on('message', (msg: FromWorker) => this.onMessage(slot, msg));
    worker.on('error', (err) => this.lost(index, slot, `it threw ${err.message}`));
    worker.on('messageerror', (err) => this.lost(index, slot, `a message could not be read: ${err.message}`));
    worker.on('exit', (code) => this.lost(index, slot, `it exited with code ${code}`));
  }

  private onMessage(slot: Slot, msg: FromWorker): void {
    if (msg.type === 'done' || msg.type === 'fail') {
      const job = slot.jobs.get(msg.id);
      if (!job) return;
      slot.jobs.delete(msg.id);
      clearTimeout(job.timer);
      this.crashStreak = 0;
      if (msg.type === 'done') this.settle(job, undefined, msg.results);
      else this.settle(job, new MosaicError(msg.error.code as ErrorCode, msg.error.message));
      this.afterJob();
      return;
    }
    if (msg.type === 'ready') slot.ready = true;
    this.opts.onEvent?.(msg);
  }

  private settle(job: Job, err: unknown, results?: InferenceResult[]): void {
    const queued = this.queue.indexOf(job);
    if (queued >= 0) this.queue.splice(queued, 1);
    if (job.settled) return;
    job.settled = true;
    job.cleanup?.();
    if (err === undefined) job.resolve(results ?? []);
    else job.reject(err);
  }

  private afterJob(): void {
    if (this.closing && this.idle && this.running() === 0) this.idle();
    this.dispatch();
  }

  private dispatch(): void {
    while (this.queue.length > 0 && !this.closing) {
      let best: Slot | undefined;
      for (const s of this.slots) {
        if (s && !s.dead && s.jobs.size < this.opts.jobsPerWorker && (!best || s.jobs.size < best.jobs.size)) best = s;
      }
      if (!best) return;
      const job = this.queue.shift()!;
      if (job.settled) continue;
      job.slot = best;
      job.attempts++;
      best.jobs.set(job.id, job);
      job.timer = setTimeout(() => this.timedOut(job), this.opts.timeoutMs);
      // Cloned, not transferred: the caller's buffer stays intact and we keep it to
      // re-queue the request if a neighbour's timeout takes the worker down.
      if (job.fault !== undefined) best.worker.postMessage({ type: 'test-fault', id: job.id, fault: job.fault } satisfies ToWorker);
      else best.worker.postMessage({ type: 'run', id: job.id, model: job.model, image: job.image } satisfies ToWorker);
    }
  }

  private timedOut(job: Job): void {
    const slot = job.slot;
    this.counters.timeouts++;
    this.settle(job, new TimeoutError(`inference on model "${job.model}" ran longer than ${this.opts.timeoutMs} ms; its worker was replaced`));
    if (!slot || slot.dead) return;
    slot.jobs.delete(job.id);
    const index = this.slots.indexOf(slot);
    slot.dead = true;
    void slot.worker.terminate();
    // The other requests on that worker did nothing wrong: queue them again, once.
    const others = [...slot.jobs.values()];
    slot.jobs.clear();
    for (const other of others.reverse()) {
      clearTimeout(other.timer);
      if (other.settled) continue;
      if (this.closing) this.settle(other, new ShuttingDownError('the daemon is stopping and the worker running this request was replaced'));
      else if (other.attempts >= 2) this.settle(other, new ProcessingError('the inference worker running this request was replaced twice'));
      else this.queue.unshift(other);
    }
    this.replace(index, 'a request timed out', 0);
    this.afterJob();
  }

  private lost(index: number, slot: Slot, reason: string): void {
    if (slot.dead) return;
    slot.dead = true;
    this.counters.crashes++;
    this.crashStreak++;
    for (const job of slot.jobs.values()) {
      clearTimeout(job.timer);
      this.settle(job, new ProcessingError(`the inference worker crashed (${reason}); this request was lost`));
    }
    slot.jobs.clear();
    // Back off while workers keep dying without finishing anything (a broken install, say).
    const delay = this.crashStreak <= 1 ? 0 : Math.min(30_000, 250 * 2 ** (this.crashStreak - 2));
    this.replace(index, `the worker crashed: ${reason}`, delay);
    this.afterJob();
  }

  private replace(index: number, reason: string, delayMs: number): void {
    if (this.closing) return;
    this.counters.restarts++;
    this.opts.onEvent?.({ type: 'restart', reason });
    const t = setTimeout(() => {
      this.respawnTimers.delete(t);
      if (this.closing) return;
      this.spawn(index);
      this.dispatch();
    }, delayMs);
    this.respawnTimers.add(t);
  }
}
