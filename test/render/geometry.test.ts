import t from 'tap';
import { clipLine, clipRing } from '../../src/render/clip.js';
import { cutLine, cutRing, loadWorldShapes, ringArea } from '../../src/render/world-data.js';
import { WORLD, WorldGeometry, resolutionForZoom } from '../../src/render/geometry.js';
import { simplifyLine, simplifyRing } from '../../src/render/simplify.js';
import { latToUnit, lonToUnit } from '../../src/render/mercator.js';

const R = { minX: 0, minY: 0, maxX: 10, maxY: 10 };

t.test('Sutherland–Hodgman keeps the part of a polygon inside the rectangle', async (t) => {
  // A 10×10 square shifted half out to the right: 50 left.
  t.equal(Math.abs(ringArea(clipRing([5, 0, 15, 0, 15, 10, 5, 10], R))), 50);
  t.same(clipRing([20, 20, 30, 20, 30, 30], R), [], 'outside');
  t.equal(Math.abs(ringArea(clipRing([-5, -5, 15, -5, 15, 15, -5, 15], R))), 100, 'covering');
});

t.test('line clipping keeps the inside runs and joins consecutive inside segments', async (t) => {
  const runs = clipLine([-5, 5, 5, 5, 5, 8, 15, 8], R);
  t.same(runs, [[0, 5, 5, 5, 5, 8, 10, 8]]);
  const two = clipLine([-5, 2, 5, 2, 15, 2, 15, 6, 5, 6, -5, 6], R);
  t.equal(two.length, 2, 'leaves and re-enters: two runs');
});

t.test('a ring across the antimeridian is cut into pieces on both map edges, area kept', async (t) => {
  // A box from 170°E to 170°W (20° wide) between 10°N and 20°N, as world-atlas writes it.
  const ring = [[170, 10], [-170, 10], [-170, 20], [170, 20], [170, 10]];
  const pieces = cutRing(ring);
  t.equal(pieces.length, 2);
  for (const p of pieces) for (let i = 0; i < p.length; i += 2) t.ok(p[i]! >= 0 && p[i]! <= 1, 'x in [0, 1]');
  const total = pieces.reduce((a, p) => a + Math.abs(ringArea(p)), 0);
  const expected = (20 / 360) * (latToUnit(10) - latToUnit(20));
  t.ok(Math.abs(total - expected) < 1e-12, 'area of the 20° box');
  const widths = pieces.map((p) => { const xs = p.filter((_, i) => i % 2 === 0); return Math.max(...xs) - Math.min(...xs); });
  for (const w of widths) t.ok(Math.abs(w - 10 / 360) < 1e-12, 'each piece is 10° wide, not a band across the map');
});

t.test('a ring round the south pole is closed along the bottom edge of the map', async (t) => {
  const ring: number[][] = [];
  for (let lon = -180; lon <= 180; lon += 30) ring.push([lon, -70]);
  const pieces = cutRing(ring);
  const total = pieces.reduce((a, p) => a + Math.abs(ringArea(p)), 0);
  t.ok(Math.abs(total - (1 - latToUnit(-70))) < 1e-9, 'everything south of 70°S is inside');
});

t.test('a line across the antimeridian is split at the map edge', async (t) => {
  const pieces = cutLine([[170, 0], [-170, 0]]);
  t.equal(pieces.length, 2);
  const got = pieces.map((p) => Array.from(p)).sort((a, b) => a[0]! - b[0]!);
  const want = [
    [0, 0.5, lonToUnit(-170), 0.5],
    [lonToUnit(170), 0.5, 1, 0.5],
  ];
  got.forEach((line, i) => line.forEach((v, j) => t.ok(Math.abs(v - want[i]![j]!) < 1e-12, `coordinate ${i}.${j}`)));
});

t.test('Douglas–Peucker drops points within the tolerance and keeps corners', async (t) => {
  const line = Float64Array.from([0, 0, 1, 0.01, 2, 0, 3, 0, 3, 3]);
  t.same(Array.from(simplifyLine(line, 0.1)), [0, 0, 3, 0, 3, 3]);
  const ring = Float64Array.from([0, 0, 5, 0.001, 10, 0, 10, 10, 0, 10]);
  t.same(Array.from(simplifyRing(ring, 0.1)), [0, 0, 10, 0, 10, 10, 0, 10]);
});

