/**
 * Loads the embedded Natural Earth data (world-atlas TopoJSON) and turns it
 * into planar Web Mercator shapes in the unit square:
 *  - land rings, for the even-odd fill;
 *  - country outlines (coasts and borders, each arc once), for the stroke.
 *
 * world-atlas 2.x geometry is spherical: rings and arcs run straight across
 * ±180° and Antarctica's ring goes round the pole. Drawn planar, those edges
 * would smear bands across the whole map, so every shape is unwrapped to
 * continuous longitudes, closed along the pole if it winds round one, and then
 * cut into the [0, 1] strip (pieces beyond it are shifted back by ±1).
 *
 * Memory: the arcs (all but ~3% of each file) are read straight from the
 * JSON text into one flat array of lon/lat, and rings and lines are put
 * together from it; no GeoJSON is made. Building GeoJSON with
 * topojson-client's feature()/mesh() cost ~170 MB of short-lived JS objects
 * for the 10m file, this ~30 MB. The result is the same, number for number
 * (test/render/world-data.test.ts checks it against topojson-client).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { meshArcs } from 'topojson-client';
import type { Topology, Transform } from 'topojson-specification';
import type { Position } from 'geojson';
import { clipLine, clipRingX } from './clip.js';
import { latToUnit, lonToUnit } from './mercator.js';

export type Resolution = '110m' | '50m' | '10m';

/**
 * Shapes are plain arrays, not typed arrays: they live only in the thread
 * that prepares geometry, and in the JS heap their memory goes back to the
 * system when that thread ends. Typed arrays of this size come from malloc,
 * which keeps a finished thread's arena (tens of MB for 10m) for ever.
 */
export interface WorldShapes {
  readonly resolution: Resolution;
  /** Closed rings (no repeated closing point), x,y interleaved; fill with even-odd. */
  readonly rings: number[][];
  /** Open polylines. */
  readonly lines: number[][];
}

/** Lines may run past ±85.05°; project them to just short of the pole and clip at y ∈ [0, 1]. */
const LINE_LAT_LIMIT = 89.9;
/** Rings smaller than this (unit² area) are dropped: slivers and the pole "hole" that the cut collapses to a line. */
const MIN_RING_AREA = 1e-16;

const require = createRequire(import.meta.url);

/** A topology whose arcs are decoded into flat arrays. */
export interface PackedTopology {
  readonly objects: Topology['objects'];
  readonly transform: Transform | undefined;
  /** Arc i is points arcStart[i] … arcStart[i + 1] − 1. */
  readonly arcStart: number[];
  /** lon, lat per point (transform applied). */
  readonly lonLat: number[];
  /** Per arc, its first and last point as stored (quantised, absolute): x0, y0, x1, y1. For stitching. */
  readonly arcEnds: number[];
}

export function loadWorldShapes(resolution: Resolution): WorldShapes {
  // countries-*.json holds both objects we need: `land` (the countries
  // merged, the same geometry as land-*.json) and `countries`. Taking both
  // from one topology means coast strokes and land fill share the same arcs,
  // and only one file is parsed.
  return shapesOf(resolution, readPackedTopology(`countries-${resolution}.json`));
}

export function shapesOf(resolution: Resolution, topo: PackedTopology): WorldShapes {
  const landObject = topo.objects['land']!;
  const countries = topo.objects['countries']!;
  const rings: number[][] = [];
  // The land object's rings, in the order topojson-client's feature() gives them.
  forEachPolygonRing(landObject, (arcs) => {
    for (const piece of cutRingFlat(ringOf(topo, arcs))) rings.push(piece);
  });

  // Outlines: coastlines (the land object's arcs) and borders (arcs between
  // two different countries), each arc once, so shared borders are not
  // stroked twice. meshArcs stitches arcs that meet end to start into one
  // line (a join, not two caps); it only needs each arc's end points.
  const stitchable = stitchTopology(topo);
  const coast = meshArcs(stitchable, landObject as never);
  const borders = meshArcs(stitchable, countries as never, (a, b) => a !== b);
  const lines: number[][] = [];
  for (const fragment of [...coast.arcs, ...borders.arcs]) {
    for (const run of dropMeridianRuns(lineOf(topo, fragment))) for (const piece of cutLineFlat(run)) lines.push(piece);
  }
  return { resolution, rings, lines };
}

