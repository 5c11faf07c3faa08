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
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { feature, mesh } from 'topojson-client';
import type { Topology } from 'topojson-specification';
import type { MultiPolygon, Polygon, Position } from 'geojson';
import { clipLine, clipRingX } from './clip.js';
import { latToUnit, lonToUnit } from './mercator.js';

export type Resolution = '110m' | '50m' | '10m';

export interface WorldShapes {
  readonly resolution: Resolution;
  /** Closed rings (no repeated closing point), x,y interleaved; fill with even-odd. */
  readonly rings: Float64Array[];
  /** Open polylines. */
  readonly lines: Float64Array[];
}

/** Lines may run past ±85.05°; project them to just short of the pole and clip at y ∈ [0, 1]. */
const LINE_LAT_LIMIT = 89.9;
/** Rings smaller than this (unit² area) are dropped: slivers and the pole "hole" that the cut collapses to a line. */
const MIN_RING_AREA = 1e-16;

const require = createRequire(import.meta.url);

export function loadWorldShapes(resolution: Resolution): WorldShapes {
  // countries-*.json holds both objects we need: `land` (the countries
  // merged, the same geometry as land-*.json) and `countries`. Taking both
  // from one topology means coast strokes and land fill share the same arcs,
  // and only one file is parsed.
  const topology = readTopology(`countries-${resolution}.json`);
  const landObject = topology.objects['land']!;
  const countries = topology.objects['countries']!;
  const land = feature(topology, landObject);
  const rings: Float64Array[] = [];
  const polygons: Position[][][] = [];
  const addGeometry = (g: Polygon | MultiPolygon): void => {
    if (g.type === 'Polygon') polygons.push(g.coordinates);
    else polygons.push(...g.coordinates);
  };
  if (land.type === 'FeatureCollection') {
    for (const f of land.features) addGeometry(f.geometry as Polygon | MultiPolygon);
  } else {
    addGeometry(land.geometry as Polygon | MultiPolygon);
  }
  for (const polygon of polygons) for (const ring of polygon) rings.push(...cutRing(ring));

  // Outlines: coastlines (the land object's arcs) and borders (arcs between
  // two different countries), each arc once, so shared borders are not
  // stroked twice.
  const coast = mesh(topology, landObject as never);
  const borders = mesh(topology, countries as never, (a, b) => a !== b);
  const lines: Float64Array[] = [];
  for (const line of [...coast.coordinates, ...borders.coordinates]) {
    for (const run of dropMeridianSegments(line)) lines.push(...cutLine(run));
  }
  return { resolution, rings, lines };
}

/**
 * Natural Earth was cut at ±180° and world-atlas did not stitch every piece
 * back (Chukotka, Fiji and Antarctica keep edges running along the
 * antimeridian). Those edges are no coast or border; stroked they draw a
 * line down the map edge. Fills keep them: they only close the rings.
 */
function dropMeridianSegments(line: Position[]): Position[][] {
  const runs: Position[][] = [];
  let run: Position[] = [line[0]!];
  for (let i = 1; i < line.length; i++) {
    const a = line[i - 1]!, b = line[i]!;
    if (Math.abs(a[0]!) === 180 && Math.abs(b[0]!) === 180) {
      if (run.length >= 2) runs.push(run);
      run = [b];
    } else {
      run.push(b);
    }
  }
  if (run.length >= 2) runs.push(run);
  return runs;
}

/** Read, not `require`d: require would keep the parsed JSON (tens of MB for 10m) cached for ever. */
function readTopology(file: string): Topology {
  return JSON.parse(readFileSync(require.resolve(`world-atlas/${file}`), 'utf8')) as Topology;
}

/** Longitudes made continuous: a step of more than 180° is taken the short way round. */
function unwrap(pts: Position[]): number[] {
  const out: number[] = [];
  let offset = 0;
  let prev = pts[0]![0]!;
  for (const p of pts) {
    const lon = p[0]!;
    const d = lon - prev;
    if (d > 180) offset -= 360;
    else if (d < -180) offset += 360;
    out.push(lon + offset);
    prev = lon;
  }
  return out;
}

export function cutRing(ring: Position[]): Float64Array[] {
  const pts = ring.length > 1 && samePoint(ring[0]!, ring[ring.length - 1]!) ? ring.slice(0, -1) : ring;
  if (pts.length < 3) return [];
  const lons = unwrap(pts);
  const flat: number[] = [];
  let latSum = 0;
  for (let i = 0; i < pts.length; i++) {
    flat.push(lonToUnit(lons[i]!), latToUnit(pts[i]![1]!));
    latSum += pts[i]![1]!;
  }
  // Winding round a pole: the closing edge does not bring us back to the start.
  const lastLon = lons[lons.length - 1]!;
  let closeStep = pts[0]![0]! - pts[pts.length - 1]![0]!;
  if (closeStep > 180) closeStep -= 360;
  else if (closeStep < -180) closeStep += 360;
  const sweep = lastLon + closeStep - lons[0]!;
  if (Math.abs(sweep) > 180) {
    // Close the ring along the edge of the map at the pole it goes round
    // (the south pole for Antarctica; decided by which half the ring lies in).
    const poleY = latSum < 0 ? 1 : 0;
    flat.push(lonToUnit(lastLon + closeStep), poleY, lonToUnit(lons[0]!), poleY);
  }
  return shiftIntoStrip(flat, (shifted) => {
    const piece = clipRingX(shifted, 0, 1);
    return piece.length > 0 && Math.abs(ringArea(piece)) > MIN_RING_AREA ? [piece] : [];
  });
}

export function cutLine(line: Position[]): Float64Array[] {
  if (line.length < 2) return [];
  const lons = unwrap(line);
  const flat: number[] = [];
  for (let i = 0; i < line.length; i++) flat.push(lonToUnit(lons[i]!), latToUnit(line[i]![1]!, LINE_LAT_LIMIT));
  return shiftIntoStrip(flat, (shifted) => clipLine(shifted, { minX: 0, minY: 0, maxX: 1, maxY: 1 }));
}

/** Calls `cut` on the shape shifted by every whole number of worlds that brings part of it into x ∈ [0, 1]. */
function shiftIntoStrip(flat: number[], cut: (shifted: number[]) => number[][]): Float64Array[] {
  let minX = Infinity, maxX = -Infinity;
  for (let i = 0; i < flat.length; i += 2) {
    minX = Math.min(minX, flat[i]!);
    maxX = Math.max(maxX, flat[i]!);
  }
  const out: Float64Array[] = [];
  for (let k = Math.floor(minX); k < maxX; k++) {
    const shifted = k === 0 ? flat : flat.map((v, i) => (i % 2 === 0 ? v - k : v));
    for (const piece of cut(shifted)) out.push(Float64Array.from(piece));
  }
  return out;
}

export function ringArea(c: ArrayLike<number>): number {
  const n = c.length >> 1;
  let a = 0;
  for (let i = 0, j = n - 1; i < n; j = i++) a += (c[2 * j]! - c[2 * i]!) * (c[2 * j + 1]! + c[2 * i + 1]!);
  return a / 2;
}

function samePoint(a: Position, b: Position): boolean {
  return a[0] === b[0] && a[1] === b[1];
}
