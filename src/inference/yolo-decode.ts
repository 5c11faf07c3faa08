import { ProcessingError } from '../errors.js';
import type { Candidate } from './nms.js';

/**
 * The two YOLO ONNX output layouts (no NMS inside the model):
 * - yolov5: [1, N, 5 + C], each row cx, cy, w, h, objectness, C class scores;
 * - yolov8: [1, 4 + C, N], each column cx, cy, w, h, C class scores (YOLOv8/v11, no objectness).
 * Boxes are in model-input (letterboxed) pixels.
 */
export type YoloLayout = 'yolov5' | 'yolov8';

/**
 * Which layout a [1, A, B] output is, given C classes: the one whose
 * attribute dimension fits C; if both or neither fit, the larger dimension
 * is the anchor count N (thousands, against 4 + C attributes).
 */
export function detectLayout(dims: readonly number[], classes: number): YoloLayout {
  const [batch, a, b] = dims;
  if (dims.length !== 3 || batch !== 1 || !a || !b) {
    throw new ProcessingError(`a YOLO output must be [1, N, 5 + C] or [1, 4 + C, N], got [${dims.join(', ')}]`);
  }
  const v8 = a === 4 + classes;
  const v5 = b === 5 + classes;
  if (v8 !== v5) return v8 ? 'yolov8' : 'yolov5';
  return a < b ? 'yolov8' : 'yolov5';
}

/**
 * Rows scoring at least `confidence` as [x1, y1, x2, y2] candidates with
 * their best class (Ultralytics' non_max_suppression with multi_label off;
 * for yolov5 the score is objectness × class score, and rows whose
 * objectness alone is below `confidence` are skipped, as YOLOv5 does).
 */
export function decodeYolo(data: Float32Array, dims: readonly number[], layout: YoloLayout, classes: number, confidence: number): Candidate[] {
  const [, a, b] = dims as [number, number, number];
  const attrs = layout === 'yolov8' ? 4 + classes : 5 + classes;
  const n = layout === 'yolov8' ? b : a;
  if ((layout === 'yolov8' ? a : b) !== attrs || data.length !== n * attrs) {
    throw new ProcessingError(
      `the ${layout} output [${dims.join(', ')}] does not hold ${classes} class scores per box ` +
        `(expected ${layout === 'yolov8' ? `[1, ${attrs}, N]` : `[1, N, ${attrs}]`}; check the labels and "format")`,
    );
  }
  // v8 is attribute-major (column per box), v5 box-major (row per box).
  const at = layout === 'yolov8' ? (i: number, k: number) => data[k * n + i]! : (i: number, k: number) => data[i * attrs + k]!;
  const first = layout === 'yolov8' ? 4 : 5;
  const out: Candidate[] = [];
  for (let i = 0; i < n; i++) {
    const obj = layout === 'yolov5' ? at(i, 4) : 1;
    if (obj < confidence) continue;
    let best = -Infinity;
    let cls = 0;
    for (let c = 0; c < classes; c++) {
      const s = at(i, first + c);
      if (s > best) {
        best = s;
        cls = c;
      }
    }
    const score = obj * best;
    if (!(score >= confidence)) continue; // also drops NaN
    const cx = at(i, 0);
    const cy = at(i, 1);
    const hw = at(i, 2) / 2;
    const hh = at(i, 3) / 2;
    if (!Number.isFinite(cx + cy + hw + hh)) continue; // a broken export must not put NaN boxes on the wire
    out.push({ x1: cx - hw, y1: cy - hh, x2: cx + hw, y2: cy + hh, score, classIndex: cls });
  }
  return out;
}
