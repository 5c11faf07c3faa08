/**
 * An inference worker thread: owns one ORT session per model it has been
 * asked for (created lazily, or at start for `preload`), runs whole
 * requests (decode → model → PNGs) and batches recognition crops across the
 * requests it holds (see OcrPipeline / Batcher). ORT's session.run() blocks
 * the thread it is called on, which is why this is a worker.
 */
import { codeOf, ErrorCode, MosaicError, messageOf } from '../errors.js';
import { serve, type WorkerContext } from '../pool/serve.js';
import type { InferenceAnswer, InferenceJob, WorkerEvent, WorkerInit } from './messages.js';
import { loadPipeline } from './pipelines.js';
import type { Pipeline, WireError } from './types.js';

function wireError(err: unknown): WireError {
  // Anything that is not one of ours (ORT, sharp, a bug) is a processing error.
  return { code: err instanceof MosaicError ? err.code : codeOf(err), message: messageOf(err) };
}

serve<WorkerInit, InferenceJob, InferenceAnswer, WorkerEvent>(async (init, ctx: WorkerContext<WorkerEvent>) => {
  const configs = new Map(init.models.map((m) => [m.name, m]));
  const pipelines = new Map<string, Promise<Pipeline>>();
  const pipeline = (name: string): Promise<Pipeline> => {
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
        onBatch: (size) => ctx.emit({ type: 'batch', model: name, size }),
      }).catch((err: unknown) => {
        pipelines.delete(name); // let a later request retry (the file may have been fixed)
        throw new MosaicError(ErrorCode.PROCESSING_ERROR, `model "${name}" could not be loaded from ${config.configPath}: ${messageOf(err)}`);
      });
      pipelines.set(name, p);
    }
    return p;
  };
  for (const name of init.preload) {
    try {
      await pipeline(name);
    } catch (err) {
      // The worker still serves (other models, a later retry); the engine reports not ready.
      ctx.emit({ type: 'preload-failed', model: name, error: wireError(err) });
      break;
    }
  }
  return {
    run: async (job) => (await pipeline(job.model)).run(job.image),
    transfer: (results) => [...new Set(results.map((r) => r.png.buffer as ArrayBuffer))],
  };
});
