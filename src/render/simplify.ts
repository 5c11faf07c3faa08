/**
 * Douglas–Peucker on flat coordinate arrays. simplify-js works on {x, y}
 * objects; a flat version avoids allocating ~1M objects per zoom level for
 * the 10m data. Plain arrays in and out (see WorldShapes on why not typed
 * arrays); the input is returned as is when nothing can be dropped.
 */

/** Per-point marks, reused from call to call (one buffer, not one malloc per line). */
let marks = new Uint8Array(1 << 12);

function keepMarks(n: number): Uint8Array {
  if (marks.length < n) marks = new Uint8Array(Math.max(n, 2 * marks.length));
  marks.fill(0, 0, n);
  return marks;
}

/** Simplifies a polyline; the first and last points are always kept. */
export function simplifyLine<T extends ArrayLike<number>>(c: T, tolerance: number): T | number[] {
  const n = c.length >> 1;
  if (n <= 2 || tolerance <= 0) return c;
  const keep = keepMarks(n);
  keep[0] = 1;
  keep[n - 1] = 1;
  markRange(c, 0, n - 1, tolerance * tolerance, keep);
  return collect(c, keep, n);
}

/**
 * Simplifies a closed ring (no repeated closing point). The ring is split at
 * the point farthest from its first point so both halves are open lines.
 */
export function simplifyRing<T extends ArrayLike<number>>(c: T, tolerance: number): T | number[] {
  const n = c.length >> 1;
  if (n <= 3 || tolerance <= 0) return c;
  const x0 = c[0]!, y0 = c[1]!;
  let far = 0, farD = -1;
  for (let i = 1; i < n; i++) {
    const dx = c[2 * i]! - x0, dy = c[2 * i + 1]! - y0;
    const d = dx * dx + dy * dy;
    if (d > farD) { farD = d; far = i; }
  }
  // The second half runs from `far` round to the first point again, as point n.
  const keep = keepMarks(n + 1);
  keep[0] = 1;
  keep[far] = 1;
  keep[n] = 1;
  const t2 = tolerance * tolerance;
  markRange(c, 0, far, t2, keep, n);
  markRange(c, far, n, t2, keep, n);
  return collect(c, keep, n); // not point n, the first point again
}

/** Douglas–Peucker marks between points first and last of c; point `wrap` (a ring's closing point) is point 0. */
function markRange(c: ArrayLike<number>, first: number, last: number, tol2: number, keep: Uint8Array, wrap = -1): void {
  const stack: number[] = [first, last];
  while (stack.length > 0) {
    const b = stack.pop()!, a = stack.pop()!;
    const ax = c[2 * a]!, ay = c[2 * a + 1]!;
    const bi = b === wrap ? 0 : b; // only the end of a range can be the closing point
    const dx = c[2 * bi]! - ax, dy = c[2 * bi + 1]! - ay;
    const len2 = dx * dx + dy * dy;
    let maxD = tol2, idx = -1;
    for (let i = a + 1; i < b; i++) {
      const d = segDist2(c[2 * i]!, c[2 * i + 1]!, ax, ay, dx, dy, len2);
      if (d > maxD) { maxD = d; idx = i; }
    }
    if (idx >= 0) {
      keep[idx] = 1;
      stack.push(a, idx, idx, b);
    }
  }
}

function segDist2(px: number, py: number, ax: number, ay: number, dx: number, dy: number, len2: number): number {
  let x = ax, y = ay;
  if (len2 > 0) {
    const t = ((px - ax) * dx + (py - ay) * dy) / len2;
    if (t >= 1) { x = ax + dx; y = ay + dy; }
    else if (t > 0) { x = ax + t * dx; y = ay + t * dy; }
  }
  const ex = px - x, ey = py - y;
  return ex * ex + ey * ey;
}

/** The points of c (first n) whose mark is set. */
function collect(c: ArrayLike<number>, keep: Uint8Array, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    if (keep[i]) out.push(c[2 * i]!, c[2 * i + 1]!);
  }
  return out;
}