/** Calls `ring` with each ring's arc indexes of the Polygons and MultiPolygons in `o`. */
function forEachPolygonRing(o: Topology['objects'][string], ring: (arcs: number[]) => void): void {
  switch (o.type) {
    case 'GeometryCollection':
      for (const g of o.geometries) forEachPolygonRing(g, ring);
      return;
    case 'Polygon':
      for (const r of o.arcs) ring(r);
      return;
    case 'MultiPolygon':
      for (const p of o.arcs) for (const r of p) ring(r);
      return;
    default:
      return;
  }
}

/**
 * The points of a chain of arcs, lon/lat interleaved, as topojson-client's
 * object() joins them: each next arc starts where the last ended, so that
 * shared point is kept once; ~i is arc i reversed.
 */
function lineOf(topo: PackedTopology, arcs: readonly number[]): number[] {
  const out: number[] = [];
  const { arcStart, lonLat } = topo;
  for (const a of arcs) {
    if (out.length > 0) out.length -= 2;
    const i = a < 0 ? ~a : a;
    const from = arcStart[i]!, to = arcStart[i + 1]!;
    if (a < 0) for (let p = to - 1; p >= from; p--) out.push(lonLat[2 * p]!, lonLat[2 * p + 1]!);
    else for (let p = from; p < to; p++) out.push(lonLat[2 * p]!, lonLat[2 * p + 1]!);
  }
  if (out.length === 2) out.push(out[0]!, out[1]!); // as topojson-client: a line has two points
  return out;
}

function ringOf(topo: PackedTopology, arcs: readonly number[]): number[] {
  const out = lineOf(topo, arcs);
  while (out.length < 8) out.push(out[0]!, out[1]!); // as topojson-client: a ring has four points
  return out;
}

/**
 * A stand-in topology for topojson-client's stitch(), which reads only each
 * arc's first and last points and, for a two-point arc, its second entry
 * (to spot empty arcs). With a transform (quantised, delta-encoded arcs) the
 * last point is the sum of all entries, so an arc becomes
 * [first, last − first] (plus a zero delta when it had more than two points,
 * so it is not taken for empty); without one, [first, (first,) last].
 */
function stitchTopology(topo: PackedTopology): Topology {
  const { arcStart, arcEnds } = topo;
  const delta = topo.transform !== undefined;
  const n = arcStart.length - 1;
  const arcs: number[][][] = new Array<number[][]>(n);
  for (let i = 0; i < n; i++) {
    const first = [arcEnds[4 * i]!, arcEnds[4 * i + 1]!];
    const x1 = arcEnds[4 * i + 2]!, y1 = arcEnds[4 * i + 3]!;
    const last = delta ? [x1 - first[0]!, y1 - first[1]!] : [x1, y1];
    if (arcStart[i + 1]! - arcStart[i]! <= 2) arcs[i] = [first, last];
    else arcs[i] = delta ? [first, last, [0, 0]] : [first, first, last];
  }
  return delta
    ? { type: 'Topology', objects: topo.objects, arcs, transform: topo.transform }
    : { type: 'Topology', objects: topo.objects, arcs };
}

/** Read, not `require`d: require would keep the parsed JSON cached for ever. */
export function readPackedTopology(file: string): PackedTopology {
  return packTopology(readFileSync(require.resolve(`world-atlas/${file}`)));
}

const enum Ch {
  Quote = 0x22,
  Backslash = 0x5c,
  OpenBracket = 0x5b,
  CloseBracket = 0x5d,
  OpenBrace = 0x7b,
  CloseBrace = 0x7d,
  Minus = 0x2d,
  Zero = 0x30,
  Nine = 0x39,
}

