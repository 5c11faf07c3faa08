/**
 * Rectangle clipping on flat coordinate arrays [x0, y0, x1, y1, …].
 * Polygons: Sutherland–Hodgman, one pass per edge. Its output can hold
 * zero-width "bridges" along the clip edge where a concave ring leaves and
 * re-enters; they add no area, so an even-odd fill is unchanged — which is why
 * rings are only ever filled after clipping, never stroked (outlines are
 * drawn from separately clipped lines).
 */

export interface Rect {
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
}

export type Axis = 0 | 1;

/** One Sutherland–Hodgman pass: keeps the side of `coord[axis] = edge` given by `keepBelow`. */
function clipPass(src: ArrayLike<number>, n: number, axis: Axis, edge: number, keepBelow: boolean): number[] {
  const out: number[] = [];
  if (n === 0) return out;
  const inside = (v: number): boolean => (keepBelow ? v <= edge : v >= edge);
  let px = src[2 * n - 2]!, py = src[2 * n - 1]!;
  let pIn = inside(axis === 0 ? px : py);
  for (let i = 0; i < n; i++) {
    const cx = src[2 * i]!, cy = src[2 * i + 1]!;
    const cIn = inside(axis === 0 ? cx : cy);
    if (cIn !== pIn) {
      // Crossing: interpolate from the previous point so both neighbours of a
      // shared edge compute the same intersection.
      if (axis === 0) {
        const t = (edge - px) / (cx - px);
        out.push(edge, py + t * (cy - py));
      } else {
        const t = (edge - py) / (cy - py);
        out.push(px + t * (cx - px), edge);
      }
    }
    if (cIn) out.push(cx, cy);
    px = cx; py = cy; pIn = cIn;
  }
  return out;
}

/** Clips a closed ring (no repeated closing point) to `r`. Returns [] when nothing is left. */
export function clipRing(ring: ArrayLike<number>, r: Rect): number[] {
  let a = clipPass(ring, ring.length >> 1, 0, r.minX, false);
  a = clipPass(a, a.length >> 1, 0, r.maxX, true);
  a = clipPass(a, a.length >> 1, 1, r.minY, false);
  a = clipPass(a, a.length >> 1, 1, r.maxY, true);
  return a.length >= 6 ? a : [];
}

/** Cuts a closed ring at `coord[axis] = edge` into the part below and the part above (either may be empty). */
export function splitRing(ring: ArrayLike<number>, axis: Axis, edge: number): [number[], number[]] {
  const n = ring.length >> 1;
  const below = clipPass(ring, n, axis, edge, true);
  const above = clipPass(ring, n, axis, edge, false);
  return [below.length >= 6 ? below : [], above.length >= 6 ? above : []];
}

/** Clips a closed ring to a vertical strip minX ≤ x ≤ maxX only (antimeridian cuts). */
export function clipRingX(ring: ArrayLike<number>, minX: number, maxX: number): number[] {
  let a = clipPass(ring, ring.length >> 1, 0, minX, false);
  a = clipPass(a, a.length >> 1, 0, maxX, true);
  return a.length >= 6 ? a : [];
}

/**
 * Clips a polyline to `r` (Liang–Barsky per segment). Returns the pieces
 * inside, each with at least two points; consecutive inside segments are
 * joined so strokes keep their joins.
 */
export function clipLine(line: ArrayLike<number>, r: Rect): number[][] {
  const runs: number[][] = [];
  let run: number[] | null = null;
  const n = line.length >> 1;
  for (let i = 1; i < n; i++) {
    const ax = line[2 * i - 2]!, ay = line[2 * i - 1]!, bx = line[2 * i]!, by = line[2 * i + 1]!;
    const dx = bx - ax, dy = by - ay;
    let t0 = 0, t1 = 1;
    // p·t ≤ q for each of the four edges.
    const ps = [-dx, dx, -dy, dy];
    const qs = [ax - r.minX, r.maxX - ax, ay - r.minY, r.maxY - ay];
    let visible = true;
    for (let k = 0; k < 4 && visible; k++) {
      const p = ps[k]!, q = qs[k]!;
      if (p === 0) {
        if (q < 0) visible = false;
      } else {
        const t = q / p;
        if (p < 0) { if (t > t1) visible = false; else if (t > t0) t0 = t; }
        else { if (t < t0) visible = false; else if (t < t1) t1 = t; }
      }
    }
    if (!visible) { run = null; continue; }
    if (run === null || t0 > 0) {
      run = [t0 === 0 ? ax : ax + t0 * dx, t0 === 0 ? ay : ay + t0 * dy];
      runs.push(run);
    }
    if (t1 === 1) run.push(bx, by);
    else { run.push(ax + t1 * dx, ay + t1 * dy); run = null; }
  }
  return runs;
}
