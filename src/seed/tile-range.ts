import { lonLatToTile, type TileCoord } from '../tile/tile-coord.js';

/** A lon/lat box: west, south, east, north. */
export type BBox = readonly [number, number, number, number];

export const WORLD: BBox = [-180, -85.0511287798, 180, 85.0511287798];

export interface TileRange {
  readonly minZoom: number;
  readonly maxZoom: number;
  readonly bbox: BBox;
}

/** Parses `0-8` or `5`. */
export function parseZoomRange(text: string): { minZoom: number; maxZoom: number } {
  const m = /^(\d{1,2})(?:-(\d{1,2}))?$/.exec(text.trim());
  if (!m) throw new Error(`--zoom must look like 0-8 or 5; got ${JSON.stringify(text)}`);
  const minZoom = Number(m[1]);
  const maxZoom = m[2] === undefined ? minZoom : Number(m[2]);
  if (minZoom > maxZoom) throw new Error(`--zoom ${text}: the first zoom must not be above the second`);
  return { minZoom, maxZoom };
}

/** Parses `minlon,minlat,maxlon,maxlat`. */
export function parseBBox(text: string): BBox {
  const parts = text.split(',').map((p) => Number(p.trim()));
  const [w, s, e, n] = parts as [number, number, number, number];
  if (parts.length !== 4 || parts.some((p) => !Number.isFinite(p))) {
    throw new Error(`--bbox must be minlon,minlat,maxlon,maxlat, e.g. 5.9,45.8,10.5,47.8; got ${JSON.stringify(text)}`);
  }
  if (w < -180 || e > 180 || s < -90 || n > 90 || w >= e || s >= n) {
    throw new Error(`--bbox ${text}: need -180 <= minlon < maxlon <= 180 and -90 <= minlat < maxlat <= 90`);
  }
  return [w, s, e, n];
}

function gridOf(z: number, bbox: BBox) {
  const a = lonLatToTile(bbox[0], bbox[3], z);
  const b = lonLatToTile(bbox[2], bbox[1], z);
  // The east/south edge exactly on a tile boundary belongs to the tile before it.
  const n = 2 ** z;
  const maxX = Math.min(n - 1, b.x);
  const maxY = Math.min(n - 1, b.y);
  return { minX: a.x, minY: a.y, maxX, maxY };
}

/** How many tiles the range holds (without enumerating them). */
export function countTiles(range: TileRange): number {
  let total = 0;
  for (let z = range.minZoom; z <= range.maxZoom; z++) {
    const g = gridOf(z, range.bbox);
    total += (g.maxX - g.minX + 1) * (g.maxY - g.minY + 1);
  }
  return total;
}

/**
 * Every tile of the range, lazily, zoom by zoom and metatile block by block
 * (so the tiles of one block arrive together and join one render), never
 * holding the list in memory.
 */
export function* enumerateTiles(range: TileRange, metatile = 8): Generator<TileCoord> {
  for (let z = range.minZoom; z <= range.maxZoom; z++) {
    const g = gridOf(z, range.bbox);
    const size = Math.min(metatile, 2 ** z);
    for (let by = g.minY - (g.minY % size); by <= g.maxY; by += size) {
      for (let bx = g.minX - (g.minX % size); bx <= g.maxX; bx += size) {
        for (let y = Math.max(by, g.minY); y <= Math.min(by + size - 1, g.maxY); y++) {
          for (let x = Math.max(bx, g.minX); x <= Math.min(bx + size - 1, g.maxX); x++) yield { z, x, y };
        }
      }
    }
  }
}