/**
 * Decodes a quantised TopoJSON file: the top-level "arcs" array is scanned
 * number by number into typed arrays, the rest (objects, transform; a few
 * percent of the bytes) goes through JSON.parse. A file whose arcs hold
 * anything but integers (not quantised) is parsed whole instead.
 */
export function packTopology(bytes: Uint8Array): PackedTopology {
  const span = topLevelArcs(bytes);
  if (span !== null) {
    const decoder = new TextDecoder();
    const rest = JSON.parse(
      decoder.decode(bytes.subarray(0, span.start)) + '[]' + decoder.decode(bytes.subarray(span.end)),
    ) as Topology;
    const ints = scanIntegerArcs(bytes, span.start, span.end);
    if (ints !== null && rest.transform !== undefined) return decodeArcs(rest, ints.values, ints.arcStart);
  }
  const whole = JSON.parse(new TextDecoder().decode(bytes)) as Topology;
  return packParsed(whole);
}

/** The byte range [start, end) of the value of the top-level "arcs" key, or null. */
function topLevelArcs(b: Uint8Array): { start: number; end: number } | null {
  let depth = 0;
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c === Ch.Quote) {
      const keyStart = i + 1;
      i++;
      while (i < b.length && b[i] !== Ch.Quote) i += b[i] === Ch.Backslash ? 2 : 1;
      let j = i + 1;
      while (j < b.length && (b[j] === 0x20 || b[j] === 0x0a || b[j] === 0x0d || b[j] === 0x09)) j++;
      const isKey = b[j] === 0x3a; // ':'
      if (isKey && depth === 1 && i - keyStart === 4 && b[keyStart] === 0x61 && b[keyStart + 1] === 0x72 && b[keyStart + 2] === 0x63 && b[keyStart + 3] === 0x73) {
        // "arcs": skip to the value's '[' and find its matching ']'.
        while (j < b.length && b[j] !== Ch.OpenBracket) j++;
        const start = j;
        let d = 0;
        for (; j < b.length; j++) {
          if (b[j] === Ch.OpenBracket) d++;
          else if (b[j] === Ch.CloseBracket && --d === 0) return { start, end: j + 1 };
        }
        return null;
      }
    } else if (c === Ch.OpenBrace || c === Ch.OpenBracket) depth++;
    else if (c === Ch.CloseBrace || c === Ch.CloseBracket) depth--;
  }
  return null;
}

/** [[[x, y], [dx, dy], …], …] of integers → values (x,y per point) and each arc's first point; null on anything else. */
function scanIntegerArcs(b: Uint8Array, start: number, end: number): { values: number[]; arcStart: number[] } | null {
  const values: number[] = [];
  let n = 0;
  const starts: number[] = [];
  let depth = 0;
  for (let i = start; i < end; i++) {
    const c = b[i]!;
    if (c === Ch.OpenBracket) {
      depth++;
      if (depth === 2) starts.push(n >> 1);
    } else if (c === Ch.CloseBracket) {
      depth--;
    } else if (c === Ch.Minus || (c >= Ch.Zero && c <= Ch.Nine)) {
      if (depth !== 3) return null;
      let neg = false;
      if (c === Ch.Minus) {
        neg = true;
        i++;
      }
      let v = 0, digits = 0;
      for (; i < end && b[i]! >= Ch.Zero && b[i]! <= Ch.Nine; i++, digits++) v = v * 10 + (b[i]! - Ch.Zero);
      if (digits === 0 || digits > 15) return null;
      const next = b[i];
      if (next !== 0x2c && next !== Ch.CloseBracket && next !== 0x20) return null; // '.', 'e': not an integer
      i--;
      values.push(neg ? -v : v);
      n++;
    } else if (c !== 0x2c && c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) {
      return null;
    }
  }
  // Points with more than two numbers (x, y, z…) are not expected in world-atlas.
  if (n % 2 !== 0) return null;
  starts.push(n >> 1);
  return { values, arcStart: starts };
}

