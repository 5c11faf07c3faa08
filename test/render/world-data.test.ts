import t from 'tap';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { feature, mesh } from 'topojson-client';
import type { Topology } from 'topojson-specification';
import type { MultiPolygon, Polygon, Position } from 'geojson';
import { cutLine, cutRing, loadWorldShapes, packTopology, type Resolution } from '../../src/render/world-data.js';

const require = createRequire(import.meta.url);

/**
 * The shapes as the renderer used to make them: topojson-client's feature()
 * and mesh() (GeoJSON), then the same cutting. The loader now reads arcs
 * into flat arrays and stitches lines itself; it must give the same numbers.
 */
function referenceShapes(resolution: Resolution): { rings: number[][]; lines: number[][] } {
  const topology = JSON.parse(readFileSync(require.resolve(`world-atlas/countries-${resolution}.json`), 'utf8')) as Topology;
  const landObject = topology.objects['land']!;
  const countries = topology.objects['countries']!;
  const land = feature(topology, landObject);
  const polygons: Position[][][] = [];
  const add = (g: Polygon | MultiPolygon): void => {
    if (g.type === 'Polygon') polygons.push(g.coordinates);
    else polygons.push(...g.coordinates);
  };
  if (land.type === 'FeatureCollection') for (const f of land.features) add(f.geometry as Polygon | MultiPolygon);
  else add(land.geometry as Polygon | MultiPolygon);
  const rings: number[][] = [];
  for (const polygon of polygons) for (const ring of polygon) rings.push(...cutRing(ring));
  const coast = mesh(topology, landObject as never);
  const borders = mesh(topology, countries as never, (a, b) => a !== b);
  const lines: number[][] = [];
  for (const line of [...coast.coordinates, ...borders.coordinates]) {
    // Drop edges along the antimeridian (both ends at ±180°), as the loader does.
    let run: Position[] = [line[0]!];
    const runs: Position[][] = [];
    for (let i = 1; i < line.length; i++) {
      const a = line[i - 1]!, b = line[i]!;
      if (Math.abs(a[0]!) === 180 && Math.abs(b[0]!) === 180) {
        if (run.length >= 2) runs.push(run);
        run = [b];
      } else run.push(b);
    }
    if (run.length >= 2) runs.push(run);
    for (const r of runs) lines.push(...cutLine(r));
  }
  return { rings, lines };
}

function differences(a: number[][], b: ArrayLike<number>[]): number {
  let bad = Math.abs(a.length - b.length);
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i]!, y = b[i]!;
    if (x.length !== y.length) bad++;
    else for (let j = 0; j < x.length; j++) if (x[j] !== y[j]) { bad++; break; }
  }
  return bad;
}

for (const resolution of ['110m', '50m', '10m'] as const) {
  t.test(`${resolution}: the flat-array loader gives the same shapes as topojson-client's GeoJSON, number for number`, async (t) => {
    const want = referenceShapes(resolution);
    const got = loadWorldShapes(resolution);
    t.equal(got.rings.length, want.rings.length, `${want.rings.length} rings`);
    t.equal(got.lines.length, want.lines.length, `${want.lines.length} lines`);
    t.equal(differences(want.rings, got.rings), 0, 'every ring identical');
    t.equal(differences(want.lines, got.lines), 0, 'every line identical');
  });
}

t.test('packTopology decodes quantised arcs like topojson-client, and falls back to JSON.parse for other files', async (t) => {
  const objects = { land: { type: 'GeometryCollection', geometries: [] } };
  // Two arcs, delta-encoded, with a transform; property strings with brackets must not confuse the scan.
  const quantised = `{"type":"Topology","objects":{"land":{"type":"GeometryCollection","geometries":[],"properties":{"name":"[arcs] \\"x\\""}}},"arcs":[[[0,0],[10,5],[-3,2]],[[7,7],[1,-1]]],"bbox":[0,0,1,1],"transform":{"scale":[0.5,0.25],"translate":[-10,20]}}`;
  const q = packTopology(new TextEncoder().encode(quantised));
  t.same(q.arcStart, [0, 3, 5]);
  t.same(q.lonLat, [-10, 20, -5, 21.25, -6.5, 21.75, -6.5, 21.75, -6, 21.5]);
  t.same(q.arcEnds, [0, 0, 7, 7, 7, 7, 8, 6], 'first and last quantised point of each arc');
  t.same(Object.keys(q.objects), ['land']);

  // Not quantised: absolute float positions, no transform.
  const plain = JSON.stringify({ type: 'Topology', objects, arcs: [[[1.5, 2], [3, 4.25]]] });
  const p = packTopology(new TextEncoder().encode(plain));
  t.same(p.lonLat, [1.5, 2, 3, 4.25]);
  t.same(p.arcEnds, [1.5, 2, 3, 4.25]);
  t.equal(p.transform, undefined);
});
