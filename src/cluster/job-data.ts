import { MAX_SUPPORTED_ZOOM } from '../limits.js';
import { MAP_NAME } from '../maps/map-name.js';
import type { PriorityClass } from '../scheduler/priority.js';
import type { MetaTile } from '../tile/tile-coord.js';

/**
 * The payload of one render job on the shared queue: which metatile of
 * which map, and whether to render it even when its tiles are on disk.
 * Stored as JSON in Redis by any node; read back by any node, so parsed
 * and checked as a peer's bytes (parseJobData).
 */
export interface RenderJobData {
  /** Payload version. */
  readonly v: 1;
  /** The map's name; null: the default map. */
  readonly map: string | null;
  readonly z: number;
  /** Top-left tile of the metatile. */
  readonly x: number;
  readonly y: number;
  /** Tiles per side. */
  readonly size: number;
  readonly force: boolean;
}

/** BullMQ priorities (1 runs first); every job carries one, so FIFO within a class. */
export const JOB_PRIORITY: Readonly<Record<PriorityClass, number>> = Object.freeze({
  visible: 1,
  interactive: 2,
  prefetch: 3,
  dirty: 4,
  bulk: 5,
});

/** The queue of a map: `tiles` for the default map, `tiles-NAME` for a named one (a map name cannot be empty). */
export function queueNameOf(map: string | undefined): string {
  return map === undefined ? 'tiles' : `tiles-${map}`;
}

/**
 * The job id of a metatile in its map's queue: a duplicate anywhere in the
 * cluster finds the same id. A forced render (`dirty`) has its own id: it
 * must not join a job that skips tiles already on disk.
 */
export function jobIdOf(meta: MetaTile, force: boolean): string {
  return `z${meta.z}x${meta.x}y${meta.y}s${meta.size}${force ? 'f' : ''}`;
}

/** The Redis set of nodes that want a job (cluster-scheduler.ts); the worker clears it when the job is done. */
export function wantsKeyOf(prefix: string, queueName: string, jobId: string): string {
  return `${prefix}:mosaicd-wants:${queueName}/${jobId}`;
}

export function jobDataOf(meta: MetaTile, force: boolean): RenderJobData {
  return { v: 1, map: meta.map ?? null, z: meta.z, x: meta.x, y: meta.y, size: meta.size, force };
}

const KEYS = ['v', 'map', 'z', 'x', 'y', 'size', 'force'];

/** Thrown for a payload that is not a RenderJobData of a map this node serves. */
export class BadJobDataError extends Error {
  constructor(message: string) {
    super(`bad job payload: ${message}`);
    this.name = 'BadJobDataError';
  }
}

/**
 * Checks a payload read back from Redis: exact keys and types, the map is
 * one this node serves (`metatileOf` throws otherwise), the zoom within
 * that map's bounds, the metatile aligned and inside the grid, its size
 * the map's. Returns the metatile and the force flag.
 */
export function parseJobData(
  data: unknown,
  mapCheck: (map: string | undefined) => { metatile: number; maxZoom: number },
): { meta: MetaTile; force: boolean } {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new BadJobDataError('not an object');
  const d = data as Record<string, unknown>;
  const keys = Object.keys(d);
  if (keys.length !== KEYS.length || !KEYS.every((k) => k in d)) throw new BadJobDataError(`expected the keys ${KEYS.join(', ')}`);
  if (d.v !== 1) throw new BadJobDataError(`unknown version ${JSON.stringify(d.v)}`);
  if (d.map !== null && (typeof d.map !== 'string' || !MAP_NAME.test(d.map))) throw new BadJobDataError('map must be null or a map name');
  if (typeof d.force !== 'boolean') throw new BadJobDataError('force must be true or false');
  const map = d.map === null ? undefined : (d.map as string);
  let spec: { metatile: number; maxZoom: number };
  try {
    spec = mapCheck(map);
  } catch (err) {
    throw new BadJobDataError((err as Error).message);
  }
  const { z, x, y, size } = d;
  const int = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
  if (!int(z) || z < 0 || z > Math.min(spec.maxZoom, MAX_SUPPORTED_ZOOM)) throw new BadJobDataError(`zoom ${JSON.stringify(z)}`);
  const n = 2 ** z;
  if (!int(size) || size !== Math.min(spec.metatile, n)) throw new BadJobDataError(`metatile size ${JSON.stringify(size)} (this map's is ${Math.min(spec.metatile, n)})`);
  if (!int(x) || !int(y) || x < 0 || y < 0 || x >= n || y >= n || x % size !== 0 || y % size !== 0) {
    throw new BadJobDataError(`metatile ${JSON.stringify(x)},${JSON.stringify(y)} at zoom ${z}`);
  }
  const meta: MetaTile = map === undefined ? { z, x, y, size } : { z, x, y, size, map };
  return { meta, force: d.force };
}
