// Mapnik benchmarks (issue 9, item 8): the test style's cold z0–6 pyramid
// rendered by MapnikRenderer in 2 child processes (mapnik-process, 8×8
// metatiles) vs Debian's renderd (2 threads, render_list) in the same run;
// resident memory per render process; tile encoders on Mapnik's pixels.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { startMapnikProcess } from '../dist/render/mapnik/process-client.js';
import { loadMapnik } from '../dist/render/mapnik/mapnik-api.js';
import { metaExtent } from '../dist/render/mapnik/extent.js';
import { encodePalettePng } from '../dist/render/png-palette.js';
import { writeTestStyle } from '../test/fixtures/map-style/make-style.ts';
import { median, memoryOf, renderdPyramid, DEBIAN_PLUGINS } from './lib.js';

const MAX_ZOOM = 6;
const METATILE = 8;
const PROCESSES = 2;

const have = (p) => spawnSync('sh', ['-c', `command -v ${p}`]).status === 0;

/** Every metatile of z0..maxZoom, low zooms clipped to the world (z0: 1 tile, z1: 2×2). */
function pyramid(maxZoom, metatile) {
  const metas = [];
  for (let z = 0; z <= maxZoom; z++) {
    const size = Math.min(metatile, 2 ** z);
    for (let y = 0; y < 2 ** z; y += size) for (let x = 0; x < 2 ** z; x += size) metas.push({ z, x, y, size });
  }
  return metas;
}
const tileCount = (maxZoom) => Array.from({ length: maxZoom + 1 }, (_, z) => 4 ** z).reduce((a, b) => a + b, 0);

