import type { MetaTile } from '../tile/tile-coord.js';
import type { MetaTileRenderer, RenderedTile } from '../scheduler/tile-scheduler.js';
import type { MapSet } from './map-set.js';
import type { MapSpec } from './map-spec.js';

/** A map's renderer as the daemon runs it: draws metatiles, reports stats, closes. */
export interface MapRenderer extends MetaTileRenderer {
  close(): Promise<void>;
  stats(): unknown;
}

/** Builds the renderer of one map (the daemon's: a render pool per renderer kind and options). */
export type MapRendererFactory = (spec: MapSpec) => MapRenderer;

/**
 * The scheduler's one renderer: hands each metatile to its map's renderer.
 * The scheduler's render slots (`size`) are shared by every map, so two
 * maps never run more renders at once than there are slots.
 */
export class MapRenderers implements MetaTileRenderer {
  readonly size: number;
  readonly #byMap = new Map<string | undefined, MapRenderer>();

  constructor(maps: MapSet, slots: number, create: MapRendererFactory) {
    this.size = slots;
    try {
      for (const spec of maps.list()) this.#byMap.set(maps.tileMap(spec), create(spec));
    } catch (err) {
      void this.close();
      throw err;
    }
  }

  /** The renderer of a map (undefined: the default map). */
  of(map: string | undefined): MapRenderer {
    const r = this.#byMap.get(map);
    if (r === undefined) throw new Error(`no renderer for map ${String(map)}`);
    return r;
  }

  renderMetaTile(meta: MetaTile, signal?: AbortSignal): Promise<RenderedTile[]> {
    try {
      return this.of(meta.map).renderMetaTile(meta, signal);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  prepare(meta: MetaTile): void {
    this.#byMap.get(meta.map)?.prepare?.(meta);
  }

  async close(): Promise<void> {
    await Promise.all([...this.#byMap.values()].map((r) => r.close()));
  }
}
