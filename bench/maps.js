// Mapnik benchmarks (issue 9, item 8): the test style's cold z0–6 pyramid
// through the daemon (`mosaicd serve --style`, 2 render processes, 8×8
// metatiles, requested as bulk lines), through MapnikRenderer directly (2
// mapnik-process children: the daemon's overhead) and through Debian's renderd
// (2 threads, render_list), interleaved in the same run; visible tile latency
// under a 10,000-tile Mapnik backlog; resident memory per render process;
// uniform tiles; tile encoders on Mapnik's pixels.
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { CompletionListener } from '../dist/client/completion-listener.js';
import { Seeder } from '../dist/seed/seeder.js';
import { enumerateTiles } from '../dist/seed/tile-range.js';
import { startMapnikProcess } from '../dist/render/mapnik/process-client.js';
import { loadMapnik } from '../dist/render/mapnik/mapnik-api.js';
import { metaExtent } from '../dist/render/mapnik/extent.js';
import { encodePalettePng } from '../dist/render/png-palette.js';
import { writeTestStyle } from '../test/fixtures/map-style/make-style.ts';
import { median, memoryOf, percentile, renderdPyramid, startDaemon, DEBIAN_PLUGINS } from './lib.js';

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
const WORLD = [-180, -85.0511287798, 180, 85.0511287798];
const tileCount = (maxZoom) => Array.from({ length: maxZoom + 1 }, (_, z) => 4 ** z).reduce((a, b) => a + b, 0);

