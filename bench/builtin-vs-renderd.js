// The built-in renderer against renderd, same run (issue 9, item 9): a cold
// z0–6 pyramid through a fresh daemon (seeder, `bulk` lines, 8×8 metatiles,
// 2 render threads) interleaved with a private Debian renderd (2 threads,
// 8×8 metatiles) drawing the same data with the same style in Mapnik.
//
// The data is what the built-in renderer draws, exported at bench time from
// the same npm package (world-atlas, through the project's own world-data
// code: cut at ±180°, closed along the pole) as EPSG:3857 GeoJSON, one file
// per Natural Earth scale, each shown at the zooms where the built-in
// renderer uses it (110m z0–2, 50m z3–5, 10m z6+). The style is the built-in
// one (src/render/style.ts): ocean background, land fill, every country
// outline stroked 0.7 px; 256 px tiles; renderd's own png256.
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { loadWorldShapes } from '../dist/render/world-data.js';
import { STYLE } from '../dist/render/style.js';
import { coldPyramidOnce } from './tiles.js';
import { renderdPyramid, median, DEBIAN_PLUGINS } from './lib.js';

const MAX_ZOOM = 6;
const THREADS = 2;
const WORLD_HALF = 20037508.342789244;
const MERCATOR = '+proj=merc +a=6378137 +b=6378137 +lat_ts=0.0 +lon_0=0.0 +x_0=0.0 +y_0=0.0 +k=1.0 +units=m +nadgrids=@null +wktext +no_defs +over';
/** Scale denominator of zoom z at 256 px tiles (Mapnik's 0.28 mm pixel). */
const scaleOf = (z) => 559082264.028 / 2 ** z;
/** Zoom bands of src/render/geometry.ts resolutionForZoom (256 px tiles). */
const BANDS = [
  { resolution: '110m', minZoom: 0, maxZoom: 2 },
  { resolution: '50m', minZoom: 3, maxZoom: 5 },
  { resolution: '10m', minZoom: 6, maxZoom: 30 },
];

const toMetres = (flat, close) => {
  const out = [];
  for (let i = 0; i < flat.length; i += 2) out.push([(flat[i] - 0.5) * 2 * WORLD_HALF, (0.5 - flat[i + 1]) * 2 * WORLD_HALF]);
  if (close && out.length > 0) out.push(out[0]);
  return out;
};

/**
 * Writes land-RES.geojson (one polygon per ring: Mapnik indexes features by
 * their box, so one world-sized feature would make it clip everything for
 * every metatile), outline-RES.geojson and style.xml into `dir`.
 */
export async function writeBuiltinStyle(dir, { bands = BANDS, name = 'style.xml' } = {}) {
  const layers = [];
  for (const band of bands) {
    const shapes = loadWorldShapes(band.resolution);
    const land = { type: 'FeatureCollection', features: shapes.rings.map((r) => ({ type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: [toMetres(r, true)] } })) };
    const outline = { type: 'FeatureCollection', features: shapes.lines.map((l) => ({ type: 'Feature', properties: {}, geometry: { type: 'LineString', coordinates: toMetres(l, false) } })) };
    if (!existsSync(path.join(dir, `land-${band.resolution}.geojson`))) {
      await writeFile(path.join(dir, `land-${band.resolution}.geojson`), JSON.stringify(land));
      await writeFile(path.join(dir, `outline-${band.resolution}.geojson`), JSON.stringify(outline));
    }
    // Scale denominators: this band's zooms, with the boundaries half-way (in log) between zooms.
    const max = band.minZoom === 0 ? '' : ` maximum-scale-denominator="${scaleOf(band.minZoom - 0.5)}"`;
    const min = ` minimum-scale-denominator="${scaleOf(band.maxZoom + 0.5)}"`;
    for (const kind of ['land', 'outline']) {
      layers.push(`  <Layer name="${kind}-${band.resolution}" srs="${MERCATOR}"${max}${min}>
    <StyleName>${kind}</StyleName>
    <Datasource><Parameter name="type">geojson</Parameter><Parameter name="file">${kind}-${band.resolution}.geojson</Parameter></Datasource>
  </Layer>`);
    }
  }
  // Land layers first, then outlines over them (as draw.ts does per tile).
  layers.sort((a, b) => Number(a.includes('name="outline')) - Number(b.includes('name="outline')));
  const xml = `<?xml version="1.0" encoding="utf-8"?>
<Map srs="${MERCATOR}" background-color="${STYLE.ocean}">
  <Style name="land"><Rule><PolygonSymbolizer fill="${STYLE.land}" /></Rule></Style>
  <Style name="outline"><Rule><LineSymbolizer stroke="${STYLE.outline}" stroke-width="${STYLE.outlineWidth256}" /></Rule></Style>
${layers.join('\n')}
</Map>
`;
  const xmlPath = path.join(dir, name);
  await writeFile(xmlPath, xml);
  return xmlPath;
}

