/**
 * Geometry per zoom level: for every level the shapes of the chosen dataset,
 * simplified to a fraction of a pixel at that zoom, split into small parts,
 * each part's bbox in a flatbush index. A render then only touches the parts
 * near its metatile.
 *
 * A level is stored flat, in a few typed arrays over SharedArrayBuffers
 * (LevelData): one thread prepares it and every render worker reads the same
 * memory, so the geometry is built once per pool, not once per worker, and
 * costs its bytes once. Coordinates are quantised to int32 "world units"
 * (WORLD per world width, see below), half the bytes of float64.
 *
 * Levels are built lazily, the first time a zoom needs one: a z3 render does
 * not wait for the 10m data, and a process that never draws z6+ never loads it.
 */
import Flatbush from 'flatbush';
import { splitRing, type Axis } from './clip.js';
import type { LevelCache } from './geometry-cache.js';
import { simplifyLine, simplifyRing } from './simplify.js';
import { loadWorldShapes, ringArea, type Resolution, type WorldShapes } from './world-data.js';

/**
 * Stored coordinates are unit-square coordinates × WORLD, rounded: 2^-31 of
 * the world at worst, 1/8 px at z20 (1/32 px at z18, 1/8192 px at z10) —
 * far below the data (the 10m arcs are quantised to ~2^-16.5 of the world)
 * and below the simplification tolerance of every level (a quarter pixel at
 * its zoom: 2^-19 at level 9). float32 would give 2^-25 (8 px at z20).
 * Shared edges stay shared: equal float64 values round to equal integers.
 */
export const WORLD = 2 ** 30;

/** One kind of shape (fill rings or outline lines) at one zoom. */
export interface Layer {
  /** Number of parts. */
  readonly count: number;
  /** x,y interleaved, world units; part i is coords[offsets[i] .. offsets[i + 1]). */
  readonly coords: Int32Array;
  readonly offsets: Uint32Array;
  /** minX, minY, maxX, maxY per part, world units. */
  readonly bboxes: Int32Array;
  /** The parts' bboxes (ids 0 … count−1; an empty layer holds one dummy box with id 0 ≥ count). */
  readonly index: Flatbush;
  /** Lines only: 1 where part i starts at the last point of part i−1 (a chunk of the same line). */
  readonly continues: Uint8Array;
}

export interface ZoomGeometry {
  readonly resolution: Resolution;
  readonly fill: Layer;
  readonly outline: Layer;
}

/** A Layer as plain data: typed arrays over SharedArrayBuffers, so postMessage shares them instead of copying. */
export interface LayerData {
  readonly coords: Int32Array;
  readonly offsets: Uint32Array;
  readonly bboxes: Int32Array;
  readonly continues: Uint8Array;
  /** flatbush's own buffer (Flatbush.from). */
  readonly index: SharedArrayBuffer;
}

