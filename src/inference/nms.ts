/** A candidate box in [x1, y1, x2, y2] pixels with its best class. */
export interface Candidate {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  score: number;
  classIndex: number;
}

export function iou(a: Candidate, b: Candidate): number {
  const iw = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const ih = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
  return union <= 0 ? 0 : inter / union;
}

/**
 * Greedy non-maximum suppression, best score first: a box is dropped when
 * it overlaps a kept box of the same class (any class when `classAgnostic`)
 * by more than `iouThreshold` — torchvision.ops.batched_nms as Ultralytics'
 * non_max_suppression calls it. Stops at `maxDetections` kept boxes, so
 * the work is O(candidates × maxDetections), not quadratic in candidates.
 */
export function nms(candidates: readonly Candidate[], iouThreshold: number, maxDetections: number, classAgnostic = false): Candidate[] {
  const sorted = [...candidates].sort((a, b) => b.score - a.score);
  const kept: Candidate[] = [];
  for (const c of sorted) {
    if (kept.length >= maxDetections) break;
    let suppressed = false;
    for (const k of kept) {
      if ((classAgnostic || k.classIndex === c.classIndex) && iou(k, c) > iouThreshold) {
        suppressed = true;
        break;
      }
    }
    if (!suppressed) kept.push(c);
  }
  return kept;
}