/** Delta-decodes quantised arcs and applies the transform, as topojson-client does. */
function decodeArcs(rest: Topology, values: number[], arcStart: number[]): PackedTopology {
  const t = rest.transform!;
  const [kx, ky] = t.scale, [dx, dy] = t.translate;
  const lonLat = new Array<number>(values.length).fill(0);
  const arcEnds: number[] = [];
  for (let a = 0; a + 1 < arcStart.length; a++) {
    let x = 0, y = 0;
    for (let p = arcStart[a]!; p < arcStart[a + 1]!; p++) {
      x += values[2 * p]!;
      y += values[2 * p + 1]!;
      lonLat[2 * p] = x * kx + dx;
      lonLat[2 * p + 1] = y * ky + dy;
      if (p === arcStart[a]) arcEnds.push(x, y);
    }
    arcEnds.push(x, y);
  }
  return { objects: rest.objects, transform: t, arcStart, lonLat, arcEnds };
}

/** A topology already parsed whole (not quantised, or an unexpected layout). */
function packParsed(topo: Topology): PackedTopology {
  const starts: number[] = [0];
  let total = 0;
  for (const arc of topo.arcs) starts.push((total += arc.length));
  const flat: number[] = [];
  for (const arc of topo.arcs) for (const p of arc) flat.push(p[0]!, p[1]!);
  if (topo.transform !== undefined) return decodeArcs(topo, flat, starts);
  const arcEnds: number[] = [];
  for (const arc of topo.arcs) arcEnds.push(arc[0]![0]!, arc[0]![1]!, arc[arc.length - 1]![0]!, arc[arc.length - 1]![1]!);
  return { objects: topo.objects, transform: undefined, arcStart: starts, lonLat: flat, arcEnds };
}

/**
 * Natural Earth was cut at ±180° and world-atlas did not stitch every piece
 * back (Chukotka, Fiji and Antarctica keep edges running along the
 * antimeridian). Those edges are no coast or border; stroked they draw a
 * line down the map edge. Fills keep them: they only close the rings.
 */
export function dropMeridianRuns(line: ArrayLike<number>): number[][] {
  const runs: number[][] = [];
  let run: number[] = [line[0]!, line[1]!];
  for (let i = 2; i < line.length; i += 2) {
    const ax = line[i - 2]!, bx = line[i]!, by = line[i + 1]!;
    if (Math.abs(ax) === 180 && Math.abs(bx) === 180) {
      if (run.length >= 4) runs.push(run);
      run = [bx, by];
    } else {
      run.push(bx, by);
    }
  }
  if (run.length >= 4) runs.push(run);
  return runs;
}

/** Longitudes (every other value of lon/lat pairs) made continuous: a step of more than 180° is taken the short way round. */
function unwrap(ll: ArrayLike<number>, n: number): number[] {
  const out = new Array<number>(n).fill(0);
  let offset = 0;
  let prev = ll[0]!;
  for (let i = 0; i < n; i++) {
    const lon = ll[2 * i]!;
    const d = lon - prev;
    if (d > 180) offset -= 360;
    else if (d < -180) offset += 360;
    out[i] = lon + offset;
    prev = lon;
  }
  return out;
}

/** cutRingFlat for a GeoJSON ring. */
export function cutRing(ring: Position[]): number[][] {
  return cutRingFlat(ring.flatMap((p) => [p[0]!, p[1]!]));
}

/** cutLineFlat for a GeoJSON line. */
export function cutLine(line: Position[]): number[][] {
  return cutLineFlat(line.flatMap((p) => [p[0]!, p[1]!]));
}

