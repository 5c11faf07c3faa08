/**
 * Tile names as they appear on the wire, checked for syntax only. Whether the
 * tile lies in the grid and under the max zoom is the daemon's check, made
 * once with `tileCoord()` from src/tile/tile-coord.ts.
 */

import { MAP_NAME_PART } from '../maps/map-name.js';

/** A syntactically valid `Z_X_Y`, `Z/X/Y` or `NAME/Z/X/Y`, not yet bounds-checked. */
export interface TileName {
  /** The name exactly as received, e.g. `3/4/2`. */
  readonly raw: string;
  readonly z: number;
  readonly x: number;
  readonly y: number;
  /** `NAME/Z/X/Y` (mod_tile's URL shape) names a map; absent: the default map. */
  readonly map?: string;
}

// Same digit counts as TILE_NAME in src/tile/tile-coord.ts, one separator style per name.
const TILE_NAME = /^(\d{1,2})([_/])(\d{1,10})\2(\d{1,10})$/;
// A map's tiles: slashes only, like mod_tile's /NAME/Z/X/Y.png.
const MAP_TILE_NAME = new RegExp(`^(${MAP_NAME_PART})/(\\d{1,2})/(\\d{1,10})/(\\d{1,10})$`);

/** The parsed name, or undefined when `text` is not `Z_X_Y` / `Z/X/Y` / `NAME/Z/X/Y` in decimal digits. */
export function parseTileSyntax(text: string): TileName | undefined {
  const m = TILE_NAME.exec(text);
  if (m !== null) return { raw: text, z: Number(m[1]), x: Number(m[3]), y: Number(m[4]) };
  const n = MAP_TILE_NAME.exec(text);
  if (n === null) return undefined;
  return { raw: text, map: n[1]!, z: Number(n[2]), x: Number(n[3]), y: Number(n[4]) };
}

/** How a tile of a request is named in its notices: `Z_X_Y` on the default map (as ever), `NAME/Z/X/Y` when the request named a map. */
export function noticeName(tile: { readonly z: number; readonly x: number; readonly y: number }, map: string | undefined): string {
  return map === undefined ? `${tile.z}_${tile.x}_${tile.y}` : `${map}/${tile.z}/${tile.x}/${tile.y}`;
}

export const TILE_SYNTAX_HINT = 'expected Z_X_Y, Z/X/Y or NAME/Z/X/Y in decimal digits';