export interface LevelData {
  readonly resolution: Resolution;
  readonly fill: LayerData;
  readonly outline: LayerData;
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

/** The pixel zoom of a metatile's zoom at a tile size (512 px tiles draw one zoom deeper). */
export function pixelZoomOf(zoom: number, tileSize: number): number {
  return zoom + Math.log2(tileSize / 256);
}

/** The level a pixel zoom draws from (levels above the last one reuse it). */
export function levelForPixelZoom(pixelZoom: number, maxLevel = MAX_SIMPLIFIED_ZOOM): number {
  return Math.max(0, Math.min(pixelZoom, maxLevel));
}

export interface WorldGeometryOptions {
  /** Levels only up to this pixel zoom (default MAX_SIMPLIFIED_ZOOM); deeper zooms use the last. */
  readonly maxPixelZoom?: number;
  /** Override the dataset choice (benchmarks). */
  readonly resolutionForZoom?: (pixelZoom: number) => Resolution;
  /** Build every level now instead of on first use (benchmarks, comparisons). */
  readonly eager?: boolean;
  /** false: never build here; every level must be handed in with addLevel() before it is drawn (render workers). Default true. */
  readonly build?: boolean;
  /** Levels are loaded from here when they are there, and stored after a build (not with a custom resolutionForZoom). */
  readonly cache?: LevelCache;
}

/** Where a level came from: prepared here, or loaded from the cache. */
export type LevelSource = 'built' | 'cache';

/**
 * The levels one thread draws from. Built here on first use (tests, the
 * in-process renderer, the geometry builder thread), or — in a render
 * worker (`build: false`) — handed in ready-made with addLevel().
 */
export class WorldGeometry {
  /** The highest level (levels above it reuse it). */
  readonly maxLevel: number;
  private readonly levels: (ZoomGeometry | undefined)[];
  private readonly data: (LevelData | undefined)[];
  /** Parsed datasets kept for the next level that needs them; dropped by releaseSources(). */
  private readonly shapes = new Map<Resolution, WorldShapes>();
  private readonly pick: (pixelZoom: number) => Resolution;
  private readonly builds: boolean;
  private readonly cache: LevelCache | undefined;
  /** Where each level this thread made came from (undefined: not made here, or handed in). */
  readonly sources: (LevelSource | undefined)[];

  constructor(options: WorldGeometryOptions = {}) {
    this.pick = options.resolutionForZoom ?? resolutionForZoom;
    // A custom dataset choice makes other levels than the cache's key describes.
    this.cache = options.resolutionForZoom === undefined ? options.cache : undefined;
    this.maxLevel = Math.max(0, Math.min(options.maxPixelZoom ?? MAX_SIMPLIFIED_ZOOM, MAX_SIMPLIFIED_ZOOM));
    this.levels = new Array<ZoomGeometry | undefined>(this.maxLevel + 1).fill(undefined);
    this.data = new Array<LevelData | undefined>(this.maxLevel + 1).fill(undefined);
    this.builds = options.build ?? true;
    this.sources = new Array<LevelSource | undefined>(this.maxLevel + 1).fill(undefined);
    if (options.eager) for (let l = 0; l <= this.maxLevel; l++) this.levelData(l);
  }

  levelOf(pixelZoom: number): number {
    return levelForPixelZoom(pixelZoom, this.maxLevel);
  }

  has(level: number): boolean {
    return this.levels[level] !== undefined;
  }

  /** The geometry for a pixel zoom, built now if it is the first use of its level. */
  forPixelZoom(pixelZoom: number): ZoomGeometry {
    const level = this.levelOf(pixelZoom);
    const ready = this.levels[level];
    if (ready !== undefined) return ready;
    if (!this.builds) throw new Error(`geometry level ${level} was not handed to this thread`);
    this.levelData(level);
    return this.levels[level]!;
  }

  /** A level as shareable data (built now if needed). */
  levelData(level: number): LevelData {
    const have = this.data[level];
    if (have !== undefined) return have;
    if (!this.builds) throw new Error(`geometry level ${level} was not handed to this thread`);
    const res = this.pick(level);
    const cached = this.cache?.load(level, res);
    if (cached !== undefined) {
      this.addLevel(level, cached);
      this.sources[level] = 'cache';
      return cached;
    }
    let s = this.shapes.get(res);
    if (s === undefined) {
      s = loadWorldShapes(res);
      this.shapes.set(res, s);
    }
    const data = prepareLevel(s, level);
    this.addLevel(level, data);
    this.sources[level] = 'built';
    this.cache?.store(level, data);
    return data;
  }

  /** Installs a level prepared elsewhere (its arrays are shared, not copied). */
  addLevel(level: number, data: LevelData): void {
    if (!Number.isInteger(level) || level < 0 || level > this.maxLevel) throw new RangeError(`no geometry level ${level}`);
    if (this.levels[level] !== undefined) return;
    this.data[level] = data;
    this.levels[level] = { resolution: data.resolution, fill: layerOf(data.fill), outline: layerOf(data.outline) };
  }

