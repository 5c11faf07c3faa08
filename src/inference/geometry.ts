/**
 * Plane geometry for text boxes: convex hull, minimum-area rectangle and the
 * point orderings PaddleOCR applies. Points are [x, y].
 */
export type Point = [number, number];
export type Quad = [Point, Point, Point, Point];

/** Python 3's round(): halves go to the even neighbour (numpy's np.round too). */
export function pyRound(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : r;
}

export function distance(a: Point, b: Point): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1]);
}

/** Andrew's monotone chain; counter-clockwise in y-down coordinates is irrelevant here. */
export function convexHull(points: Point[]): Point[] {
  const pts = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (pts.length <= 2) return pts;
  const cross = (o: Point, a: Point, b: Point) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lower: Point[] = [];
  for (const p of pts) {
    while (lower.length >= 2 && cross(lower[lower.length - 2]!, lower[lower.length - 1]!, p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper: Point[] = [];
  for (let i = pts.length - 1; i >= 0; i--) {
    const p = pts[i]!;
    while (upper.length >= 2 && cross(upper[upper.length - 2]!, upper[upper.length - 1]!, p) <= 0) upper.pop();
    upper.push(p);
  }
  lower.pop();
  upper.pop();
  return lower.concat(upper);
}

export interface MinAreaRect {
  corners: Quad;
  /** The rectangle's two side lengths. */
  sides: [number, number];
}

/**
 * cv2.minAreaRect + cv2.boxPoints by rotating calipers: the minimum-area
 * enclosing rectangle has a side collinear with a hull edge.
 */
export function minAreaRect(points: Point[]): MinAreaRect {
  const hull = convexHull(points);
  if (hull.length === 0) return { corners: [[0, 0], [0, 0], [0, 0], [0, 0]], sides: [0, 0] };
  if (hull.length === 1) {
    const p = hull[0]!;
    return { corners: [[...p], [...p], [...p], [...p]], sides: [0, 0] };
  }
  let best: MinAreaRect | undefined;
  let bestArea = Infinity;
  for (let i = 0; i < hull.length; i++) {
    const a = hull[i]!;
    const b = hull[(i + 1) % hull.length]!;
    const len = distance(a, b);
    if (len === 0) continue;
    const ux = (b[0] - a[0]) / len;
    const uy = (b[1] - a[1]) / len;
    let minU = Infinity, maxU = -Infinity, minN = Infinity, maxN = -Infinity;
    for (const p of hull) {
      const u = p[0] * ux + p[1] * uy;
      const n = -p[0] * uy + p[1] * ux;
      if (u < minU) minU = u;
      if (u > maxU) maxU = u;
      if (n < minN) minN = n;
      if (n > maxN) maxN = n;
    }
    const area = (maxU - minU) * (maxN - minN);
    if (area < bestArea) {
      bestArea = area;
      const at = (u: number, n: number): Point => [u * ux - n * uy, u * uy + n * ux];
      best = { corners: [at(minU, minN), at(maxU, minN), at(maxU, maxN), at(minU, maxN)], sides: [maxU - minU, maxN - minN] };
    }
  }
  return best!;
}

/**
 * ppocr/postprocess/db_postprocess.py get_mini_boxes: the min-area rectangle
 * as [top-left, top-right, bottom-right, bottom-left] after sorting by x,
 * and its shorter side.
 */
export function getMiniBoxes(points: Point[]): { box: Quad; sside: number } {
  const rect = minAreaRect(points);
  const p = [...rect.corners].sort((a, b) => a[0] - b[0]);
  const [i1, i4] = p[1]![1] > p[0]![1] ? [0, 1] : [1, 0];
  const [i2, i3] = p[3]![1] > p[2]![1] ? [2, 3] : [3, 2];
  return { box: [p[i1]!, p[i2]!, p[i3]!, p[i4]!], sside: Math.min(rect.sides[0], rect.sides[1]) };
}

export function polygonArea(pts: Point[]): number {
  let s = 0;
  for (let i = 0; i < pts.length; i++) {
    const a = pts[i]!;
    const b = pts[(i + 1) % pts.length]!;
    s += a[0] * b[1] - b[0] * a[1];
  }
  return Math.abs(s) / 2;
}

export function polygonPerimeter(pts: Point[]): number {
  let s = 0;
  for (let i = 0; i < pts.length; i++) s += distance(pts[i]!, pts[(i + 1) % pts.length]!);
  return s;
}

/**
 * tools/infer/predict_det.py order_points_clockwise: TL = min(x+y),
 * BR = max(x+y), then of the other two TR = min(y−x), BL = max(y−x).
 */
export function orderPointsClockwise(pts: Quad): Quad {
  const s = pts.map((p) => p[0] + p[1]);
  const iMin = s.indexOf(Math.min(...s));
  let iMax = s.indexOf(Math.max(...s));
  if (iMax === iMin) iMax = (iMin + 2) % 4;
  const rest = pts.filter((_, i) => i !== iMin && i !== iMax);
  const d = rest.map((p) => p[1] - p[0]);
  const tr = d[0]! <= d[1]! ? rest[0]! : rest[1]!;
  const bl = d[0]! <= d[1]! ? rest[1]! : rest[0]!;
  return [pts[iMin]!, tr, pts[iMax]!, bl];
}

/**
 * tools/infer/predict_system.py sorted_boxes: top-to-bottom by the top-left
 * corner, then boxes on the same line (top-left y within 10 px) left to
 * right, bubbling each box back past its neighbours.
 */
export function sortedBoxes<T extends { box: Quad }>(items: T[]): T[] {
  const out = [...items].sort((a, b) => a.box[0][1] - b.box[0][1] || a.box[0][0] - b.box[0][0]);
  for (let i = 0; i < out.length - 1; i++) {
    for (let j = i; j >= 0; j--) {
      const a = out[j]!;
      const b = out[j + 1]!;
      if (Math.abs(b.box[0][1] - a.box[0][1]) < 10 && b.box[0][0] < a.box[0][0]) {
        out[j] = b;
        out[j + 1] = a;
      } else {
        break;
      }
    }
  }
  return out;
}
