import type { ModelConfig } from './config.js';
import type { InferenceResult, WireError } from './types.js';

/** Init data for inference-worker.ts (workerData of its thread). */
export interface WorkerInit {
  models: ModelConfig[];
  intraOpThreads: number;
  allowSpinning: boolean;
  maxBatch: number;
  maxBatchDelayMs: number;
  maxInputPixels: number;
  maxDetections: number;
  preload: string[];
}

/** One request, inside the pool's job envelope. The image is structured-cloned: the caller keeps its buffer (a request may be retried). */
export interface InferenceJob {
  model: string;
  image: Uint8Array;
}

/** A job's answer; result PNGs are transferred, not copied. */
export type InferenceAnswer = InferenceResult[];

/** What a worker reports besides answers. */
export type WorkerEvent =
  | { type: 'batch'; model: string; size: number }
  | { type: 'preload-failed'; model: string; error: WireError };

/** What the engine hears from the pool: worker events, and each worker's readiness (after its preloads). */
export type FromWorker = WorkerEvent | { type: 'ready' };
