/**
 * The process adapter: a child process behind a WorkerHandle, so a native
 * crash (SIGSEGV in Skia or Mapnik, an abort, the OOM killer) takes down
 * only that process and its job.
 *
 * `serialization: 'advanced'` lets Buffers and typed arrays cross the IPC
 * channel (copied; transfer lists do not apply). The child's stdout goes to
 * the daemon's stderr: in stdio mode the daemon's stdout carries frames.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FromPoolWorker, ToPoolWorker } from './protocol.js';
import type { PoolWorkerHandle, WorkerEvents } from './worker-handle.js';

export interface ProcessWorkerOptions {
  /** Extra Node flags for the child (e.g. --max-old-space-size). */
  readonly execArgv?: readonly string[];
}

/** The module file to fork, and the flags that let a `.ts` source run (the tests run sources). */
export function processEntry(callerUrl: string, baseName: string): { file: string; execArgv: string[] } {
  if (!callerUrl.endsWith('.ts')) return { file: fileURLToPath(new URL(`./${baseName}.js`, callerUrl)), execArgv: [] };
  return { file: fileURLToPath(new URL(`./${baseName}.ts`, callerUrl)), execArgv: ['--import', import.meta.resolve('tsx/esm')] };
}

/** Forks `baseName` (a module beside `callerUrl`) and sends it `init` as its first message. */
export function processWorker<Init, Job, Result, Event>(
  callerUrl: string,
  baseName: string,
  init: Init,
  options: ProcessWorkerOptions = {},
): PoolWorkerHandle<Init, Job, Result, Event> {
  const entry = processEntry(callerUrl, baseName);
  const child = fork(entry.file, [], {
    // Not the parent's execArgv: a test runner's or a profiler's flags are not the child's business.
    execArgv: [...entry.execArgv, ...(options.execArgv ?? [])],
    serialization: 'advanced',
    stdio: ['ignore', 2, 2, 'ipc'],
  });
  let events: WorkerEvents<FromPoolWorker<Result, Event>> | null = null;
  let gone = false;
  const exit = (reason: string): void => {
    if (gone) return;
    gone = true;
    events?.exit(reason);
  };
  child.on('message', (msg) => {
    if (!gone) events?.message(msg as FromPoolWorker<Result, Event>);
  });
  child.on('error', (err) => {
    exit(`it failed: ${err.message}`);
    child.kill('SIGKILL');
  });
  child.on('exit', (code, signal) => exit(signal !== null ? `it was killed by ${signal}` : `it exited with code ${code}`));
  const send = (msg: ToPoolWorker<Init, Job>): void => {
    if (gone || !child.connected) return; // its exit is on the way and fails the job
    child.send(msg, (err) => {
      if (err) exit(`a message could not be sent: ${err.message}`);
    });
  };
  send({ type: 'init', init });
  return {
    pid: child.pid,
    send: (msg) => send(msg),
    listen: (e) => (events = e),
    kill: (signal = 'SIGKILL') => void child.kill(signal),
  };
}
