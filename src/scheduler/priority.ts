/**
 * Priority classes, highest first. The scheduler always starts the queued
 * job whose class is highest; within a class, first come first served.
 *
 *   visible      inside the asking client's current viewport
 *   interactive  a tile someone asked for (line, framed `render`, HTTP)
 *   prefetch     a ring around the viewport, and the zoom above/below
 *   dirty        re-render of a tile that exists (`dirty`, `expire`)
 *   bulk         seeding (`mosaicd seed`)
 *
 * Inference runs in its own lane (its own workers and queue), so a bulk
 * seed cannot starve camera requests and a camera flood cannot starve tiles.
 */
export const PRIORITY_CLASSES = ['visible', 'interactive', 'prefetch', 'dirty', 'bulk'] as const;
export type PriorityClass = (typeof PRIORITY_CLASSES)[number];

/** p-queue priority numbers: larger runs first. */
export const PRIORITY_VALUE: Readonly<Record<PriorityClass, number>> = Object.freeze({
  visible: 50,
  interactive: 40,
  prefetch: 30,
  dirty: 20,
  bulk: 10,
});

/** Default limit of queued tile requests per class (renderd drops at 256 per class; we answer `busy`). */
export const DEFAULT_QUEUE_LIMITS: Readonly<Record<PriorityClass, number>> = Object.freeze({
  visible: 4096,
  interactive: 16384,
  prefetch: 16384,
  dirty: 65536,
  bulk: 65536,
});

/** Default limit of queued inference requests. */
export const DEFAULT_INFERENCE_QUEUE_LIMIT = 256;

export function higher(a: PriorityClass, b: PriorityClass): PriorityClass {
  return PRIORITY_VALUE[a] >= PRIORITY_VALUE[b] ? a : b;
}

export function isPriorityClass(v: unknown): v is PriorityClass {
  return typeof v === 'string' && (PRIORITY_CLASSES as readonly string[]).includes(v);
}
