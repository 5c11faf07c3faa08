/** The thread adapter: a worker thread behind a WorkerHandle. */
import type { ResourceLimits } from 'node:worker_threads';
import { spawnWorker } from '../util/spawn-worker.js';
import type { FromPoolWorker, ToPoolWorker } from './protocol.js';
import type { PoolWorkerHandle, WorkerEvents } from './worker-handle.js';

export interface ThreadWorkerOptions {
  readonly resourceLimits?: ResourceLimits;
}

/** Starts `baseName` (a module beside `callerUrl`) in a thread; it gets `init` as workerData. */
export function threadWorker<Init, Job, Result, Event>(
  callerUrl: string,
  baseName: string,
  init: Init,
  options: ThreadWorkerOptions = {},
): PoolWorkerHandle<Init, Job, Result, Event> {
  const worker = spawnWorker(callerUrl, baseName, { workerData: init, ...(options.resourceLimits ? { resourceLimits: options.resourceLimits } : {}) });
  let events: WorkerEvents<FromPoolWorker<Result, Event>> | null = null;
  let gone = false;
  const exit = (reason: string): void => {
    if (gone) return;
    gone = true;
    events?.exit(reason);
  };
  worker.on('message', (msg: FromPoolWorker<Result, Event>) => events?.message(msg));
  worker.on('error', (err) => exit(`it threw ${err.message}`));
  worker.on('messageerror', (err) => exit(`a message could not be read: ${err.message}`));
  worker.on('exit', (code) => exit(`it exited with code ${code}`));
  return {
    pid: undefined,
    send: (msg: ToPoolWorker<Init, Job>, transfer = []) => worker.postMessage(msg, [...transfer]),
    listen: (e) => (events = e),
    kill: () => void worker.terminate(),
  };
}