/** One cold pyramid through `PROCESSES` fresh mapnik-process children; tiles written to disk as Z/X/Y.png. */
async function mosaicdPyramid(stylePath) {
  const dir = await mkdtemp(path.join(tmpdir(), 'mosaicd-maps-'));
  const procs = await Promise.all(Array.from({ length: PROCESSES }, () => startMapnikProcess({ stylePath })));
  try {
    const loaded = await Promise.all(procs.map((p) => memoryOf(p.child.pid)));
    const queue = pyramid(MAX_ZOOM, METATILE);
    let tiles = 0;
    const started = performance.now();
    await Promise.all(
      procs.map(async (p) => {
        for (let m = queue.shift(); m !== undefined; m = queue.shift()) {
          const out = await p.renderMetaTile(m);
          await mkdir(path.join(dir, String(m.z)), { recursive: true });
          await Promise.all(out.map((t) => writeFile(path.join(dir, String(m.z), `${t.x}_${t.y}.png`), t.png)));
          tiles += out.length;
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const memory = await Promise.all(procs.map((p) => memoryOf(p.child.pid)));
    return { tiles, seconds, tilesPerSecond: tiles / seconds, loaded, memory, mapnik: procs[0].info.mapnikVersion };
  } finally {
    await Promise.all(procs.map((p) => p.close()));
    await rm(dir, { recursive: true, force: true });
  }
}

/** ms per tile and bytes per tile of each encoder on the same Mapnik pixels (the z5 metatiles), and solid-tile detection. */
async function encoders(stylePath) {
  const mapnik = await loadMapnik();
  mapnik.register_system_fonts();
  const map = new mapnik.Map(256, 256);
  await new Promise((res, rej) => map.load(stylePath, { strict: false, base: path.dirname(stylePath) }, (e) => (e ? rej(e) : res())));
  map.bufferSize = 128;
  const images = [];
  for (const m of pyramid(5, METATILE).filter((m) => m.z === 5)) {
    const px = m.size * 256;
    const image = new mapnik.Image(px, px);
    map.resize(px, px);
    map.extent = metaExtent(m);
    await new Promise((res, rej) => map.render(image, { buffer_size: 128 }, (e) => (e ? rej(e) : res())));
    images.push(image);
  }
  const views = (fn) => images.flatMap((image) => Array.from({ length: 64 }, (_, i) => fn(image, (i % 8) * 256, (i >> 3) * 256)));
  /** One tile at a time (Mapnik and sharp would otherwise spread over libuv's threads): per-tile cost, comparable. */
  const serially = async (fns) => {
    const out = [];
    for (const fn of fns) out.push(await fn());
    return out;
  };
  const timed = async (name, encodeAll) => {
    const started = performance.now();
    const pngs = await encodeAll();
    const ms = performance.now() - started;
    return { name, msPerTile: ms / pngs.length, bytesPerTile: pngs.reduce((a, p) => a + p.length, 0) / pngs.length, tiles: pngs.length };
  };
  const mapnikEncode = (format) => () =>
    serially(views((im, x, y) => () => new Promise((res, rej) => im.view(x, y, 256, 256).encode(format, (e, b) => (e ? rej(e) : res(b))))));
  const raws = images.map((im) => im.data());
  const rawOf = (im) => raws[images.indexOf(im)];
  const sharpEncode = (options) => () =>
    serially(views((im, x, y) => () => sharp(rawOf(im), { raw: { width: im.width(), height: im.height(), channels: 4 } }).extract({ left: x, top: y, width: 256, height: 256 }).png(options).toBuffer()));
  const rows = [];
  rows.push(await timed('palette: mapnik png8:m=h', mapnikEncode('png8:m=h')));
  rows.push(await timed('palette: builtin png-palette.ts', async () =>
    views((im, x, y) => { const w = im.width(), s = 4 * (y * w + x); return encodePalettePng(rawOf(im).subarray(s, s + 4 * (255 * w + 256)), 256, 256, { stride: w }); })));
  rows.push(await timed('palette: sharp (effort 1, no dither)', sharpEncode({ palette: true, effort: 1, dither: 0 })));
  rows.push(await timed('truecolour: mapnik png32', mapnikEncode('png32')));
  rows.push(await timed('truecolour: sharp', sharpEncode({ compressionLevel: 6, adaptiveFiltering: false })));
  // Solid tiles: how many, what isSolid costs, what encoding one costs.
  let started = performance.now();
  const solid = views((im, x, y) => im.view(x, y, 256, 256).isSolidSync());
  const isSolidMs = (performance.now() - started) / solid.length;
  const solidViews = images.flatMap((im) => Array.from({ length: 64 }, (_, i) => im.view((i % 8) * 256, (i >> 3) * 256, 256, 256))).filter((_, i) => solid[i]);
  started = performance.now();
  await serially(solidViews.map((v) => () => new Promise((res, rej) => v.encode('png8:m=h', (e, b) => (e ? rej(e) : res(b))))));
  const solidEncodeMs = solidViews.length ? (performance.now() - started) / solidViews.length : 0;
  return { rows, solidShare: solid.filter(Boolean).length / solid.length, isSolidMs, solidEncodeMs, tiles: solid.length };
}

export async function mapsBench({ runs = 3 } = {}) {
  const dir = await mkdtemp(path.join(tmpdir(), 'mosaicd-maps-style-'));
  const out = { rows: [] };
  const row = (figure, value, target = '') => out.rows.push({ figure, value, target });
  try {
    const style = await writeTestStyle(dir, { resolution: '50m' });
    const withRenderd = have('renderd') && have('render_list') && existsSync(DEBIAN_PLUGINS);
    const ours = [], theirs = [];
    for (let i = 0; i < runs; i++) {
      ours.push(await mosaicdPyramid(style.xmlPath));
      if (withRenderd) theirs.push(await renderdPyramid(style.xmlPath));
      console.error(`  maps run ${i + 1}: mosaicd ${ours.at(-1).tilesPerSecond.toFixed(0)} tiles/s` + (withRenderd ? `, renderd ${theirs.at(-1).tilesPerSecond.toFixed(0)} tiles/s` : ''));
    }
    const spread = (xs) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;
    const rate = (rs) => rs.map((r) => r.tilesPerSecond);
    out.mosaicd = ours;
    row(`cold z0-${MAX_ZOOM} (${tileCount(MAX_ZOOM)} tiles), MapnikRenderer ${ours[0].mapnik}, ${PROCESSES} processes, ${METATILE}×${METATILE}`, `${median(rate(ours)).toFixed(0)} tiles/s (runs ${spread(rate(ours))})`);
    const rss = ours.flatMap((r) => r.memory);
    const loadedRss = ours.flatMap((r) => r.loaded);
    row('RSS per mapnik-process with the style loaded, before rendering', `${median(loadedRss.map((m) => m.rssMb)).toFixed(0)} MB`);
    row('RSS per mapnik-process after the pyramid (VmRSS / VmHWM)', `${median(rss.map((m) => m.rssMb)).toFixed(0)} / ${median(rss.map((m) => m.peakMb)).toFixed(0)} MB`);
    if (withRenderd) {
      out.renderd = theirs;
      row(`same pyramid, Debian renderd (Mapnik 3.1), ${PROCESSES} threads, render_list -n ${PROCESSES} -l 1000`, `${median(rate(theirs)).toFixed(0)} tiles/s (runs ${spread(rate(theirs))})`);
      const ratios = ours.map((r, i) => r.tilesPerSecond / theirs[i].tilesPerSecond);
      row('ratio mosaicd / renderd (per run, median)', `${median(ratios).toFixed(2)} (runs ${ratios.map((r) => r.toFixed(2)).join(', ')})`, '>= 1');
      const rrss = theirs.flatMap((r) => r.memory);
      row(`renderd process RSS (${PROCESSES} render threads; VmRSS / VmHWM)`, `${median(rrss.map((m) => m.rssMb)).toFixed(0)} / ${median(rrss.map((m) => m.peakMb)).toFixed(0)} MB`);
    } else {
      row('renderd comparison', 'skipped: renderd, render_list or the Debian Mapnik 3.1 plugins are not installed');
    }
    const enc = await encoders(style.xmlPath);
    out.encoders = enc;
    for (const r of enc.rows) row(`encode z5 tiles, ${r.name}`, `${r.msPerTile.toFixed(2)} ms/tile, ${r.bytesPerTile.toFixed(0)} B/tile`);
    row(`solid tiles at z5 (isSolid per tile / encoding one)`, `${(100 * enc.solidShare).toFixed(0)}% (${enc.isSolidMs.toFixed(3)} ms / ${enc.solidEncodeMs.toFixed(2)} ms)`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return out;
}
