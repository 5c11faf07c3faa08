import { onMap, type TileCoord } from '../tile/tile-coord.js';
import type { Viewport } from '../tile/viewport.js';

export type { Viewport } from '../tile/viewport.js';

export function inViewport(t: TileCoord, v: Viewport): boolean {
  return t.map === v.map && t.z === v.z && t.x >= v.minX && t.x <= v.maxX && t.y >= v.minY && t.y <= v.maxY;
}

/**
 * Near the viewport: a one-tile ring around it at the same zoom, or the
 * area it covers at the zoom above or below.
 */
export function nearViewport(t: TileCoord, v: Viewport, ring = 1): boolean {
  if (t.map !== v.map) return false;
  if (t.z === v.z) {
    return t.x >= v.minX - ring && t.x <= v.maxX + ring && t.y >= v.minY - ring && t.y <= v.maxY + ring;
  }
  if (t.z === v.z + 1) {
    return t.x >= 2 * v.minX && t.x <= 2 * v.maxX + 1 && t.y >= 2 * v.minY && t.y <= 2 * v.maxY + 1;
  }
  if (t.z === v.z - 1) {
    return t.x >= v.minX >> 1 && t.x <= v.maxX >> 1 && t.y >= v.minY >> 1 && t.y <= v.maxY >> 1;
  }
  return false;
}

/** Tiles worth prefetching for a viewport: the ring around it and the zoom above and below, clamped to the grid. */
export function* prefetchTiles(v: Viewport, maxZoom: number, ring = 1): Generator<TileCoord> {
  const n = 2 ** v.z;
  for (let y = Math.max(0, v.minY - ring); y <= Math.min(n - 1, v.maxY + ring); y++) {
    for (let x = Math.max(0, v.minX - ring); x <= Math.min(n - 1, v.maxX + ring); x++) {
      if (x >= v.minX && x <= v.maxX && y >= v.minY && y <= v.maxY) continue;
      yield onMap({ z: v.z, x, y }, v.map);
    }
  }
  if (v.z > 0) {
    for (let y = v.minY >> 1; y <= v.maxY >> 1; y++) {
      for (let x = v.minX >> 1; x <= v.maxX >> 1; x++) yield onMap({ z: v.z - 1, x, y }, v.map);
    }
  }
  if (v.z < maxZoom) {
    for (let y = 2 * v.minY; y <= 2 * v.maxY + 1; y++) {
      for (let x = 2 * v.minX; x <= 2 * v.maxX + 1; x++) yield onMap({ z: v.z + 1, x, y }, v.map);
    }
  }
}
