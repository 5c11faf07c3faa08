import { MosaicError } from '../errors.js';
import type { MetaTile } from '../tile/tile-coord.js';
import type { MetaTileRenderer, RenderedTile } from '../scheduler/tile-scheduler.js';
import type { MapSet } from './map-set.js';
import type { MapSpec } from './map-spec.js';

/** A map's renderer as the daemon runs it: draws metatiles, reports stats, closes. */
export interface MapRenderer extends MetaTileRenderer {
  close(): Promise<void>;
  stats(): unknown;
  /** Resolves once the renderer can draw (a tirex backend said it is alive); rejects with why it cannot. */
  ready?(): Promise<void>;
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
  readonly #names = new Map<MapRenderer, string>();

  constructor(maps: MapSet, slots: number, create: MapRendererFactory) {
    this.size = slots;
    try {
      for (const spec of maps.list()) {
        const r = create(spec);
        this.#byMap.set(maps.tileMap(spec), r);
        this.#names.set(r, spec.name);
      }
    } catch (err) {
      void this.close();
      throw err;
    }
  }

  /** Each map's renderer, by map name (per-map stats). */
  named(): Array<[name: string, renderer: MapRenderer]> {
    return [...this.#names].map(([r, name]) => [name, r]);
  }

  /** The renderer of a map (undefined: the default map). */
  of(map: string | undefined): MapRenderer {
    const r = this.#byMap.get(map);
    if (r === undefined) throw new Error(`no renderer for map ${String(map)}`);
    return r;
  }

  /**
   * Resolves once every map's renderer can draw; rejects with the first that
   * cannot, its message naming the map (e.g. a tirex backend that exits 10).
   */
  async ready(): Promise<void> {
    await Promise.all(
      [...this.#names].map(async ([r, name]) => {
        try {
          await r.ready?.();
        } catch (err) {
          if (err instanceof MosaicError) throw new MosaicError(err.code, `map "${name}": ${err.message}`, { cause: err });
          throw err;
        }
      }),
    );
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
