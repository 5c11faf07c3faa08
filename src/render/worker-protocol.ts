/**
 * What a render worker (thread or child process) is told and answers, inside
 * the pool's envelope (src/pool/protocol.ts), and the contract of a renderer
 * module the worker loads.
 */
import type { MetaTile } from '../tile/tile-coord.js';
import type { LevelData, LevelSource } from './geometry.js';
import type { RenderedTile } from './meta.js';

/**
 * Init data of a render worker: the renderer module it loads (a file: URL or
 * path; see RendererModule) and that module's options (structured-cloneable).
 * A map names its renderer this way, so one worker entry serves them all.
 */
export interface RenderWorkerInit {
  readonly module: string;
  readonly options: unknown;
}

/** A module a render worker can load: it exports `createRenderer`. */
export interface RendererModule {
  createRenderer(options: unknown, context: RendererContext): WorkerRenderer | Promise<WorkerRenderer>;
}

export interface RendererContext {
  /** True in a child process (it owns its memory: build what it needs), false in a thread. */
  readonly isProcess: boolean;
  /** Tells the pool's owner something that is not a job's answer (default: dropped). */
  readonly emit?: (event: RenderWorkerEvent) => void;
}

/** Render worker → pool, besides answers: a geometry level made in a render process, a warning to log. */
export type RenderWorkerEvent =
  | { readonly type: 'geometry'; readonly level: number; readonly source: LevelSource; readonly ms: number }
  | { readonly type: 'warning'; readonly message: string };

/** A renderer as the worker runs it: draws one metatile at a time. */
export interface WorkerRenderer {
  renderMetaTile(meta: MetaTile): Promise<RenderedTile[]>;
  /** Built-in renderer in threads: a geometry level prepared once by the pool (SharedArrayBuffers: shared, not copied). */
  addGeometry?(level: number, data: LevelData): void;
  /** After the answer is sent: free the job's garbage. */
  afterJob?(): void;
}

export interface RenderJob {
  readonly meta: MetaTile;
  /** The geometry level the metatile draws from (threads, built-in renderer); the worker keeps the first copy. */
  readonly geometry?: { readonly level: number; readonly data: LevelData };
}

/** Where one tile's PNG sits in the answer's `data` buffer. */
export interface TileSlice {
  readonly x: number;
  readonly y: number;
  readonly offset: number;
  readonly length: number;
}

/** All PNGs of the block packed into one buffer: one transfer (threads) or one copy (processes), not one per tile. */
export interface RenderResult {
  readonly tiles: TileSlice[];
  readonly data: ArrayBuffer;
}

/** The geometry builder thread's workerData. */
export interface BuilderData {
  /** The geometry cache root (GeometryCache); undefined = no cache. */
  readonly cacheDir?: string | undefined;
}

/** Geometry builder thread: one level per request. */
export interface ToBuilder {
  readonly type: 'build';
  readonly level: number;
}

/** Geometry builder thread → main thread. */
export type FromBuilder =
  | { readonly type: 'built'; readonly level: number; readonly data: LevelData; readonly ms: number; readonly source: LevelSource }
  | { readonly type: 'failed'; readonly level: number; readonly message: string }
  | { readonly type: 'warning'; readonly message: string };
