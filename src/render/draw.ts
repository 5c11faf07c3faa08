/**
 * Draws a block of tiles (a metatile, or one row of one): ocean background,
 * land as one even-odd path, country outlines as one stroked path. Only the
 * parts whose bbox meets the block (plus a small buffer) are touched, and
 * they are clipped to that buffered rectangle, so no draw call ever carries
 * the whole world. Geometry is in integer world units (geometry.ts WORLD);
 * pixels per unit is a power of two, so the scaling is exact.
 *
 * All land parts go into a single path and a single fill: neighbouring parts
 * of a split ring share an edge, and filling them one by one would leave a
 * faint anti-aliased seam along it. Three draw calls per metatile in all.
 */
import type { SKRSContext2D } from '@napi-rs/canvas';
import type { MetaTile } from '../tile/tile-coord.js';
import { clipLine, clipRing, type Rect } from './clip.js';
import { WORLD, type Layer, type ZoomGeometry } from './geometry.js';
import { STYLE } from './style.js';

/**
 * Pixels drawn beyond the metatile edge. Strokes are under 1.5 px wide, so
 * 4 px keeps clip edges, line caps and miter joins out of sight; neighbours
 * then draw the same pixels along their shared edge (no seams).
 */
const BUFFER_PX = 4;

/** Where the block sits: pixels per world (2^z · tile size), pixels per world unit, and the pixel origin of its top-left corner. */
interface View {
  readonly scale: number;
  readonly k: number;
  readonly ox: number;
  readonly oy: number;
}

/**
 * The rectangle, in world units (geometry.ts WORLD), that a block of tiles
 * draws from: the tiles x..x+cols−1, y..y+rows−1 at zoom z, plus the buffer.
 */
export function bufferedRect(z: number, x: number, y: number, cols: number, rows: number, tileSize: number): Rect {
  const perPixel = WORLD / (2 ** z * tileSize); // a power of two: exact
  const buffer = BUFFER_PX * (tileSize / 256);
  return {
    minX: (x * tileSize - buffer) * perPixel,
    minY: (y * tileSize - buffer) * perPixel,
    maxX: ((x + cols) * tileSize + buffer) * perPixel,
    maxY: ((y + rows) * tileSize + buffer) * perPixel,
  };
}

/** What a tile shows, if that can be told without drawing it. */
export type TileKind = 'ocean' | 'land' | 'mixed';

/**
 * Classifies a tile from the geometry index alone. Every visible edge of the
 * land fill is also an outline (coasts are the land object's own arcs), so a
 * tile that no outline part comes near (within the buffer) is one flat
 * colour: ocean if no land part is near either, else whatever the land fill
 * says at one point of the tile. Fill edges that are not outlines — the cuts
 * that split big rings and the antimeridian cut — never show, as all parts are
 * filled in one path.
 */
export function classifyTile(geom: ZoomGeometry, z: number, x: number, y: number, tileSize: number): TileKind {
  const rect = bufferedRect(z, x, y, 1, 1, tileSize);
  let outline = false, fill = false;
  forEachWorldCopy(rect, (r) => {
    outline ||= collides(geom.outline, r);
    fill ||= collides(geom.fill, r);
  });
  if (outline) return 'mixed';
  if (!fill) return 'ocean';
  // A point inside the tile but off every power-of-two grid line (where ring
  // parts were cut), so it lies strictly inside or outside each part.
  const unit = WORLD / 2 ** z;
  return isLand(geom.fill, (x + 0.5123) * unit, (y + 0.4871) * unit) ? 'land' : 'ocean';
}

function collides(layer: Layer, r: Rect): boolean {
  return layer.index.collides(r.minX, r.minY, r.maxX, r.maxY, (i) => i < layer.count);
}

/** Even-odd over all rings: a point is land if an odd number of ring parts contain it. */
function isLand(layer: Layer, px: number, py: number): boolean {
  let inside = false;
  for (const i of layer.index.search(px, py, px, py)) {
    if (i < layer.count && ringContains(layer.coords, layer.offsets[i]!, layer.offsets[i + 1]!, px, py)) inside = !inside;
  }
  return inside;
}

