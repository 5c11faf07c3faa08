/**
 * Messages between the RenderPool and its worker threads. Every request
 * carries a job id and every answer echoes it; errors travel as data, never
 * as thrown objects (they do not survive structured cloning as MosaicErrors).
 */
import type { ErrorCode } from '../errors.js';
import type { MetaTile } from '../tile/tile-coord.js';

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
export type WorkerFault = 'throw' | 'uncaught' | 'exit' | 'hang';

export type ToWorker =
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
