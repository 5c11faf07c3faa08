import { Worker, type WorkerOptions } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';

/**
 * Starts a worker thread from a module that sits beside the caller.
 *
 * The package runs compiled `.js` from dist/; the tests run the TypeScript
 * sources. A worker started from a `.ts` module loads its `.ts` sibling
 * through tsx's loader (registered inside the worker, because `--import` in
 * a worker's execArgv does not apply to the worker's own entry on Node 20),
 * so both paths run the same code.
 */
export function spawnWorker(callerUrl: string, baseName: string, options: WorkerOptions = {}): Worker {
  if (!callerUrl.endsWith('.ts')) {
    return new Worker(fileURLToPath(new URL(`./${baseName}.js`, callerUrl)), options);
  }
  const entry = new URL(`./${baseName}.ts`, callerUrl).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { ...options, eval: true });
}
