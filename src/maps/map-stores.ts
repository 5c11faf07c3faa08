import { TileStore } from '../store/tile-store.js';
import type { TileCoord } from '../tile/tile-coord.js';
import type { MapSet } from './map-set.js';

/**
 * One TileStore per map (each map has its own folder and layout), behind
 * the store operations the daemon uses, picked by the tile's map.
 */
export class MapStores {
  readonly #stores = new Map<string | undefined, TileStore>();

  constructor(maps: MapSet) {
    for (const spec of maps.list()) {
      this.#stores.set(maps.tileMap(spec), new TileStore({ dir: spec.tilesDir, layout: spec.layout }));
    }
  }

  /** The store of a tile's map (of the default map when the tile names none). */
  storeOf(tile: Pick<TileCoord, 'map'>): TileStore {
    const store = this.#stores.get(tile.map);
    if (store === undefined) throw new Error(`no tile store for map ${String(tile.map)}`);
    return store;
  }

  pathOf(tile: TileCoord): string {
    return this.storeOf(tile).pathOf(tile);
  }

  read(tile: TileCoord): Promise<Buffer | undefined> {
    return this.storeOf(tile).read(tile);
  }

  stat(tile: TileCoord): Promise<{ size: number; mtimeMs: number } | undefined> {
    return this.storeOf(tile).stat(tile);
  }

  /** Tiles of one metatile are of one map; grouped anyway, so a mixed list cannot go to the wrong folder. */
  async writeMany(tiles: ReadonlyArray<{ tile: TileCoord; png: Uint8Array }>): Promise<void> {
    const groups = new Map<string | undefined, Array<{ tile: TileCoord; png: Uint8Array }>>();
    for (const t of tiles) {
      const list = groups.get(t.tile.map) ?? [];
      list.push(t);
      groups.set(t.tile.map, list);
    }
    await Promise.all([...groups].map(([map, list]) => this.storeOf({ ...(map === undefined ? {} : { map }) }).writeMany(list)));
  }

  /** Crash leftovers of every map's folder; how many were removed. */
  async cleanTemporaryFiles(): Promise<number> {
    let removed = 0;
    for (const store of this.#stores.values()) removed += await store.cleanTemporaryFiles();
    return removed;
  }
}