t.test('levels are built on first use, only the datasets they need, and equal the eager build', async (t) => {
  const lazy = new WorldGeometry();
  t.notOk(lazy.has(0), 'nothing built up front');
  lazy.forPixelZoom(2);
  t.ok(lazy.has(2));
  t.notOk(lazy.has(0) || lazy.has(3), 'only the level asked for');
  t.equal(lazy.forPixelZoom(14), lazy.forPixelZoom(9), 'deep zooms share the last level');
  const eager = new WorldGeometry({ maxPixelZoom: 3, eager: true });
  for (const level of [0, 1, 2, 3]) t.ok(eager.has(level), `eager: level ${level} built`);
  const same = (a: ArrayLike<number>, b: ArrayLike<number>): boolean => {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  };
  for (const level of [2, 9]) {
    const a = lazy.levelData(level);
    const b = level === 2 ? eager.levelData(2) : new WorldGeometry().levelData(level);
    for (const layer of ['fill', 'outline'] as const) {
      t.ok(same(a[layer].coords, b[layer].coords), `level ${level} ${layer}: same coordinates`);
      t.ok(same(a[layer].offsets, b[layer].offsets), `level ${level} ${layer}: same parts`);
      t.ok(same(a[layer].continues, b[layer].continues), `level ${level} ${layer}: same line chunks`);
    }
  }
});

t.test('a level handed to another geometry shares its memory, and one that was not handed is an error there', async (t) => {
  const source = new WorldGeometry();
  const data = source.levelData(1);
  t.ok(data.fill.coords.buffer instanceof SharedArrayBuffer, 'coordinates in a SharedArrayBuffer');
  const worker = new WorldGeometry({ build: false });
  worker.addLevel(1, data);
  const layer = worker.forPixelZoom(1).fill;
  t.equal(layer.coords, data.fill.coords, 'the same array, not a copy');
  t.equal(layer.index.search(0, 0, WORLD, WORLD).filter((i) => i < layer.count).length, layer.count, 'the index finds every part');
  t.throws(() => worker.forPixelZoom(5), /not handed/);
});

t.test('coordinates are unit-square coordinates × 2^30, rounded; bboxes are exact', async (t) => {
  const level = new WorldGeometry().forPixelZoom(4);
  const shapes = loadWorldShapes(resolutionForZoom(4));
  // The first ring part of level 4 comes from the simplified first ring; its points are unit coordinates × WORLD, rounded.
  const { coords, offsets, bboxes } = level.fill;
  let inRange = true;
  for (let i = 0; i < coords.length; i++) if (!Number.isInteger(coords[i]!) || coords[i]! < 0 || coords[i]! > WORLD) inRange = false;
  t.ok(inRange, 'integers in [0, WORLD]');
  const unitPoints = new Set<string>();
  for (const ring of shapes.rings) for (let i = 0; i < ring.length; i += 2) unitPoints.add(`${Math.round(ring[i]! * WORLD)},${Math.round(ring[i + 1]! * WORLD)}`);
  let found = 0, checked = 0;
  for (let i = offsets[0]!; i < offsets[1]!; i += 2, checked++) if (unitPoints.has(`${coords[i]},${coords[i + 1]}`)) found++;
  t.ok(checked > 0 && found >= checked * 0.5, `${found}/${checked} points of part 0 are source points rounded (the rest are cut points)`);
  let exact = true;
  for (let p = 0; p < level.fill.count; p++) {
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    for (let i = offsets[p]!; i < offsets[p + 1]!; i += 2) {
      minX = Math.min(minX, coords[i]!); maxX = Math.max(maxX, coords[i]!);
      minY = Math.min(minY, coords[i + 1]!); maxY = Math.max(maxY, coords[i + 1]!);
    }
    if (bboxes[4 * p] !== minX || bboxes[4 * p + 1] !== minY || bboxes[4 * p + 2] !== maxX || bboxes[4 * p + 3] !== maxY) exact = false;
  }
  t.ok(exact, 'each bbox is its part\'s quantised extent');
});