  /** Forgets the parsed datasets (levels already built stay). */
  releaseSources(): void {
    this.shapes.clear();
  }
}

function layerOf(d: LayerData): Layer {
  return {
    count: d.continues.length,
    coords: d.coords,
    offsets: d.offsets,
    bboxes: d.bboxes,
    continues: d.continues,
    index: Flatbush.from(d.index),
  };
}

export function prepareLevel(shapes: WorldShapes, pixelZoom: number): LevelData {
  const tolerance = SIMPLIFY_TOLERANCE_PX / (256 * 2 ** pixelZoom);
  const ringParts: number[][] = [];
  for (const ring of shapes.rings) {
    const s = simplifyRing(ring, tolerance);
    if (s.length >= 6 && ringArea(s) !== 0) splitRingInto(s, ringParts, 0);
  }
  const lineParts: number[][] = [];
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
    fill: packLayer(ringParts, null),
    outline: packLayer(lineParts, continues),
  };
}

/** Halves a big ring along the coarsest power-of-two grid line that crosses it, recursively. */
function splitRingInto(ring: number[], out: number[][], depth: number): void {
  const [minX, minY, maxX, maxY] = bbox(ring);
  const w = maxX - minX, h = maxY - minY;
  if (ring.length / 2 <= MAX_RING_PART_POINTS || Math.max(w, h) < MIN_SPLIT_EXTENT || depth > 40) {
    out.push(ring);
    return;
  }
  const axis: Axis = w >= h ? 0 : 1;
  const edge = axis === 0 ? gridLine(minX, maxX) : gridLine(minY, maxY);
  for (const half of splitRing(ring, axis, edge)) {
    if (half.length >= 6 && ringArea(half) !== 0) splitRingInto(half, out, depth + 1);
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

function bbox(c: ArrayLike<number>): [number, number, number, number] {
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

/** Quantises the parts into one shared coordinate array and indexes their bboxes. */
function packLayer(parts: number[][], continues: number[] | null): LayerData {
  const n = parts.length;
  let total = 0;
  for (const p of parts) total += p.length;
  const coords = new Int32Array(new SharedArrayBuffer(4 * total));
  const offsets = new Uint32Array(new SharedArrayBuffer(4 * (n + 1)));
  const bboxes = new Int32Array(new SharedArrayBuffer(16 * n));
  const cont = new Uint8Array(new SharedArrayBuffer(n));
  let o = 0;
  for (let i = 0; i < n; i++) {
    const p = parts[i]!;
    offsets[i] = o;
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    for (let j = 0; j < p.length; j += 2) {
      const x = Math.round(p[j]! * WORLD), y = Math.round(p[j + 1]! * WORLD);
      coords[o++] = x;
      coords[o++] = y;
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
    }
    bboxes[4 * i] = minX;
    bboxes[4 * i + 1] = minY;
    bboxes[4 * i + 2] = maxX;
    bboxes[4 * i + 3] = maxY;
    if (continues !== null) cont[i] = continues[i]!;
  }
  offsets[n] = o;
  return { coords, offsets, bboxes, continues: cont, index: indexBoxes(bboxes, n) };
}

/**
 * A layer's index: its parts' bboxes (4 per part) in part order, as
 * flatbush's shared buffer. Also how a level loaded from the geometry cache
 * gets its index (a stored tree is never read).
 */
export function indexBoxes(bboxes: Int32Array, count: number): SharedArrayBuffer {
  const index = new Flatbush(Math.max(1, count), 16, Int32Array, SharedArrayBuffer);
  for (let i = 0; i < count; i++) index.add(bboxes[4 * i]!, bboxes[4 * i + 1]!, bboxes[4 * i + 2]!, bboxes[4 * i + 3]!);
  if (count === 0) index.add(0, 0, 0, 0); // flatbush needs one item; its id 0 is ≥ count, so it matches no part
  index.finish();
  return index.data as SharedArrayBuffer;
}