/** A ring (lon/lat interleaved, closing point optional) as pieces in the unit square. */
export function cutRingFlat(ll: ArrayLike<number>): number[][] {
  let n = ll.length >> 1;
  if (n > 1 && ll[0] === ll[2 * n - 2] && ll[1] === ll[2 * n - 1]) n--;
  if (n < 3) return [];
  const lons = unwrap(ll, n);
  const flat: number[] = [];
  let latSum = 0;
  for (let i = 0; i < n; i++) {
    flat.push(lonToUnit(lons[i]!), latToUnit(ll[2 * i + 1]!));
    latSum += ll[2 * i + 1]!;
  }
  // Winding round a pole: the closing edge does not bring us back to the start.
  const lastLon = lons[n - 1]!;
  let closeStep = ll[0]! - ll[2 * n - 2]!;
  if (closeStep > 180) closeStep -= 360;
  else if (closeStep < -180) closeStep += 360;
  const sweep = lastLon + closeStep - lons[0]!;
  if (Math.abs(sweep) > 180) {
    // Close the ring along the edge of the map at the pole it goes round
    // (the south pole for Antarctica; decided by which half the ring lies in).
    const poleY = latSum < 0 ? 1 : 0;
    flat.push(lonToUnit(lastLon + closeStep), poleY, lonToUnit(lons[0]!), poleY);
  }
  const out: number[][] = [];
  for (const { shifted, within } of shiftsIntoStrip(flat)) {
    // Clipping a ring that lies within the strip gives it back unchanged.
    const piece = within ? shifted : clipRingX(shifted, 0, 1);
    if (piece.length > 0 && Math.abs(ringArea(piece)) > MIN_RING_AREA) out.push(piece);
  }
  return out;
}

/** A line (lon/lat interleaved) as pieces in the unit square. */
export function cutLineFlat(ll: ArrayLike<number>): number[][] {
  const n = ll.length >> 1;
  if (n < 2) return [];
  const lons = unwrap(ll, n);
  const flat: number[] = [];
  let minY = Infinity, maxY = -Infinity;
  for (let i = 0; i < n; i++) {
    const y = latToUnit(ll[2 * i + 1]!, LINE_LAT_LIMIT);
    flat.push(lonToUnit(lons[i]!), y);
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  // Clipping a line that lies within the square gives it back as one run.
  const yWithin = minY >= 0 && maxY <= 1;
  const out: number[][] = [];
  for (const { shifted, within } of shiftsIntoStrip(flat)) {
    if (within && yWithin) out.push(shifted);
    else for (const piece of clipLine(shifted, UNIT_SQUARE)) out.push(piece);
  }
  return out;
}

const UNIT_SQUARE = { minX: 0, minY: 0, maxX: 1, maxY: 1 };

/**
 * The shape shifted by every whole number of worlds that brings part of it
 * into x ∈ [0, 1]; `within`: the shifted shape lies in 0 ≤ x ≤ 1 already.
 * (A list, not a callback: a fresh closure per shape sent V8 into
 * thousands of deoptimisations while building a level.)
 */
function shiftsIntoStrip(flat: number[]): Array<{ shifted: number[]; within: boolean }> {
  let minX = Infinity, maxX = -Infinity;
  for (let i = 0; i < flat.length; i += 2) {
    const x = flat[i]!;
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
  }
  const out: Array<{ shifted: number[]; within: boolean }> = [];
  for (let k = Math.floor(minX); k < maxX; k++) {
    let shifted = flat;
    if (k !== 0) {
      shifted = flat.slice();
      for (let i = 0; i < shifted.length; i += 2) shifted[i] = shifted[i]! - k;
    }
    out.push({ shifted, within: minX - k >= 0 && maxX - k <= 1 });
  }
  return out;
}

export function ringArea(c: ArrayLike<number>): number {
  const n = c.length >> 1;
  let a = 0;
  for (let i = 0, j = n - 1; i < n; j = i++) a += (c[2 * j]! - c[2 * i]!) * (c[2 * j + 1]! + c[2 * i + 1]!);
  return a / 2;
}
