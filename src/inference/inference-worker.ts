/**
 * An inference worker thread: owns one ORT session per model it has been
 * asked for (created lazily, or at start for `preload`), runs whole
 * requests (decode → model → PNGs) and batches recognition crops across the
 * requests it holds (see OcrPipeline / Batcher). ORT's session.run() blocks
 * the thread it is called on, which is why this is a worker.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { codeOf, ErrorCode, MosaicError, messageOf } from '../errors.js';
import type { FromWorker, TestFault, ToWorker, WorkerInit } from './messages.js';
import { misbehave } from '../util/test-fault.js';
import { loadPipeline } from './pipelines.js';
import type { Pipeline, WireError } from './types.js';

const init = workerData as WorkerInit;
const port = parentPort!;
const configs = new Map(init.models.map((m) => [m.name, m]));
const pipelines = new Map<string, Promise<Pipeline>>();

function post(msg: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(msg, transfer);
}

function pipeline(name: string): Promise<Pipeline> {
  let p = pipelines.get(name);
  if (!p) {
    const config = configs.get(name);
    if (!config) return Promise.reject(new MosaicError(ErrorCode.PROTOCOL_ERROR, `unknown model "${name}"`));
    p = loadPipeline(config, {
      intraOpThreads: init.intraOpThreads,
      allowSpinning: init.allowSpinning,
      maxBatch: init.maxBatch,
      maxBatchDelayMs: init.maxBatchDelayMs,
      maxInputPixels: init.maxInputPixels,
      maxDetections: init.maxDetections,
      onBatch: (size) => post({ type: 'batch', model: name, size }),
    }).catch((err: unknown) => {
      pipelines.delete(name); // let a later request retry (the file may have been fixed)
      throw new MosaicError(ErrorCode.PROCESSING_ERROR, `model "${name}" could not be loaded from ${config.configPath}: ${messageOf(err)}`);
    });
    pipelines.set(name, p);
  }
  return p;
}

function wireError(err: unknown): WireError {
  // Anything that is not one of ours (ORT, sharp, a bug) is a processing error.
  return { code: err instanceof MosaicError ? err.code : codeOf(err), message: messageOf(err) };
}

async function run(msg: Extract<ToWorker, { type: 'run' }>): Promise<void> {
  try {
    const results = await (await pipeline(msg.model)).run(msg.image);
    const transfer = [...new Set(results.map((r) => r.png.buffer as ArrayBuffer))];
    post({ type: 'done', id: msg.id, results }, transfer);
  } catch (err) {
    post({ type: 'fail', id: msg.id, error: wireError(err) });
  }
}

port.on('message', (msg: ToWorker) => {
  if (msg.type === 'run') void run(msg);
  else if (msg.type === 'test-fault') fault(msg.id, msg.fault);
});

/** TEST ONLY: see src/util/test-fault.ts. The pool sends these only when the daemon runs with MOSAICD_TEST_FAULTS=1. */
function fault(id: number, kind: TestFault): void {
  misbehave(kind, { name: 'model', worker: 'inference worker' }, (message) =>
    post({ type: 'fail', id, error: { code: ErrorCode.PROCESSING_ERROR, message } }),
  );
}

void (async () => {
  for (const name of init.preload) {
    try {
      await pipeline(name);
    } catch (err) {
      post({ type: 'preload-failed', model: name, error: wireError(err) });
      return;
    }
  }
  post({ type: 'ready' });
})();
