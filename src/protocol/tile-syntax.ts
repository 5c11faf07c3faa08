/**
 * Tile names as they appear on the wire, checked for syntax only. Whether the
 * tile lies in the grid and under the max zoom is the daemon's check, made
 * once with `tileCoord()` from src/tile/tile-coord.ts.
 */

/** A syntactically valid `Z_X_Y` or `Z/X/Y`, not yet bounds-checked. */
export interface TileName {
  /** The name exactly as received, e.g. `3/4/2`. */
  readonly raw: string;
  readonly z: number;
  readonly x: number;
  readonly y: number;
}

// Same digit counts as TILE_NAME in src/tile/tile-coord.ts, one separator style per name.
const TILE_NAME = /^(\d{1,2})([_/])(\d{1,10})\2(\d{1,10})$/;

/** The parsed name, or undefined when `text` is not `Z_X_Y` / `Z/X/Y` in decimal digits. */
export function parseTileSyntax(text: string): TileName | undefined {
  const m = TILE_NAME.exec(text);
  if (m === null) return undefined;
  return { raw: text, z: Number(m[1]), x: Number(m[3]), y: Number(m[4]) };
}

export const TILE_SYNTAX_HINT = 'expected Z_X_Y or Z/X/Y in decimal digits';
