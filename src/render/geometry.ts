/**
 * Geometry prepared once per worker: for every zoom the shapes of the chosen
 * dataset, simplified to a fraction of a pixel at that zoom, split into small
 * parts, and each part's bbox in a flatbush index. A render then only touches
 * the parts near its metatile.
 */
import Flatbush from 'flatbush';
import { splitRing, type Axis } from './clip.js';
import { simplifyLine, simplifyRing } from './simplify.js';
import { loadWorldShapes, ringArea, type Resolution, type WorldShapes } from './world-data.js';

/** One kind of shape (fill rings or outline lines) at one zoom. */
export interface Layer {
  readonly parts: Float64Array[];
  /** minX, minY, maxX, maxY per part. */
  readonly bboxes: Float64Array;
  readonly index: Flatbush;
  /** Lines only: 1 where part i starts at the last point of part i−1 (a chunk of the same line). */
  readonly continues: Uint8Array;
}

export interface ZoomGeometry {
  readonly resolution: Resolution;
  readonly fill: Layer;
  readonly outline: Layer;
}

/**
 * Dataset per "pixel zoom" (zoom + 1 for 512 px tiles, which show as much
 * detail as 256 px tiles one zoom deeper). Natural Earth's scales: 1:110m
 * suits z0–2, 1:50m z3–5, 1:10m from z6.
 */
export function resolutionForZoom(pixelZoom: number): Resolution {
  if (pixelZoom <= 2) return '110m';
  if (pixelZoom <= 5) return '50m';
  return '10m';
}

/** Douglas–Peucker tolerance in pixels. A quarter pixel is invisible after anti-aliasing. */
export const SIMPLIFY_TOLERANCE_PX = 0.25;
/**
 * Above this zoom nothing is simplified further: the 10m data is quantised to
 * ~0.0036° (about 400 m), so at z9 a quarter pixel is already below its detail.
 */
export const MAX_SIMPLIFIED_ZOOM = 9;
/** Rings with more points than this are cut in two until they are small (or tiny in extent). */
const MAX_RING_PART_POINTS = 256;
/** Lines are chunked into runs of at most this many points. */
const MAX_LINE_PART_POINTS = 128;
/** Stop splitting below this extent (unit square): 2^-18 is ~1 px at z10. */
const MIN_SPLIT_EXTENT = 2 ** -18;

export interface WorldGeometryOptions {
  /** Prepare levels only up to this pixel zoom (default MAX_SIMPLIFIED_ZOOM). */
  readonly maxPixelZoom?: number;
  /** Override the dataset choice (benchmarks). */
  readonly resolutionForZoom?: (pixelZoom: number) => Resolution;
}

export class WorldGeometry {
  private readonly levels: ZoomGeometry[] = [];

  constructor(options: WorldGeometryOptions = {}) {
    const pick = options.resolutionForZoom ?? resolutionForZoom;
    const top = Math.min(options.maxPixelZoom ?? MAX_SIMPLIFIED_ZOOM, MAX_SIMPLIFIED_ZOOM);
    const shapes = new Map<Resolution, WorldShapes>();
    for (let z = 0; z <= top; z++) {
      const res = pick(z);
      let s = shapes.get(res);
      if (s === undefined) {
        s = loadWorldShapes(res);
        shapes.set(res, s);
      }
      this.levels.push(prepareLevel(s, z));
    }
  }

  /** The geometry for a pixel zoom (levels above the last prepared one reuse it). */
  forPixelZoom(pixelZoom: number): ZoomGeometry {
    return this.levels[Math.min(pixelZoom, this.levels.length - 1)]!;
  }
}

function prepareLevel(shapes: WorldShapes, pixelZoom: number): ZoomGeometry {
  const tolerance = SIMPLIFY_TOLERANCE_PX / (256 * 2 ** pixelZoom);
  const ringParts: Float64Array[] = [];
  for (const ring of shapes.rings) {
    const s = simplifyRing(ring, tolerance);
    if (s.length >= 6 && ringArea(s) !== 0) splitRingInto(s, ringParts, 0);
  }
  const lineParts: Float64Array[] = [];
  const continues: number[] = [];
  for (const line of shapes.lines) {
    const s = simplifyLine(line, tolerance);
    const n = s.length >> 1;
    for (let start = 0, first = true; start < n - 1; start += MAX_LINE_PART_POINTS - 1, first = false) {
      const end = Math.min(n, start + MAX_LINE_PART_POINTS);
      lineParts.push(s.slice(2 * start, 2 * end));
      continues.push(first ? 0 : 1);
    }
  }
  return {
    resolution: shapes.resolution,
    fill: makeLayer(ringParts, new Uint8Array(ringParts.length)),
    outline: makeLayer(lineParts, Uint8Array.from(continues)),
  };
}

/** Halves a big ring along the coarsest power-of-two grid line that crosses it, recursively. */
function splitRingInto(ring: Float64Array, out: Float64Array[], depth: number): void {
  const [minX, minY, maxX, maxY] = bbox(ring);
  const w = maxX - minX, h = maxY - minY;
  if (ring.length / 2 <= MAX_RING_PART_POINTS || Math.max(w, h) < MIN_SPLIT_EXTENT || depth > 40) {
    out.push(ring);
    return;
  }
  const axis: Axis = w >= h ? 0 : 1;
  const edge = axis === 0 ? gridLine(minX, maxX) : gridLine(minY, maxY);
  for (const half of splitRing(ring, axis, edge)) {
    if (half.length >= 6 && ringArea(half) !== 0) splitRingInto(Float64Array.from(half), out, depth + 1);
  }
}

/** The coarsest line k·2^-l strictly between lo and hi (so parts line up with tile edges). */
function gridLine(lo: number, hi: number): number {
  for (let step = 0.5; ; step /= 2) {
    const c = Math.ceil(lo / step) * step;
    if (c > lo && c < hi) return c;
    if (step < 1e-12) return (lo + hi) / 2;
  }
}

function bbox(c: Float64Array): [number, number, number, number] {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (let i = 0; i < c.length; i += 2) {
    const x = c[i]!, y = c[i + 1]!;
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  return [minX, minY, maxX, maxY];
}

function makeLayer(parts: Float64Array[], continues: Uint8Array): Layer {
  const bboxes = new Float64Array(parts.length * 4);
  const index = new Flatbush(Math.max(1, parts.length));
  parts.forEach((p, i) => {
    const b = bbox(p);
    bboxes.set(b, 4 * i);
    index.add(b[0], b[1], b[2], b[3]);
  });
  if (parts.length === 0) index.add(0, 0, 0, 0); // flatbush needs one item; it matches no part id
  index.finish();
  return { parts, bboxes, index, continues };
}
