import ClipperLib from 'clipper-lib';
import type { OcrModelConfig } from './config.js';
import { regionOutlines } from './components.js';
import {
  distance, getMiniBoxes, orderPointsClockwise, polygonArea, polygonPerimeter, pyRound,
  type Point, type Quad,
} from './geometry.js';

/**
 * DB post-processing, ppocr/postprocess/db_postprocess.py DBPostProcess
 * (box_type 'quad', score_mode 'fast', no dilation), followed by
 * tools/infer/predict_det.py filter_tag_det_res. Returns boxes in source
 * image pixels as [TL, TR, BR, BL].
 */
export function dbPostprocess(
  pred: Float32Array, mapW: number, mapH: number, srcW: number, srcH: number, det: OcrModelConfig['det'],
): Quad[] {
  return dbDetect(pred, mapW, mapH, srcW, srcH, det).map((b) => b.box);
}

export interface ScoredQuad {
  box: Quad;
  /** box_score_fast of the box before unclipping: the mean probability inside it. */
  score: number;
}

/** dbPostprocess with each box's score (the `detector` kind's `db` format reports it). */
export function dbDetect(
  pred: Float32Array, mapW: number, mapH: number, srcW: number, srcH: number, det: OcrModelConfig['det'],
): ScoredQuad[] {
  const bitmap = new Uint8Array(pred.length);
  for (let i = 0; i < pred.length; i++) bitmap[i] = pred[i]! > det.thresh ? 1 : 0;
  const boxes: ScoredQuad[] = [];
  for (const outline of regionOutlines(bitmap, mapW, mapH, det.maxCandidates)) {
    const first = getMiniBoxes(outline);
    if (first.sside < det.minSize) continue;
    const score = boxScoreFast(pred, mapW, mapH, first.box);
    if (score < det.boxThresh) continue;
    const expanded = unclip(first.box, det.unclipRatio);
    if (expanded.length === 0) continue;
    const second = getMiniBoxes(expanded);
    // db_postprocess.py: `if sside < self.min_size + 2: continue`
    if (second.sside < det.minSize + 2) continue;
    const box = second.box.map(([x, y]): Point => [
      clamp(pyRound((x / mapW) * srcW), 0, srcW),
      clamp(pyRound((y / mapH) * srcH), 0, srcH),
    ]) as Quad;
    const kept = filterBox(box, srcW, srcH);
    if (kept) boxes.push({ box: kept, score });
  }
  return boxes;
}

/** predict_det.py filter_tag_det_res: order, clip to the image, drop boxes ≤ 3 px wide or high. */
export function filterBoxes(boxes: Quad[], srcW: number, srcH: number): Quad[] {
  return boxes.map((b) => filterBox(b, srcW, srcH)).filter((q): q is Quad => q !== undefined);
}

function filterBox(b: Quad, srcW: number, srcH: number): Quad | undefined {
  const q = orderPointsClockwise(b).map(([x, y]): Point => [
    Math.trunc(clamp(x, 0, srcW - 1)),
    Math.trunc(clamp(y, 0, srcH - 1)),
  ]) as Quad;
  const w = Math.trunc(distance(q[0], q[1]));
  const h = Math.trunc(distance(q[0], q[3]));
  return w <= 3 || h <= 3 ? undefined : q;
}

/**
 * db_postprocess.py box_score_fast: the mean of the probability map inside
 * the box (cv2.fillPoly on int32 corners over the clipped bounding box).
 */
export function boxScoreFast(pred: Float32Array, w: number, h: number, box: Quad): number {
  const xs = box.map((p) => p[0]);
  const ys = box.map((p) => p[1]);
  const xmin = clamp(Math.floor(Math.min(...xs)), 0, w - 1);
  const xmax = clamp(Math.ceil(Math.max(...xs)), 0, w - 1);
  const ymin = clamp(Math.floor(Math.min(...ys)), 0, h - 1);
  const ymax = clamp(Math.ceil(Math.max(...ys)), 0, h - 1);
  // int32 conversion in the Python truncates toward zero after shifting.
  const poly = box.map(([x, y]): Point => [Math.trunc(x - xmin) + xmin, Math.trunc(y - ymin) + ymin]);
  let sum = 0;
  let n = 0;
  for (let y = ymin; y <= ymax; y++) {
    const span = convexSpan(poly, y);
    if (!span) continue;
    const x0 = Math.max(xmin, Math.ceil(span[0] - 1e-9));
    const x1 = Math.min(xmax, Math.floor(span[1] + 1e-9));
    for (let x = x0; x <= x1; x++) {
      sum += pred[y * w + x]!;
      n++;
    }
  }
  return n === 0 ? 0 : sum / n;
}

/** The x-extent of a convex polygon on the horizontal line at y (edges included). */
function convexSpan(poly: Point[], y: number): [number, number] | undefined {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < poly.length; i++) {
    const [ax, ay] = poly[i]!;
    const [bx, by] = poly[(i + 1) % poly.length]!;
    if (y < Math.min(ay, by) || y > Math.max(ay, by)) continue;
    if (ay === by) {
      lo = Math.min(lo, ax, bx);
      hi = Math.max(hi, ax, bx);
    } else {
      const x = ax + ((y - ay) / (by - ay)) * (bx - ax);
      lo = Math.min(lo, x);
      hi = Math.max(hi, x);
    }
  }
  return lo <= hi ? [lo, hi] : undefined;
}

/**
 * db_postprocess.py unclip: grow the box by area × ratio / perimeter
 * (shapely) with a round-joined polygon offset (pyclipper JT_ROUND,
 * ET_CLOSEDPOLYGON; clipper-lib is the same Clipper 6 with the same
 * miter-limit 2 and arc-tolerance 0.25 defaults). Clipper works on integer
 * coordinates; pyclipper truncates, we do too.
 */
export function unclip(box: Quad, ratio: number): Point[] {
  const perimeter = polygonPerimeter(box);
  if (perimeter === 0) return [];
  const delta = (polygonArea(box) * ratio) / perimeter;
  const offset = new ClipperLib.ClipperOffset();
  offset.AddPath(box.map(([x, y]) => ({ X: Math.trunc(x), Y: Math.trunc(y) })), ClipperLib.JoinType.jtRound, ClipperLib.EndType.etClosedPolygon);
  const solution: { X: number; Y: number }[][] = [];
  offset.Execute(solution, delta);
  return solution.flat().map((p): Point => [p.X, p.Y]);
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
