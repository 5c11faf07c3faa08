/**
 * The worker side of the pool's envelope, for thread and process workers
 * alike: reads `init`, answers each job with `done` or `failed` (errors as
 * data), says `ready` once the handler exists.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { codeOf, messageOf } from '../errors.js';
import type { FromPoolWorker, ToPoolWorker } from './protocol.js';

export interface JobHandler<Job, Result> {
  run(job: Job): Promise<Result>;
  /** Buffers to transfer with a thread's answer instead of copying them. */
  transfer?(result: Result): ArrayBuffer[];
  /** After an answer is sent (e.g. a scavenge of the job's garbage). */
  after?(): void;
}

export interface WorkerContext<Event> {
  /** Tells the pool's owner something that is not a job's answer. */
  emit(event: Event): void;
  /** True in a child process, false in a thread. */
  readonly isProcess: boolean;
}

/** Runs the worker loop; `setup` gets the init data and returns the job handler. */
export function serve<Init, Job, Result, Event = never>(
  setup: (init: Init, ctx: WorkerContext<Event>) => JobHandler<Job, Result> | Promise<JobHandler<Job, Result>>,
): void {
  const port = parentPort;
  const isProcess = port === null;
  if (isProcess && typeof process.send !== 'function') throw new Error('a pool worker runs in a worker thread or a forked process');
  const post = (msg: FromPoolWorker<Result, Event>, transfer: ArrayBuffer[] = []): void => {
    if (port !== null) port.postMessage(msg, transfer);
    else if (process.connected) process.send!(msg);
  };
  const ctx: WorkerContext<Event> = { emit: (event) => post({ type: 'event', event }), isProcess };
  // A process's resident size is its own; a thread's is the whole daemon's, so it is not reported.
  const rss = (): { rss?: number } => (isProcess ? { rss: process.memoryUsage.rss() } : {});

  let handler: JobHandler<Job, Result> | null = null;
  const early: Extract<ToPoolWorker<Init, Job>, { type: 'job' }>[] = [];
  const runJob = (h: JobHandler<Job, Result>, id: number, job: Job): void => {
    let promise: Promise<Result>;
    try {
      promise = h.run(job);
    } catch (err) {
      promise = Promise.reject(err);
    }
    promise.then(
      (result) => {
        post({ type: 'done', id, result, ...rss() }, isProcess ? [] : (h.transfer?.(result) ?? []));
        h.after?.();
      },
      (err: unknown) => post({ type: 'failed', id, error: { code: codeOf(err), message: messageOf(err) }, ...rss() }),
    );
  };
  const start = (init: Init): void => {
    Promise.resolve(setup(init, ctx)).then(
      (h) => {
        handler = h;
        post({ type: 'ready' });
        for (const msg of early.splice(0)) runJob(h, msg.id, msg.job);
      },
      (err: unknown) => {
        // Dying before `ready` tells the pool this worker cannot start.
        process.stderr.write(`pool worker could not start: ${messageOf(err)}\n`);
        process.exit(78);
      },
    );
  };
  const onMessage = (msg: ToPoolWorker<Init, Job>): void => {
    if (msg.type === 'init') start(msg.init);
    else if (handler !== null) runJob(handler, msg.id, msg.job);
    else early.push(msg);
  };
  if (port !== null) {
    port.on('message', onMessage);
    start(workerData as Init);
  } else {
    process.on('message', (msg) => onMessage(msg as ToPoolWorker<Init, Job>));
    // The daemon is gone (even SIGKILLed): do not linger as an orphan.
    process.on('disconnect', () => process.exit(0));
  }
}
