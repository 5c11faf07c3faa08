/**
 * What the pool needs from one worker, so that it can drive a thread, a
 * child process or (in tests) a scripted fake the same way.
 */
import type { FromPoolWorker, ToPoolWorker } from './protocol.js';

export interface WorkerEvents<Out> {
  message(msg: Out): void;
  /** Called once, for the first of exit / error / lost channel; `reason` says which, for error messages. */
  exit(reason: string): void;
}

export interface WorkerHandle<In, Out> {
  /** The OS process id of a child process; undefined for a thread. */
  readonly pid: number | undefined;
  send(msg: In, transfer?: readonly ArrayBuffer[]): void;
  /** Set once, by the pool, right after spawn. */
  listen(events: WorkerEvents<Out>): void;
  /** Ends the worker: a thread is terminated, a process gets `signal` (default SIGKILL). */
  kill(signal?: NodeJS.Signals): void;
}

/** A handle speaking the pool's envelope. */
export type PoolWorkerHandle<Init, Job, Result, Event> = WorkerHandle<ToPoolWorker<Init, Job>, FromPoolWorker<Result, Event>>;

/** Starts one worker; the pool calls it at start, for replacements and for recycling. */
export type SpawnWorker<Init, Job, Result, Event> = () => PoolWorkerHandle<Init, Job, Result, Event>;
