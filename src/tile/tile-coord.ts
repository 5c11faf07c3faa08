import { BadTileError } from '../errors.js';
import { MAX_SUPPORTED_ZOOM } from '../limits.js';

/** One validated XYZ tile (Web Mercator, y down). Built only by the functions below. */
export interface TileCoord {
  readonly z: number;
  readonly x: number;
  readonly y: number;
  /**
   * The map it belongs to; absent for the default map, so that the default
   * map's keys, names and paths stay what they were before maps existed.
   * Set only by TileApi.resolve() (src/maps/map-set.ts checks the name).
   */
  readonly map?: string;
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

/** A key unique per tile (and map). */
export function tileKey(t: TileCoord): string {
  return t.map === undefined ? `${t.z}/${t.x}/${t.y}` : `${t.map}/${t.z}/${t.x}/${t.y}`;
}

/** The same tile on the given map (undefined: the default map). */
export function onMap(t: TileCoord, map: string | undefined): TileCoord {
  return Object.freeze(map === undefined ? { z: t.z, x: t.x, y: t.y } : { z: t.z, x: t.x, y: t.y, map });
}

/** The N×N block (metatile) a tile belongs to. At low zoom the block is the whole grid. */
export interface MetaTile {
  readonly z: number;
  /** Column and row of the block's top-left tile. */
  readonly x: number;
  readonly y: number;
  /** Tiles per side actually covered (min(size, 2^z)). */
  readonly size: number;
  /** The map it belongs to; absent for the default map (see TileCoord.map). */
  readonly map?: string;
}

export function metaTileOf(t: TileCoord, metatileSize: number): MetaTile {
  const size = Math.min(metatileSize, 2 ** t.z);
  const meta = { z: t.z, x: t.x - (t.x % size), y: t.y - (t.y % size), size };
  return t.map === undefined ? meta : { ...meta, map: t.map };
}

export function metaTileKey(m: MetaTile): string {
  const key = `${m.z}/${m.x}/${m.y}/${m.size}`;
  return m.map === undefined ? key : `${m.map}/${key}`;
}

/** The tiles of a metatile, row by row. */
export function tilesOfMeta(m: MetaTile): TileCoord[] {
  const out: TileCoord[] = [];
  for (let dy = 0; dy < m.size; dy++) {
    for (let dx = 0; dx < m.size; dx++) out.push(onMap({ z: m.z, x: m.x + dx, y: m.y + dy }, m.map));
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
