/**
 * Messages between the RenderPool and its worker threads. Every request
 * carries a job id and every answer echoes it; errors travel as data, never
 * as thrown objects (they do not survive structured cloning as MosaicErrors).
 */
import type { ErrorCode } from '../errors.js';
import type { MetaTile } from '../tile/tile-coord.js';
import type { LevelData } from './geometry.js';
import type { TestFault as WorkerFault } from '../util/test-fault.js';

export interface RenderWorkerData {
  readonly tileSize: 256 | 512;
  readonly palette: boolean;
}

/**
 * TEST ONLY. Makes the worker misbehave so tests can exercise the pool's
 * recovery with a real worker: 'throw' fails the job (error as data),
 * 'uncaught' throws outside any job (the worker dies with an error event),
 * 'exit' ends the thread, 'hang' never answers (so the job times out).
 */
export type { TestFault as WorkerFault } from '../util/test-fault.js';

export type ToWorker =
  /** A geometry level, prepared once by the pool's builder thread; its arrays are SharedArrayBuffers, so this shares rather than copies. Sent before the first render that needs it. */
  | { readonly type: 'geometry'; readonly level: number; readonly data: LevelData }
  | { readonly type: 'render'; readonly id: number; readonly meta: MetaTile }
  | { readonly type: 'test-fault'; readonly id: number; readonly fault: WorkerFault };

/** Where one tile's PNG sits in the message's shared `data` buffer. */
export interface TileSlice {
  readonly x: number;
  readonly y: number;
  readonly offset: number;
  readonly length: number;
}

export type FromWorker =
  | { readonly type: 'ready' }
  /** All PNGs of the block packed into one transferred ArrayBuffer: one transfer, no per-tile copies. */
  | { readonly type: 'rendered'; readonly id: number; readonly tiles: TileSlice[]; readonly data: ArrayBuffer }
  | { readonly type: 'failed'; readonly id: number; readonly error: { readonly code: ErrorCode; readonly message: string } };

/**
 * TEST ONLY. Makes the geometry builder misbehave on every build: 'throw'
 * fails the build (error as data), 'exit' ends the thread, 'hang' never
 * answers.
 */
export type BuilderFault = 'throw' | 'exit' | 'hang';

export interface GeometryWorkerData {
  readonly faultForTest?: BuilderFault;
}

/** Main thread → geometry builder thread. */
export interface ToBuilder {
  readonly type: 'build';
  readonly level: number;
}

/** Geometry builder thread → main thread. */
export type FromBuilder =
  | { readonly type: 'built'; readonly level: number; readonly data: LevelData; readonly ms: number }
  | { readonly type: 'failed'; readonly level: number; readonly message: string };