/** One cold pyramid through `PROCESSES` fresh mapnik-process children, no daemon; tiles written to disk as Z/X_Y.png. */
async function directPyramid(stylePath) {
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

/** The `--style` daemon's arguments: the default map drawn by Mapnik in `PROCESSES` render processes. */
const styleDaemonArgs = (stylePath) => ['--style', stylePath, '--concurrency', String(PROCESSES), '--metatile', String(METATILE)];

/**
 * Stops a bench daemon with SIGTERM (it finishes what it holds and ends its
 * render processes, which a SIGKILL would orphan mid-reply), then lib's stop
 * (SIGKILL if still alive after STOP_GRACE_MS, tiles folder removed).
 */
const STOP_GRACE_MS = 15_000;
async function stopDaemon(d) {
  if (d.child.exitCode === null) {
    d.child.kill('SIGTERM');
    let timer;
    await Promise.race([once(d.child, 'exit'), new Promise((r) => (timer = setTimeout(r, STOP_GRACE_MS)))]);
    clearTimeout(timer);
  }
  await d.stop();
}

/**
 * Has every render process of the daemon draw one metatile outside the
 * pyramid (z7, bulk), so that the timed run starts with the style loaded in
 * each, as the direct and renderd runs do. Bulk, not a plain tile: foreground
 * work would make the scheduler hold one slot back for FOREGROUND_HEADROOM_MS.
 */
async function warmDaemon(d) {
  const warm = Array.from({ length: PROCESSES }, (_, i) => ({ z: MAX_ZOOM + 1, x: 8 * i, y: 0 }));
  const p = await new Seeder().run(warm, { host: '127.0.0.1', port: d.port, command: 'bulk', force: false });
  if (p.errors > 0) throw new Error('the warm-up tiles failed');
  for (let i = 0; (await d.client.stats()).render.pids.length < PROCESSES; i++) {
    if (i > 100) throw new Error('the render processes did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * One cold pyramid through `mosaicd serve --style` (a real child process from
 * dist): every tile of z0–6 as a `bulk` line on one connection (Seeder, like
 * `mosaicd seed`), timed from the first line to the last answer (each answer
 * is sent once the tile is on disk). Then the resident memory of each render
 * process and of the daemon; with `inspect`, the tiles written (uniform share).
 */
async function daemonPyramid(stylePath, { inspect = false } = {}) {
  const d = await startDaemon(styleDaemonArgs(stylePath));
  try {
    await warmDaemon(d);
    const started = performance.now();
    const p = await new Seeder().run(enumerateTiles({ minZoom: 0, maxZoom: MAX_ZOOM, bbox: WORLD }, METATILE), { host: '127.0.0.1', port: d.port, command: 'bulk', force: false });
    const seconds = (performance.now() - started) / 1000;
    if (p.errors > 0) throw new Error(`${p.errors} tiles failed`);
    const { render } = await d.client.stats();
    const memory = await Promise.all(render.pids.map((pid) => memoryOf(pid)));
    const daemon = await memoryOf(d.child.pid);
    const uniform = inspect ? await uniformTiles(d.tilesDir) : undefined;
    return { tiles: p.done, seconds, tilesPerSecond: p.done / seconds, memory, daemon, uniform };
  } finally {
    await stopDaemon(d);
  }
}

/**
 * How many of the pyramid's tiles (z0–6, flat layout Z_X_Y.png) are of one
 * colour (decoded by Mapnik, `isSolid` on the pixels), and how many distinct
 * files those are (the renderer encodes a colour once and reuses the bytes).
 */
async function uniformTiles(dir) {
  const mapnik = await loadMapnik();
  const names = (await readdir(dir)).filter((n) => /^\d+_\d+_\d+\.png$/.test(n) && Number(n.split('_')[0]) <= MAX_ZOOM);
  let uniform = 0, uniformBytes = 0, allBytes = 0;
  const distinct = new Set();
  const byZoom = {};
  for (const name of names) {
    const png = await readFile(path.join(dir, name));
    allBytes += png.length;
    const z = name.split('_')[0];
    byZoom[z] ??= { tiles: 0, uniform: 0 };
    byZoom[z].tiles++;
    if (mapnik.Image.fromBytesSync(png).isSolidSync()) {
      uniform++;
      uniformBytes += png.length;
      distinct.add(png.toString('base64'));
      byZoom[z].uniform++;
    }
  }
  return { tiles: names.length, uniform, share: uniform / names.length, distinctFiles: distinct.size, uniformBytes, allBytes, byZoom };
}

async function sendLines(port, text) {
  const socket = net.connect({ port, host: '127.0.0.1' });
  await once(socket, 'connect');
  socket.end(text);
  await once(socket, 'close');
}

const LATENCY_ZOOM = 12;
const BACKLOG_TILES = 10_000;

/**
 * bench/tiles.js `latencyUnderBacklog` on a `serve --style` daemon: first the
 * time of one metatile render (request → notice of one z12 tile) on the idle
 * daemon, median of 5; then 10,000 bulk tiles (z10–12 over Europe) queued
 * through the line protocol, and `samples` visible tiles asked one at a time
 * (a `viewport` over a fresh area of North America at z12 and one tile
 * inside it, none on disk), each timed from the request to its notice.
 * For each sample, how many render processes were busy just before it was
 * asked (`stats`), to tell a wait for a busy process from a slow render, and
 * the daemon's own render time of it. With `reniceBulk` (a diagnostic, done
 * from the bench, not by mosaicd): before every other sample the process busy
 * with a bulk metatile is set to nice BULK_NICE and the idle one, which will
 * take the visible tile, to 0; before the others both are at 0. The two
 * halves are compared within the one run.
 */
const BULK_NICE = 10;
/** Even samples (both processes at nice 0) vs odd ones (the bulk one at BULK_NICE): p50/p95 and median render time of each. */
function halves(latencies, renderMs) {
  const part = (odd) => {
    const l = latencies.filter((_, i) => i % 2 === (odd ? 1 : 0));
    const r = renderMs.filter((_, i) => i % 2 === (odd ? 1 : 0));
    return { p50Ms: percentile(l, 50), p95Ms: percentile(l, 95), renderMs: median(r), samples: l.length };
  };
  return { plain: part(false), niced: part(true) };
}
function reniceQuietly(pid, nice) {
  try {
    os.setPriority(pid, nice);
  } catch {
    // The process may have just been recycled; a lower nice may need CAP_SYS_NICE.
  }
}

async function latencyUnderBacklog(stylePath, { samples = 24, reniceBulk = false } = {}) {
  if (samples > 30) throw new Error('at most 30 samples (distinct areas with the 10 idle ones)');
  const d = await startDaemon(styleDaemonArgs(stylePath));
  const listener = await CompletionListener.listen({ port: d.callbackPort });
  try {
    await warmDaemon(d);
    // Distinct metatiles 40 tiles apart over North America, away from the backlog.
    const area = (i) => ({ x: 690 + 40 * (i % 10), y: 1440 + 40 * Math.floor(i / 10) });
    // The daemon's own render time of each sample (scheduler stats: renderer call to tiles back, z12 only;
    // the backlog's first 10,000 tiles are all z10, so z12 renders are the samples').
    const zoomTotals = async () => {
      const z = (await d.client.stats()).tiles.rendered[String(LATENCY_ZOOM)] ?? { renders: 0, meanMs: 0 };
      return { renders: z.renders, ms: z.renders * z.meanMs };
    };
    const renderMsSince = async (before) => {
      const after = await zoomTotals();
      return after.renders > before.renders ? (after.ms - before.ms) / (after.renders - before.renders) : NaN;
    };
    const single = [], singleRender = [];
    const idleSamples = async (first) => {
      for (let i = first; i < first + 5; i++) {
        const { x, y } = area(i);
        const name = `${LATENCY_ZOOM}_${x + 1}_${y + 1}`;
        const before = await zoomTotals();
        const t0 = performance.now();
        await sendLines(d.port, `${name}\n`);
        await listener.waitFor([name]);
        single.push(performance.now() - t0);
        singleRender.push(await renderMsSince(before));
      }
    };
    await idleSamples(0);
    // Past the headroom window of those foreground renders, as a seed would find the daemon.
    await new Promise((r) => setTimeout(r, 3500));

    const tiles = [];
    for (const t of enumerateTiles({ minZoom: 10, maxZoom: 12, bbox: [-10, 36, 30, 60] }, METATILE)) {
      tiles.push(t);
      if (tiles.length === BACKLOG_TILES) break;
    }
    const seeder = new Seeder();
    const controller = new AbortController();
    const seeding = seeder.run(tiles, { host: '127.0.0.1', port: d.port, command: 'bulk', force: false, window: BACKLOG_TILES, signal: controller.signal }).catch(() => undefined);
    for (;;) {
      const s = await d.client.stats();
      if (s.tiles.queued.bulk + s.tiles.running * METATILE * METATILE >= 0.9 * BACKLOG_TILES || seeder.progress.done > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const queuedAtStart = (await d.client.stats()).tiles.queued.bulk;

    const latencies = [], busyBefore = [], renderMs = [];
    for (let i = 0; i < samples; i++) {
      const { x, y } = area(5 + i);
      const name = `${LATENCY_ZOOM}_${x + 1}_${y + 1}`;
      const { render } = await d.client.stats();
      busyBefore.push(render.busy);
      // Diagnostic: the bulk render at nice BULK_NICE, the process left for the visible tile at 0.
      const niced = reniceBulk && i % 2 === 1;
      if (reniceBulk) for (const pid of render.pids) reniceQuietly(pid, niced && render.busyPids.includes(pid) ? BULK_NICE : 0);
      const before = await zoomTotals();
      const t0 = performance.now();
      await sendLines(d.port, `viewport ${LATENCY_ZOOM} ${x} ${y} ${x + 3} ${y + 2}\n${name}\n`);
      await listener.waitFor([name], 60_000);
      latencies.push(performance.now() - t0);
      renderMs.push(await renderMsSince(before));
      const wait = 100 - (performance.now() - t0);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    const backlogLeft = (await d.client.stats()).tiles.queued.bulk;
    controller.abort();
    await seeding;
    // Five more idle renders once the backlog is dropped: the baseline brackets the samples
    // (the machine's load drifts over the run; the median of the ten is the baseline).
    for (let i = 0; ; i++) {
      const s = await d.client.stats();
      if (s.tiles.running === 0 && s.tiles.queued.bulk === 0) break;
      if (i > 600) throw new Error('the backlog was not dropped');
      await new Promise((r) => setTimeout(r, 100));
    }
    await idleSamples(5 + samples);
    const singleMs = median(single);
    const p50Ms = percentile(latencies, 50), p95Ms = percentile(latencies, 95);
    // What the p95 sample spent outside its own render (queue wait, hand-off, tile writes, notice).
    const p95Index = latencies.indexOf(p95Ms);
    return {
      singleMs, single, singleRenderMs: median(singleRender), p50Ms, p95Ms, ratioP95: p95Ms / singleMs,
      latencies, renderMs, medianRenderMs: median(renderMs), p95RenderMs: renderMs[p95Index], busyBefore, queuedAtStart, backlogLeft, samples,
      ...(reniceBulk ? { halves: halves(latencies, renderMs) } : {}),
    };
  } finally {
    await stopDaemon(d);
    await listener.close();
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

/** The load average over the last minute, for the report (the machine is shared). */
const load1 = () => os.loadavg()[0];

/**
 * `runs` interleaved runs of the pyramid; MAPS_BENCH_PARTS=pyramid,latency,encoders
 * (comma-separated) runs only those parts (default all).
 */
export async function mapsBench({ runs = 3, only = process.env.MAPS_BENCH_PARTS?.split(',') } = {}) {
  // The render processes' own log (style loaded, ...) stays out of the bench output.
  process.env.MOSAICD_LOG_LEVEL ??= 'warn';
  const dir = await mkdtemp(path.join(tmpdir(), 'mosaicd-maps-style-'));
  const out = { rows: [] };
  const row = (figure, value, target = '') => out.rows.push({ figure, value, target });
  const want = (part) => only === undefined || only.includes(part);
  const mb = (ms, key) => median(ms.map((m) => m[key])).toFixed(0);
  try {
    const style = await writeTestStyle(dir, { resolution: '50m' });
    const withRenderd = have('renderd') && have('render_list') && existsSync(DEBIAN_PLUGINS);
    if (want('pyramid')) {
      // Interleaved: each run does all three, the order rotated per run so none always goes first.
      const kinds = ['daemon', 'direct', ...(withRenderd ? ['renderd'] : [])];
      const res = { daemon: [], direct: [], renderd: [] };
      const loads = [];
      for (let i = 0; i < runs; i++) {
        loads.push(load1());
        for (let k = 0; k < kinds.length; k++) {
          const kind = kinds[(i + k) % kinds.length];
          if (kind === 'daemon') res.daemon[i] = await daemonPyramid(style.xmlPath, { inspect: i === 0 });
          else if (kind === 'direct') res.direct[i] = await directPyramid(style.xmlPath);
          else res.renderd[i] = await renderdPyramid(style.xmlPath, { threads: PROCESSES, maxZoom: MAX_ZOOM, warmUp: true });
        }
        loads.push(load1());
        console.error(`  maps run ${i + 1}: ` + kinds.map((k) => `${k} ${res[k][i].tilesPerSecond.toFixed(0)}`).join(', ') + ` tiles/s (load ${loads.at(-2).toFixed(1)} → ${loads.at(-1).toFixed(1)})`);
      }
      const spread = (xs) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;
      const rate = (rs) => rs.map((r) => r.tilesPerSecond);
      const ratios = (a, b) => a.map((r, i) => r.tilesPerSecond / b[i].tilesPerSecond);
      const ratioText = (xs) => `${median(xs).toFixed(2)} (runs ${xs.map((r) => r.toFixed(2)).join(', ')})`;
      out.pyramid = { ...res, loadAverage: loads };
      const what = `cold z0-${MAX_ZOOM} (${tileCount(MAX_ZOOM)} tiles), ${METATILE}×${METATILE}, ${PROCESSES} render processes`;
      row(`${what}: through the daemon (serve --style, bulk lines)`, `${median(rate(res.daemon)).toFixed(0)} tiles/s (runs ${spread(rate(res.daemon))})`);
      row(`${what}: MapnikRenderer ${res.direct[0].mapnik} directly (no daemon)`, `${median(rate(res.direct)).toFixed(0)} tiles/s (runs ${spread(rate(res.direct))})`);
      row('daemon / direct (per run, median)', ratioText(ratios(res.daemon, res.direct)));
      if (withRenderd) {
        row(`same pyramid, Debian renderd (Mapnik 3.1), ${PROCESSES} threads, render_list -n ${PROCESSES} -l 1000`, `${median(rate(res.renderd)).toFixed(0)} tiles/s (runs ${spread(rate(res.renderd))})`);
        row('ratio daemon / renderd (per run, median)', ratioText(ratios(res.daemon, res.renderd)), '>= 1');
        row('ratio direct / renderd (per run, median)', ratioText(ratios(res.direct, res.renderd)));
        const rrss = res.renderd.flatMap((r) => r.memory);
        row(`renderd process RSS (${PROCESSES} render threads; VmRSS / VmHWM)`, `${mb(rrss, 'rssMb')} / ${mb(rrss, 'peakMb')} MB`);
      } else {
        row('renderd comparison', 'skipped: renderd, render_list or the Debian Mapnik 3.1 plugins are not installed');
      }
      row('load average (1 min) over the runs', `${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`);
      const drss = res.daemon.flatMap((r) => r.memory);
      row('daemon: RSS per render process after the pyramid (VmRSS / VmHWM)', `${mb(drss, 'rssMb')} / ${mb(drss, 'peakMb')} MB`);
      row('daemon: its own RSS after the pyramid (VmRSS / VmHWM)', `${mb(res.daemon.map((r) => r.daemon), 'rssMb')} / ${mb(res.daemon.map((r) => r.daemon), 'peakMb')} MB`);
      const loadedRss = res.direct.flatMap((r) => r.loaded);
      row('direct: RSS per mapnik-process with the style loaded, before rendering', `${mb(loadedRss, 'rssMb')} MB`);
      const xrss = res.direct.flatMap((r) => r.memory);
      row('direct: RSS per mapnik-process after the pyramid (VmRSS / VmHWM)', `${mb(xrss, 'rssMb')} / ${mb(xrss, 'peakMb')} MB`);
      const u = res.daemon[0].uniform;
      const zooms = Object.entries(u.byZoom).map(([z, c]) => `z${z} ${Math.round((100 * c.uniform) / c.tiles)}%`).join(', ');
      row('uniform (one-colour) tiles in the pyramid', `${u.uniform} of ${u.tiles} (${(100 * u.share).toFixed(1)}%; ${zooms}); ${u.distinctFiles} distinct files, ${(u.uniformBytes / Math.max(1, u.uniform)).toFixed(0)} B each vs ${(u.allBytes / u.tiles).toFixed(0)} B/tile overall`);
    }
    if (want('latency')) {
      const loadBefore = load1();
      const lat = await latencyUnderBacklog(style.xmlPath);
      const loadAfter = load1();
      const niced = await latencyUnderBacklog(style.xmlPath, { reniceBulk: true, samples: 30 });
      out.latency = { ...lat, loadAverage: [loadBefore, loadAfter], reniced: { ...niced, loadAverage: [loadAfter, load1()] } };
      row(`one z${LATENCY_ZOOM} metatile render, idle daemon (request → notice; median of 5 before and 5 after the backlog)`, `${lat.singleMs.toFixed(0)} ms (${lat.single.map((x) => x.toFixed(0)).join(', ')})`);
      row(`visible z${LATENCY_ZOOM} tile with ${lat.queuedAtStart} bulk tiles queued: p50 / p95 of ${lat.samples}`, `${lat.p50Ms.toFixed(0)} / ${lat.p95Ms.toFixed(0)} ms (backlog left ${lat.backlogLeft})`);
      row('latency ratio p95 / one metatile render', lat.ratioP95.toFixed(2), '<= 2');
      row('render time inside the daemon (renderer call → tiles back): idle / under backlog median / the p95 sample', `${lat.singleRenderMs.toFixed(0)} / ${lat.medianRenderMs.toFixed(0)} / ${lat.p95RenderMs.toFixed(0)} ms`);
      const waited = lat.busyBefore.filter((b) => b >= PROCESSES).length;
      row('visible samples asked while every render process was busy', `${waited} of ${lat.samples}`);
      row('load average (1 min) before / after the latency run', `${loadBefore.toFixed(1)} / ${loadAfter.toFixed(1)}`);
      const { plain, niced: nh } = niced.halves;
      const half = (h) => `p50 ${h.p50Ms.toFixed(0)} / p95 ${h.p95Ms.toFixed(0)} ms (render ${h.renderMs.toFixed(0)} ms; ratio ${(h.p95Ms / niced.singleMs).toFixed(2)})`;
      row(`diagnostic, a second daemon, ${niced.samples} samples alternating: bulk render process at nice 0 / at nice ${BULK_NICE} (set by the bench); idle render ${niced.singleMs.toFixed(0)} ms`, `${half(plain)} vs ${half(nh)}`);
    }
    if (want('encoders')) {
      const enc = await encoders(style.xmlPath);
      out.encoders = enc;
      for (const r of enc.rows) row(`encode z5 tiles, ${r.name}`, `${r.msPerTile.toFixed(2)} ms/tile, ${r.bytesPerTile.toFixed(0)} B/tile`);
      row(`solid tiles at z5 (isSolid per tile / encoding one)`, `${(100 * enc.solidShare).toFixed(0)}% (${enc.isSolidMs.toFixed(3)} ms / ${enc.solidEncodeMs.toFixed(2)} ms)`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return out;
}
