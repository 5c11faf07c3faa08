import type { ErrorCode } from '../errors.js';

/** One result of one request: becomes one entry of the wire `results` plus one PNG. */
export interface InferenceResult {
  className: string;
  score: number;
  png: Uint8Array;
  width: number;
  height: number;
  mode: 'RGB' | 'L' | 'RGBA';
  /** Extra wire fields: box, text_angle, ... */
  extra: Record<string, unknown>;
}

/** A loaded model as a worker runs it: encoded image in, results out. */
export interface Pipeline {
  run(image: Uint8Array): Promise<InferenceResult[]>;
  close(): Promise<void>;
}

export interface PipelineOptions {
  intraOpThreads: number;
  allowSpinning: boolean;
  /** Dynamic batching across concurrent requests; 1 = off. */
  maxBatch: number;
  maxBatchDelayMs: number;
  maxInputPixels: number;
  /** Caps a detector's boxes per image (default MAX_DETECTIONS). */
  maxDetections?: number;
  /** Called with the size of every batched model run (stats). */
  onBatch?: (size: number) => void;
}

export interface WireError {
  code: ErrorCode;
  message: string;
}
