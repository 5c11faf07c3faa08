/**
 * Draws one metatile: ocean background, land as one even-odd path, country
 * outlines as one stroked path. Only the parts whose bbox meets the metatile
 * (plus a small buffer) are touched, and they are clipped to that buffered
 * rectangle, so no draw call ever carries the whole world.
 *
 * All land parts go into a single path and a single fill: neighbouring parts
 * of a split ring share an edge, and filling them one by one would leave a
 * faint anti-aliased seam along it. Three draw calls per metatile in all.
 */
import type { SKRSContext2D } from '@napi-rs/canvas';
import type { MetaTile } from '../tile/tile-coord.js';
import { clipLine, clipRing, type Rect } from './clip.js';
import type { Layer, ZoomGeometry } from './geometry.js';
import { STYLE } from './style.js';

/**
 * Pixels drawn beyond the metatile edge. Strokes are under 1.5 px wide, so
 * 4 px keeps clip edges, line caps and miter joins out of sight; neighbours
 * then draw the same pixels along their shared edge (no seams).
 */
const BUFFER_PX = 4;

/** Where the metatile sits: pixels per unit and the pixel origin of its top-left corner. */
interface View {
  readonly scale: number;
  readonly ox: number;
  readonly oy: number;
}

/**
 * The unit-square rectangle that a block of tiles draws from: the tiles
 * x..x+cols−1, y..y+rows−1 at zoom z, plus the buffer.
 */
export function bufferedRect(z: number, x: number, y: number, cols: number, rows: number, tileSize: number): Rect {
  const scale = 2 ** z * tileSize;
  const buffer = BUFFER_PX * (tileSize / 256);
  return {
    minX: (x * tileSize - buffer) / scale,
    minY: (y * tileSize - buffer) / scale,
    maxX: ((x + cols) * tileSize + buffer) / scale,
    maxY: ((y + rows) * tileSize + buffer) / scale,
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
  const n = 2 ** z;
  return isLand(geom.fill, (x + 0.5123) / n, (y + 0.4871) / n) ? 'land' : 'ocean';
}

function collides(layer: Layer, r: Rect): boolean {
  return layer.index.collides(r.minX, r.minY, r.maxX, r.maxY, (i) => i < layer.parts.length);
}

/** Even-odd over all rings: a point is land if an odd number of ring parts contain it. */
function isLand(layer: Layer, px: number, py: number): boolean {
  let inside = false;
  for (const i of layer.index.search(px, py, px, py)) {
    const c = layer.parts[i];
    if (c !== undefined && ringContains(c, px, py)) inside = !inside;
  }
  return inside;
}

function ringContains(c: Float64Array, px: number, py: number): boolean {
  let inside = false;
  const n = c.length >> 1;
  for (let i = 0, j = n - 1; i < n; j = i++) {
    const xi = c[2 * i]!, yi = c[2 * i + 1]!, xj = c[2 * j]!, yj = c[2 * j + 1]!;
    if (yi > py !== yj > py && px < ((xj - xi) * (py - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

export function drawMetaTile(ctx: SKRSContext2D, geom: ZoomGeometry, meta: MetaTile, tileSize: number): void {
  const side = meta.size * tileSize;
  const scale = 2 ** meta.z * tileSize;
  const view: View = { scale, ox: meta.x * tileSize, oy: meta.y * tileSize };
  const rect = bufferedRect(meta.z, meta.x, meta.y, meta.size, meta.size, tileSize);

  ctx.fillStyle = STYLE.ocean;
  ctx.fillRect(0, 0, side, side);

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
    const r = { minX: rect.minX - shift, minY: rect.minY, maxX: rect.maxX - shift, maxY: rect.maxY };
    if (r.maxX >= 0 && r.minX <= 1) draw(r, shift);
  }
}

function inside(layer: Layer, i: number, r: Rect): boolean {
  const b = layer.bboxes;
  return b[4 * i]! >= r.minX && b[4 * i + 1]! >= r.minY && b[4 * i + 2]! <= r.maxX && b[4 * i + 3]! <= r.maxY;
}

function addRings(ctx: SKRSContext2D, layer: Layer, r: Rect, shift: number, v: View): void {
  const k = v.scale;
  const ox = v.ox - shift * v.scale, oy = v.oy;
  for (const i of layer.index.search(r.minX, r.minY, r.maxX, r.maxY)) {
    const part = layer.parts[i];
    if (part === undefined) continue;
    const c = inside(layer, i, r) ? part : clipRing(part, r);
    const n = c.length >> 1;
    if (n < 3) continue;
    ctx.moveTo(c[0]! * k - ox, c[1]! * k - oy);
    for (let j = 1; j < n; j++) ctx.lineTo(c[2 * j]! * k - ox, c[2 * j + 1]! * k - oy);
    ctx.closePath();
  }
}

function addLines(ctx: SKRSContext2D, layer: Layer, r: Rect, shift: number, v: View): void {
  const k = v.scale;
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
  for (const i of ids) {
    const part = layer.parts[i];
    if (part === undefined) continue;
    if (!(i === last + 1 && layer.continues[i] === 1)) flush();
    // The first point of a continuing chunk is the last point of the previous one.
    for (let j = run.length === 0 ? 0 : 2; j < part.length; j++) run.push(part[j]!);
    runInside &&= inside(layer, i, r);
    last = i;
  }
  flush();
}
