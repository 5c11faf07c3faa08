import type { Point } from './geometry.js';

/**
 * The 8-connected foreground regions of a binary map, each reduced to the
 * leftmost and rightmost pixel of every row it covers. That set has the same
 * convex hull as the region (and as the contour cv2.findContours would
 * trace), which is all the quad-mode DB post-processing uses.
 */
export function regionOutlines(bitmap: Uint8Array, width: number, height: number, maxRegions: number): Point[][] {
  const seen = new Uint8Array(bitmap.length);
  const rowMin = new Int32Array(height).fill(-1);
  const rowMax = new Int32Array(height).fill(-1);
  const stack: number[] = [];
  const regions: Point[][] = [];
  for (let start = 0; start < bitmap.length && regions.length < maxRegions; start++) {
    if (!bitmap[start] || seen[start]) continue;
    let top = height;
    let bottom = -1;
    seen[start] = 1;
    stack.push(start);
    while (stack.length > 0) {
      const i = stack.pop()!;
      const y = (i / width) | 0;
      const x = i - y * width;
      if (y < top) top = y;
      if (y > bottom) bottom = y;
      if (rowMin[y] === -1 || x < rowMin[y]!) rowMin[y] = x;
      if (x > rowMax[y]!) rowMax[y] = x;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= width) continue;
          const j = ny * width + nx;
          if (bitmap[j] && !seen[j]) {
            seen[j] = 1;
            stack.push(j);
          }
        }
      }
    }
    const pts: Point[] = [];
    for (let y = top; y <= bottom; y++) {
      if (rowMin[y] === -1) continue;
      pts.push([rowMin[y]!, y]);
      if (rowMax[y] !== rowMin[y]) pts.push([rowMax[y]!, y]);
      rowMin[y] = -1;
      rowMax[y] = -1;
    }
    regions.push(pts);
  }
  return regions;
}
