/**
 * Metatile checks and the rendered-tile type, apart from the renderer so the
 * main thread (RenderPool) can use them without loading Skia and sharp.
 */
import { BadTileError } from '../errors.js';
import { MAX_SUPPORTED_ZOOM } from '../limits.js';
import type { MetaTile } from '../tile/tile-coord.js';

export interface RenderedTile {
  readonly x: number;
  readonly y: number;
  readonly png: Uint8Array;
}

/** Largest metatile side in pixels (16×16 tiles of 256 px, 8×8 of 512 px). */
export const MAX_META_PIXELS = 4096;

export function checkMeta(meta: MetaTile, tileSize: number): void {
  const { z, x, y, size } = meta;
  const n = 2 ** z;
  if (![z, x, y, size].every(Number.isInteger) || z < 0 || z > MAX_SUPPORTED_ZOOM) {
    throw new BadTileError(`not a metatile: ${JSON.stringify(meta)}`);
  }
  if (size < 1 || size > n || x < 0 || y < 0 || x + size > n || y + size > n) {
    throw new BadTileError(`metatile ${z}/${x}/${y} size ${size} is outside the zoom ${z} grid`);
  }
  if (size * tileSize > MAX_META_PIXELS) {
    throw new BadTileError(`metatile size ${size} × ${tileSize} px is over the ${MAX_META_PIXELS} px limit`);
  }
}
