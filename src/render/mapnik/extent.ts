/** Web Mercator (EPSG:3857) maths for metatiles, apart from Mapnik so it is testable anywhere. */
import type { MetaTile } from '../../tile/tile-coord.js';

/** Half the width of the Web Mercator world, metres (π × 6378137). */
export const WORLD_HALF_METRES = Math.PI * 6378137;

/** [minx, miny, maxx, maxy] in EPSG:3857 metres of a metatile's tiles (no buffer). */
export function metaExtent(meta: MetaTile): [number, number, number, number] {
  const span = (2 * WORLD_HALF_METRES) / 2 ** meta.z;
  const minx = -WORLD_HALF_METRES + meta.x * span;
  const maxy = WORLD_HALF_METRES - meta.y * span;
  return [minx, maxy - meta.size * span, minx + meta.size * span, maxy];
}
