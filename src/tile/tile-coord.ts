import { BadTileError } from '../errors.js';
import { MAX_SUPPORTED_ZOOM } from '../limits.js';

/** One validated XYZ tile (Web Mercator, y down). Built only by the functions below. */
export interface TileCoord {
  readonly z: number;
  readonly x: number;
  readonly y: number;
}

const TILE_NAME = /^(\d{1,2})[_/](\d{1,10})[_/](\d{1,10})$/;

/**
 * Parses `Z_X_Y` or `Z/X/Y` (one separator style per name) and checks the
 * bounds. Throws BadTileError with a reason fit for an error notice.
 */
export function parseTileName(name: string, maxZoom: number): TileCoord {
  const m = TILE_NAME.exec(name);
  if (m === null || (name.includes('_') && name.includes('/'))) {
    throw new BadTileError(`not a tile name (expected Z_X_Y): ${JSON.stringify(name.slice(0, 64))}`);
  }
  return tileCoord(Number(m[1]), Number(m[2]), Number(m[3]), maxZoom);
}

/** Validates integers and returns a TileCoord. */
export function tileCoord(z: number, x: number, y: number, maxZoom: number): TileCoord {
  if (!Number.isInteger(z) || !Number.isInteger(x) || !Number.isInteger(y)) {
    throw new BadTileError(`tile numbers must be integers: ${z}_${x}_${y}`);
  }
  if (z < 0 || z > Math.min(maxZoom, MAX_SUPPORTED_ZOOM)) {
    throw new BadTileError(`zoom ${z} is above the max zoom ${maxZoom}`);
  }
  const n = 2 ** z;
  if (x < 0 || x >= n || y < 0 || y >= n) {
    throw new BadTileError(`tile ${z}_${x}_${y} is outside the zoom ${z} grid (0..${n - 1})`);
  }
  return Object.freeze({ z, x, y });
}

/** `Z_X_Y`, the name used on the wire and in notices. */
export function tileName(t: TileCoord): string {
  return `${t.z}_${t.x}_${t.y}`;
}

/** A numeric key unique per tile up to zoom 30 (fits in a double exactly up to z=24; string keys above). */
export function tileKey(t: TileCoord): string {
  return `${t.z}/${t.x}/${t.y}`;
}

/** The N×N block (metatile) a tile belongs to. At low zoom the block is the whole grid. */
export interface MetaTile {
  readonly z: number;
  /** Column and row of the block's top-left tile. */
  readonly x: number;
  readonly y: number;
  /** Tiles per side actually covered (min(size, 2^z)). */
  readonly size: number;
}

export function metaTileOf(t: TileCoord, metatileSize: number): MetaTile {
  const size = Math.min(metatileSize, 2 ** t.z);
  return { z: t.z, x: t.x - (t.x % size), y: t.y - (t.y % size), size };
}

export function metaTileKey(m: MetaTile): string {
  return `${m.z}/${m.x}/${m.y}/${m.size}`;
}

/** The tiles of a metatile, row by row. */
export function tilesOfMeta(m: MetaTile): TileCoord[] {
  const out: TileCoord[] = [];
  for (let dy = 0; dy < m.size; dy++) {
    for (let dx = 0; dx < m.size; dx++) out.push(Object.freeze({ z: m.z, x: m.x + dx, y: m.y + dy }));
  }
  return out;
}

/** Tile column/row containing a longitude/latitude at zoom z (clamped to the grid). */
export function lonLatToTile(lon: number, lat: number, z: number): { x: number; y: number } {
  const n = 2 ** z;
  const clampedLat = Math.max(-85.0511287798, Math.min(85.0511287798, lat));
  const latRad = (clampedLat * Math.PI) / 180;
  const x = Math.floor(((lon + 180) / 360) * n);
  const y = Math.floor(((1 - Math.log(Math.tan(latRad) + 1 / Math.cos(latRad)) / Math.PI) / 2) * n);
  return { x: Math.max(0, Math.min(n - 1, x)), y: Math.max(0, Math.min(n - 1, y)) };
}