const have = (p) => spawnSync('sh', ['-c', `command -v ${p}`]).status === 0;

/** `runs` interleaved pairs (daemon, renderd); `args`: more daemon flags. */
export async function builtinVsRenderd({ runs = 3, args = [] } = {}) {
  const withRenderd = have('renderd') && have('render_list') && existsSync(DEBIAN_PLUGINS);
  const dir = await mkdtemp(path.join(tmpdir(), 'mosaicd-builtin-style-'));
  const ours = [], theirs = [], theirs50m = [], load = [];
  // CPU seconds per run (daemon: every thread; renderd: its process), for tiles per CPU-second:
  // on a shared machine the wall-clock rates depend on how much of the CPU each side gets.
  const cpu = { mosaicd: [], renderd: [], renderd50m: [] };
  let firstStart;
  try {
    const xmlPath = withRenderd ? await writeBuiltinStyle(dir) : undefined;
    // Also the style of docs/notes tile-daemons.md §5 (1:50m at every zoom), the renderd bar issue 9 quoted.
    const xml50m = withRenderd ? await writeBuiltinStyle(dir, { bands: [{ resolution: '50m', minZoom: 0, maxZoom: 30 }], name: 'style-50m.xml' }) : undefined;
    // The daemon's geometry cache (--cache-dir) holds the prepared Natural Earth levels, as
    // renderd has its style's data loaded before its clock: one untimed first start (empty
    // cache, reported apart) fills a private cache, and every timed run uses it.
    const daemonArgs = ['--concurrency', String(THREADS), '--cache-dir', path.join(dir, 'geometry-cache'), ...args];
    const first = await coldPyramidOnce({ metatile: 8, maxZoom: MAX_ZOOM, args: daemonArgs });
    firstStart = { tilesPerSecond: first.tilesPerSecond, cpuSeconds: first.cpuSeconds };
    console.error(`  builtin first start (empty geometry cache, untimed for the ratio): ${first.tilesPerSecond.toFixed(0)} tiles/s, CPU s ${first.cpuSeconds.toFixed(1)}`);
    for (let i = 0; i < runs; i++) {
      load.push(loadavg()[0]);
      const o = await coldPyramidOnce({ metatile: 8, maxZoom: MAX_ZOOM, args: daemonArgs });
      ours.push(o.tilesPerSecond);
      cpu.mosaicd.push(o.cpuSeconds);
      if (withRenderd) {
        const r = await renderdPyramid(xmlPath, { threads: THREADS, maxZoom: MAX_ZOOM, warmUp: true });
        theirs.push(r.tilesPerSecond);
        cpu.renderd.push(r.cpuSeconds);
        const r50 = await renderdPyramid(xml50m, { threads: THREADS, maxZoom: MAX_ZOOM, warmUp: true });
        theirs50m.push(r50.tilesPerSecond);
        cpu.renderd50m.push(r50.cpuSeconds);
      }
      console.error(`  builtin run ${i + 1}: mosaicd ${ours.at(-1).toFixed(0)} tiles/s` + (withRenderd ? `, renderd ${theirs.at(-1).toFixed(0)} tiles/s (ratio ${(ours.at(-1) / theirs.at(-1)).toFixed(2)}), renderd 50m ${theirs50m.at(-1).toFixed(0)} tiles/s (ratio ${(ours.at(-1) / theirs50m.at(-1)).toFixed(2)})` : '') + ` (load ${load.at(-1).toFixed(1)}; CPU s mosaicd ${cpu.mosaicd.at(-1).toFixed(1)}` + (withRenderd ? `, renderd ${cpu.renderd.at(-1).toFixed(1)}, renderd 50m ${cpu.renderd50m.at(-1).toFixed(1)}` : '') + ')');
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const ratios = theirs.map((t, i) => ours[i] / t);
  const ratios50m = theirs50m.map((t, i) => ours[i] / t);
  // Tiles per CPU-second, ours over theirs, per run.
  const cpuRatios = cpu.renderd.map((c, i) => c / cpu.mosaicd[i]);
  const cpuRatios50m = cpu.renderd50m.map((c, i) => c / cpu.mosaicd[i]);
  return {
    cpu, cpuRatios, cpuRatios50m,
    medianCpuRatio: cpuRatios.length ? median(cpuRatios) : undefined,
    medianCpuRatio50m: cpuRatios50m.length ? median(cpuRatios50m) : undefined,
    firstStart,
    tiles: 5461, mosaicd: ours, renderd: theirs, renderd50m: theirs50m, ratios, ratios50m, load,
    medianMosaicd: median(ours),
    medianRenderd: theirs.length ? median(theirs) : undefined,
    medianRatio: ratios.length ? median(ratios) : undefined,
    medianRenderd50m: theirs50m.length ? median(theirs50m) : undefined,
    medianRatio50m: ratios50m.length ? median(ratios50m) : undefined,
  };
}
