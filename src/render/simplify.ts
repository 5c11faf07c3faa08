/**
 * Douglas–Peucker on flat coordinate arrays. simplify-js works on {x, y}
 * objects; a typed-array version avoids allocating ~1M objects per zoom
 * level for the 10m data at start-up.
 */

/** Simplifies a polyline; the first and last points are always kept. */
export function simplifyLine(c: Float64Array, tolerance: number): Float64Array {
  const n = c.length >> 1;
  if (n <= 2 || tolerance <= 0) return c;
  const keep = new Uint8Array(n);
  keep[0] = 1;
  keep[n - 1] = 1;
  markRange(c, 0, n - 1, tolerance * tolerance, keep);
  return collect(c, keep);
}

/**
 * Simplifies a closed ring (no repeated closing point). The ring is split at
 * the point farthest from its first point so both halves are open lines.
 */
export function simplifyRing(c: Float64Array, tolerance: number): Float64Array {
  const n = c.length >> 1;
  if (n <= 3 || tolerance <= 0) return c;
  const x0 = c[0]!, y0 = c[1]!;
  let far = 0, farD = -1;
  for (let i = 1; i < n; i++) {
    const dx = c[2 * i]! - x0, dy = c[2 * i + 1]! - y0;
    const d = dx * dx + dy * dy;
    if (d > farD) { farD = d; far = i; }
  }
  // Close the ring for the second half by appending the first point.
  const closed = new Float64Array(c.length + 2);
  closed.set(c);
  closed[2 * n] = x0;
  closed[2 * n + 1] = y0;
  const keep = new Uint8Array(n + 1);
  keep[0] = 1;
  keep[far] = 1;
  keep[n] = 1;
  const t2 = tolerance * tolerance;
  markRange(closed, 0, far, t2, keep);
  markRange(closed, far, n, t2, keep);
  keep[n] = 0; // drop the appended closing point again
  return collect(closed, keep);
}

function markRange(c: Float64Array, first: number, last: number, tol2: number, keep: Uint8Array): void {
  const stack: number[] = [first, last];
  while (stack.length > 0) {
    const b = stack.pop()!, a = stack.pop()!;
    const ax = c[2 * a]!, ay = c[2 * a + 1]!;
    const dx = c[2 * b]! - ax, dy = c[2 * b + 1]! - ay;
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

function collect(c: Float64Array, keep: Uint8Array): Float64Array {
  let m = 0;
  for (let i = 0; i < keep.length; i++) m += keep[i]!;
  const out = new Float64Array(2 * m);
  let j = 0;
  for (let i = 0; i < keep.length; i++) {
    if (keep[i]) { out[j++] = c[2 * i]!; out[j++] = c[2 * i + 1]!; }
  }
  return out;
}