/** Point in the ring c[from .. to) (x,y interleaved). */
function ringContains(c: Int32Array, from: number, to: number, px: number, py: number): boolean {
  let inside = false;
  for (let i = from, j = to - 2; i < to; j = i, i += 2) {
    const xi = c[i]!, yi = c[i + 1]!, xj = c[j]!, yj = c[j + 1]!;
    if (yi > py !== yj > py && px < ((xj - xi) * (py - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

export function drawMetaTile(ctx: SKRSContext2D, geom: ZoomGeometry, meta: MetaTile, tileSize: number): void {
  drawBlock(ctx, geom, meta.z, meta.x, meta.y, meta.size, meta.size, tileSize);
}

/** Draws the tiles x..x+cols−1, y..y+rows−1 at zoom z with the top-left one at the canvas origin. */
export function drawBlock(
  ctx: SKRSContext2D,
  geom: ZoomGeometry,
  z: number,
  x: number,
  y: number,
  cols: number,
  rows: number,
  tileSize: number,
): void {
  const scale = 2 ** z * tileSize;
  const view: View = { scale, k: scale / WORLD, ox: x * tileSize, oy: y * tileSize };
  const rect = bufferedRect(z, x, y, cols, rows, tileSize);

  ctx.fillStyle = STYLE.ocean;
  ctx.fillRect(0, 0, cols * tileSize, rows * tileSize);

  ctx.beginPath();
  forEachWorldCopy(rect, (r, shift) => addRings(ctx, geom.fill, r, shift, view));
  ctx.fillStyle = STYLE.land;
  ctx.fill('evenodd');

  ctx.beginPath();
  forEachWorldCopy(rect, (r, shift) => addLines(ctx, geom.outline, r, shift, view));
  ctx.strokeStyle = STYLE.outline;
  ctx.lineWidth = STYLE.outlineWidth256 * (tileSize / 256);
  ctx.stroke();
}

/**
 * The buffer of a metatile on the antimeridian reaches into the other side of
 * the world; draw that side's geometry shifted by a world so shapes that cross
 * ±180° continue across the map edge instead of stopping at it.
 */
function forEachWorldCopy(rect: Rect, draw: (r: Rect, shift: number) => void): void {
  for (const shift of [-1, 0, 1]) {
    const r = { minX: rect.minX - shift * WORLD, minY: rect.minY, maxX: rect.maxX - shift * WORLD, maxY: rect.maxY };
    if (r.maxX >= 0 && r.minX <= WORLD) draw(r, shift);
  }
}

function inside(layer: Layer, i: number, r: Rect): boolean {
  const b = layer.bboxes;
  return b[4 * i]! >= r.minX && b[4 * i + 1]! >= r.minY && b[4 * i + 2]! <= r.maxX && b[4 * i + 3]! <= r.maxY;
}

function addRings(ctx: SKRSContext2D, layer: Layer, r: Rect, shift: number, v: View): void {
  const k = v.k;
  const ox = v.ox - shift * v.scale, oy = v.oy;
  const { coords, offsets } = layer;
  for (const i of layer.index.search(r.minX, r.minY, r.maxX, r.maxY)) {
    if (i >= layer.count) continue;
    const from = offsets[i]!, to = offsets[i + 1]!;
    let c: ArrayLike<number> = coords, a = from, b = to;
    if (!inside(layer, i, r)) {
      c = clipRing(coords.subarray(from, to), r);
      a = 0;
      b = c.length;
    }
    if (b - a < 6) continue;
    ctx.moveTo(c[a]! * k - ox, c[a + 1]! * k - oy);
    for (let j = a + 2; j < b; j += 2) ctx.lineTo(c[j]! * k - ox, c[j + 1]! * k - oy);
    ctx.closePath();
  }
}

function addLines(ctx: SKRSContext2D, layer: Layer, r: Rect, shift: number, v: View): void {
  const k = v.k;
  const ox = v.ox - shift * v.scale, oy = v.oy;
  const emit = (c: ArrayLike<number>, from: number, to: number): void => {
    ctx.moveTo(c[from]! * k - ox, c[from + 1]! * k - oy);
    for (let j = from + 2; j < to; j += 2) ctx.lineTo(c[j]! * k - ox, c[j + 1]! * k - oy);
  };
  // Sorted ids bring the chunks of one line together. Consecutive chunks are
  // joined back into one polyline before clipping, so a chunk boundary never
  // turns a line join into two caps: the pixels then do not depend on where
  // the metatile's edge happens to cut the line.
  const ids = layer.index.search(r.minX, r.minY, r.maxX, r.maxY).sort((a, b) => a - b);
  let run: number[] = [];
  let runInside = true;
  let last = -2;
  const flush = (): void => {
    if (run.length >= 4) {
      if (runInside) emit(run, 0, run.length);
      else for (const piece of clipLine(run, r)) emit(piece, 0, piece.length);
    }
    run = [];
    runInside = true;
  };
  const { coords, offsets } = layer;
  for (const i of ids) {
    if (i >= layer.count) continue;
    if (!(i === last + 1 && layer.continues[i] === 1)) flush();
    // The first point of a continuing chunk is the last point of the previous one.
    const to = offsets[i + 1]!;
    for (let j = offsets[i]! + (run.length === 0 ? 0 : 2); j < to; j++) run.push(coords[j]!);
    runInside &&= inside(layer, i, r);
    last = i;
  }
  flush();
}
