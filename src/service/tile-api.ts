import { ErrorCode, MosaicError, ShuttingDownError } from '../errors.js';
import type { PriorityClass } from '../scheduler/priority.js';
import type { Scheduler, TileOutcome, TileRequest, TileSchedulerStats } from '../scheduler/scheduler.js';
import { prefetchTiles } from '../scheduler/viewport.js';
import { DEFAULT_MAX_ZOOM } from '../limits.js';
import { MapSet } from '../maps/map-set.js';
import type { TileCoord } from '../tile/tile-coord.js';
import type { Viewport } from '../tile/viewport.js';

export interface TileApiOptions {
  scheduler: Scheduler;
  /** The maps served; a request naming none gets the default map. */
  maps?: MapSet;
  /** Without `maps`: one default map with zooms 0..maxZoom. */
  maxZoom?: number;
  /** Queue the ring around each viewport, and the zooms above and below. */
  prefetch: boolean;
}

/**
 * A tile as a request names it: wire numbers and map name, not yet checked.
 * Every protocol's tile name (`TileName`, a line command, HTTP path
 * numbers) fits. Resolved in one place, resolve().
 */
export interface TileRef {
  readonly z: number;
  readonly x: number;
  readonly y: number;
  /** The map named by the request; absent: the default map. */
  readonly map?: string | undefined;
}

/**
 * The tile API every protocol shares (lines, frames, HTTP): request a tile,
 * cancel, viewports, the seeding hooks, stats. The coordinate check and the
 * stopping check live here, once; how each wire reports a refusal is the
 * protocol handler's business (line-service.ts, framed-service.ts, src/http).
 */
export class TileApi {
  readonly #o: TileApiOptions & { maps: MapSet };
  #stopping = false;

  constructor(options: TileApiOptions) {
    this.#o = { ...options, maps: options.maps ?? MapSet.only({ maxZoom: options.maxZoom ?? DEFAULT_MAX_ZOOM }) };
  }

  /** The maps served. */
  get maps(): MapSet {
    return this.#o.maps;
  }

  /** Validated coordinates from wire numbers (of the default map, or the one named); throws BadTileError or UnknownMapError. */
  coord(z: number, x: number, y: number, map?: string): TileCoord {
    return this.#o.maps.tile(z, x, y, map);
  }

  /** The tile a request names; throws BadTileError or UnknownMapError. */
  resolve(ref: TileRef): TileCoord {
    return this.coord(ref.z, ref.x, ref.y, ref.map);
  }

  /**
   * The tile of a new request, checked before anything is reserved for it:
   * throws BadTileError, or ShuttingDownError once the daemon is stopping.
   */
  admit(ref: TileRef): TileCoord {
    const tile = this.resolve(ref);
    this.#assertAccepting();
    return tile;
  }

  /** Queues a tile (or finds it on disk). Rejects SHUTTING_DOWN once stopping, BUSY when its class is full. */
  request(tile: TileCoord, request: TileRequest): Promise<TileOutcome> {
    try {
      this.#assertAccepting();
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#o.scheduler.request(tile, request);
  }

  /**
   * Queues a tile admitted before a stop began (its journal commit was
   * pending) or accepted by an earlier run: no stopping check, so a
   * graceful stop still finishes it.
   */
  queueAdmitted(tile: TileCoord, request: TileRequest): Promise<TileOutcome> {
    return this.#o.scheduler.request(tile, request);
  }

  /** Withdraws a client's queued request for a tile; returns how many were withdrawn. Throws BadTileError. */
  cancel(ref: TileRef, clientId: string): number {
    return this.#o.scheduler.cancel(this.resolve(ref), clientId);
  }

  /** Records a client's viewport (on one map); with prefetch on, queues the ring around it. Throws BadTileError on bad bounds, UnknownMapError. */
  setViewport(clientId: string, requested: Viewport): void {
    const maps = this.#o.maps;
    const spec = maps.get(requested.map);
    const map = maps.tileMap(spec);
    const bounds = { z: requested.z, minX: requested.minX, minY: requested.minY, maxX: requested.maxX, maxY: requested.maxY };
    const v: Viewport = map === undefined ? bounds : { ...bounds, map };
    const max = 2 ** v.z - 1;
    this.coord(v.z, v.minX, v.minY, spec.name);
    this.coord(v.z, v.maxX, v.maxY, spec.name);
    if (v.minX > v.maxX || v.minY > v.maxY || v.maxX > max || v.maxY > max) {
      throw new MosaicError(ErrorCode.BAD_TILE, `viewport ${v.z} ${v.minX} ${v.minY} ${v.maxX} ${v.maxY}: need MIN <= MAX <= ${max}`);
    }
    this.#o.scheduler.setViewport(clientId, v);
    if (this.#o.prefetch) {
      for (const t of prefetchTiles(v, spec.maxZoom)) {
        if (t.z < spec.minZoom) continue;
        // Prefetch warms the store; nobody waits for it, and a full queue just skips it.
        this.#o.scheduler.request(t, { cls: 'prefetch', clientId }).catch(() => undefined);
      }
    }
  }

  /** Forgets a client: its viewport, and its queued requests nobody else waits for. */
  forgetClient(clientId: string): void {
    this.#o.scheduler.forgetClient(clientId);
  }

  /** Seeding: true while a request of this class would be refused BUSY. */
  isFull(cls: PriorityClass): boolean {
    return this.#o.scheduler.isFull(cls);
  }

  /** Seeding: resolves when the class has room again; rejects when `signal` aborts. */
  waitForSpace(cls: PriorityClass, signal?: AbortSignal): Promise<void> {
    return this.#o.scheduler.waitForSpace(cls, signal);
  }

  stats(): TileSchedulerStats {
    return this.#o.scheduler.stats();
  }

  /** Called by the daemon on stop: no new tiles from now on. */
  beginStop(): void {
    this.#stopping = true;
  }

  #assertAccepting(): void {
    if (this.#stopping) throw new ShuttingDownError('the daemon is stopping');
  }
}
