import type { MetaTile, TileCoord } from '../tile/tile-coord.js';
import type { PriorityClass } from './priority.js';
import type { TileOutcome, TileRequest, TileSchedulerStats } from './tile-scheduler.js';
import type { Viewport } from './viewport.js';

export type { TileOutcome, TileRequest, TileSchedulerStats } from './tile-scheduler.js';

/** Events a scheduler emits: `rendered` once per metatile this node rendered (feeds /metrics). */
export interface SchedulerEvents {
  rendered: [meta: MetaTile, ms: number];
}

/**
 * What the services ask of a tile scheduler. Two engines implement it: the
 * in-process one (TileScheduler, the default) and the BullMQ one on Redis
 * (src/cluster/, with `--queue`). Services cannot tell which they talk to.
 */
export interface Scheduler {
  /** The default map's metatile size. */
  readonly metatileSize: number;
  /** Resolves once the tile is on disk; rejects BUSY, CANCELLED, SHUTTING_DOWN or a render error. */
  request(tile: TileCoord, req: TileRequest): Promise<TileOutcome>;
  /** True when a new request of this class would be refused as busy. */
  isFull(cls: PriorityClass): boolean;
  /** Resolves when a request of this class would not be refused as busy. */
  waitForSpace(cls: PriorityClass, signal?: AbortSignal): Promise<void>;
  /** Records what a client now shows and re-ranks its queued requests. */
  setViewport(clientId: string, viewport: Viewport | undefined): void;
  viewportOf(clientId: string): Viewport | undefined;
  /** Withdraws a client's queued request for a tile; returns how many were withdrawn. */
  cancel(tile: TileCoord, clientId?: string): number;
  /** Forgets a client: its viewport, and its queued requests nobody else waits for. */
  forgetClient(clientId: string): void;
  /** Resolves when nothing this node accepted is queued or running. */
  onIdle(): Promise<void>;
  /** Stops taking requests; resolves when the work accepted here is answered. */
  close(): Promise<void>;
  /** Stops at once: queued work fails SHUTTING_DOWN; running renders are awaited. */
  destroy(): Promise<void>;
  stats(): TileSchedulerStats;
  on<E extends keyof SchedulerEvents>(event: E, listener: (...args: SchedulerEvents[E]) => void): this;
  off<E extends keyof SchedulerEvents>(event: E, listener: (...args: SchedulerEvents[E]) => void): this;
}
