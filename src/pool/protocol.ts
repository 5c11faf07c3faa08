/**
 * The envelope between a WorkerPool and each of its workers, whatever the
 * worker runs (renders, models) and wherever (a thread, a child process).
 * Jobs carry an id and every answer echoes it; errors travel as data (a
 * MosaicError does not survive structured cloning).
 */
import type { ErrorCode } from '../errors.js';

export interface WireError {
  readonly code: ErrorCode;
  readonly message: string;
}

/** Pool → worker. `init` is sent once, first, to child processes (threads get it as workerData). */
export type ToPoolWorker<Init, Job> =
  | { readonly type: 'init'; readonly init: Init }
  | { readonly type: 'job'; readonly id: number; readonly job: Job };

/**
 * Worker → pool. `ready` once the worker can take jobs; `rss` (bytes, child
 * processes only: a thread shares its process's) rides on each answer so the
 * pool can recycle a worker that grew; `event` is anything else the caller
 * wants to hear (a batch size, a model that failed to preload).
 */
export type FromPoolWorker<Result, Event> =
  | { readonly type: 'ready' }
  | { readonly type: 'done'; readonly id: number; readonly result: Result; readonly rss?: number }
  | { readonly type: 'failed'; readonly id: number; readonly error: WireError; readonly rss?: number }
  | { readonly type: 'event'; readonly event: Event };
