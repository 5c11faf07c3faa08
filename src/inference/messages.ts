import type { ModelConfig } from './config.js';
import type { InferenceResult, WireError } from './types.js';
import type { TestFault } from '../util/test-fault.js';

/** workerData for inference-worker.ts. */
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

/**
 * TEST ONLY (MOSAICD_TEST_FAULTS=1): makes the worker misbehave on one job:
 * 'throw' fails it (error as data), 'uncaught' throws outside any job (the
 * worker dies), 'exit' ends the thread, 'hang' never answers (TIMEOUT).
 */
export type { TestFault } from '../util/test-fault.js';

/** Main → worker. The image is structured-cloned: the caller keeps its buffer (see worker-pool.ts). */
export type ToWorker =
  | { type: 'run'; id: number; model: string; image: Uint8Array }
  | { type: 'test-fault'; id: number; fault: TestFault };

/** Worker → main. Result PNGs are transferred, not copied. Errors travel as data. */
export type FromWorker =
  | { type: 'done'; id: number; results: InferenceResult[] }
  | { type: 'fail'; id: number; error: WireError }
  | { type: 'batch'; model: string; size: number }
  | { type: 'ready' }
  | { type: 'preload-failed'; model: string; error: WireError };
