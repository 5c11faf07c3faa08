// npm run bench: prints a table and writes bench/results.json.
// Every figure is the median of several runs where it says so; ratios are
// taken against a baseline measured in the same run (these machines are noisy).
import os from 'node:os';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, fmt } from './lib.js';
import { coldPyramid, latencyUnderBacklog, cachedNotices } from './tiles.js';

const { values: args } = parseArgs({
  options: {
    only: { type: 'string', multiple: true },
    runs: { type: 'string', default: '3' },
  },
});
const runs = Number(args.runs);
const want = (name) => !args.only || args.only.includes(name);

const results = {
  date: new Date().toISOString(),
  node: process.version,
  cores: os.availableParallelism(),
  cpu: os.cpus()[0]?.model,
  figures: {},
};
const rows = [];
const row = (section, figure, value, target = '') => {
  rows.push({ section, figure, value, target });
  console.error(`  ${section}: ${figure} = ${value}`);
};

if (want('tiles')) {
  console.error('bench: cold pyramid z0-6 ...');
  const meta8 = await coldPyramid({ metatile: 8, runs });
  const meta1 = await coldPyramid({ metatile: 1, runs });
  results.figures.pyramid = { metatile8: meta8, metatile1: meta1 };
  row('tiles', `cold z0-6 pyramid (${meta8.tiles} tiles), metatile 8`, `${fmt(meta8.tilesPerSecond, 0)} tiles/s`, 'renderd+Mapnik here: 800-1,050');
  row('tiles', 'cold z0-6 pyramid, metatile 1', `${fmt(meta1.tilesPerSecond, 0)} tiles/s`);

  console.error('bench: visible latency under a 10,000-tile backlog ...');
  const lat = await latencyUnderBacklog();
  results.figures.latency = lat;
  row('tiles', 'single-tile render (idle, same run)', `${fmt(lat.singleMs)} ms`);
  row('tiles', `visible tile with ${lat.queuedAtStart} bulk queued: p50 / p95`, `${fmt(lat.p50Ms)} / ${fmt(lat.p95Ms)} ms`);
  row('tiles', 'latency ratio p95 / single render', fmt(lat.ratioP95, 2), '<= 2');
  row('tiles', 'peak RSS with 10,000 tiles queued', `${fmt(lat.peakRssMb, 0)} MB`, '<= 300 MB');

  console.error('bench: cached tile notices ...');
  const shortMode = await cachedNotices({ mode: 'short' });
  const persistent = await cachedNotices({ mode: 'persistent' });
  results.figures.cached = { short: shortMode, persistent };
  row('tiles', 'cached tiles, 8 connections, short notices', `${fmt(shortMode.noticesPerSecond, 0)} notices/s`, '>= 20,000');
  row('tiles', 'cached tiles, 8 connections, persistent notices', `${fmt(persistent.noticesPerSecond, 0)} notices/s`, '>= 20,000');
}

if (want('builtin')) {
  const { builtinVsRenderd } = await import('./builtin-vs-renderd.js');
  console.error('bench: built-in renderer vs renderd, cold z0-6, same data and style, interleaved ...');
  const b = await builtinVsRenderd({ runs });
  results.figures.builtin = b;
  const spread = (xs) => `${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)}`;
  row('builtin', `cold z0-6 pyramid (${b.tiles} tiles), 8x8, 2 render threads, through the daemon (geometry cache filled)`, `${fmt(b.medianMosaicd, 0)} tiles/s (runs ${spread(b.mosaicd)})`);
  row('builtin', 'the same on a first start (empty geometry cache: every level built), one run', `${fmt(b.firstStart.tilesPerSecond, 0)} tiles/s, CPU ${fmt(b.firstStart.cpuSeconds, 1)} s`);
  if (b.medianRatio === undefined) row('builtin', 'renderd comparison', 'skipped: renderd, render_list or the Debian Mapnik 3.1 plugins are not installed');
  else {
    row('builtin', 'same data and style in Mapnik 3.1, Debian renderd, 2 threads, render_list -n 2', `${fmt(b.medianRenderd, 0)} tiles/s (runs ${spread(b.renderd)})`);
    row('builtin', 'ratio mosaicd / renderd (per run, median)', `${fmt(b.medianRatio, 2)} (runs ${b.ratios.map((r) => fmt(r, 2)).join(', ')}; load ${b.load.map((l) => fmt(l, 1)).join(', ')})`, '>= 1.5');
    row('builtin', 'renderd with 1:50m at every zoom (docs/notes §5 bar)', `${fmt(b.medianRenderd50m, 0)} tiles/s (runs ${spread(b.renderd50m)})`);
    row('builtin', 'ratio mosaicd / renderd 1:50m (per run, median)', `${fmt(b.medianRatio50m, 2)} (runs ${b.ratios50m.map((r) => fmt(r, 2)).join(', ')})`);
    const cpus = (xs) => xs.map((x) => fmt(x, 1)).join(', ');
    row('builtin', 'CPU seconds per pyramid: mosaicd (all threads) / renderd / renderd 1:50m', `${cpus(b.cpu.mosaicd)} / ${cpus(b.cpu.renderd)} / ${cpus(b.cpu.renderd50m)}`);
    row('builtin', 'tiles per CPU-second, mosaicd / renderd (per run, median; load-independent)', `${fmt(b.medianCpuRatio, 2)} (runs ${b.cpuRatios.map((r) => fmt(r, 2)).join(', ')}); vs 1:50m ${fmt(b.medianCpuRatio50m, 2)} (runs ${b.cpuRatios50m.map((r) => fmt(r, 2)).join(', ')})`);
  }
}

if (want('isolation')) {
  const { isolationCost } = await import('./tiles.js');
  console.error('bench: process isolation for the built-in renderer (threads vs processes, interleaved) ...');
  const iso = await isolationCost({ runs });
  results.figures.isolation = iso;
  row('isolation', `cold z0-6 pyramid (${iso.tiles} tiles), render threads`, `${fmt(iso.threadTilesPerSecond, 0)} tiles/s`);
  row('isolation', 'same, render processes (--isolation process)', `${fmt(iso.processTilesPerSecond, 0)} tiles/s`);
  row('isolation', 'processes / threads', fmt(iso.ratio, 2));
  row('isolation', 'resident memory per render process (end of pyramid)', `${fmt(iso.renderProcessRssMb, 0)} MB`);
  row('isolation', 'daemon RSS at the end: threads / processes', `${fmt(iso.daemonRssMb.thread, 0)} / ${fmt(iso.daemonRssMb.process, 0)} MB`);
}

if (want('inference')) {
  const { inferenceBench } = await import('./inference.js');
  console.error('bench: inference ...');
  const inf = await inferenceBench({ runs });
  results.figures.inference = inf;
  for (const r of inf.rows) row('inference', r.figure, r.value, r.target ?? '');
}

if (want('pipeline')) {
  const { pipelineBench } = await import('./pipeline.js');
  console.error('bench: pipeline ...');
  const pipe = await pipelineBench({ runs });
  results.figures.pipeline = pipe;
  for (const r of pipe.rows) row('pipeline', r.figure, r.value, r.target ?? '');
}

if (want('grpc')) {
  const { grpcBench } = await import('./grpc.js');
  console.error('bench: gRPC vs framed ...');
  const g = await grpcBench({ runs });
  results.figures.grpc = g;
  for (const r of g.rows) row('grpc', r.figure, r.value, r.target ?? '');
}

if (want('load')) {
  const { loadBench } = await import('./load.js');
  console.error('bench: load ...');
  const load = await loadBench();
  results.figures.load = load;
  for (const r of load.rows) row('load', r.figure, r.value, r.target ?? '');
}

if (want('journal')) {
  const { journalBench } = await import('./journal.js');
  const j = await journalBench({ runs });
  results.figures.journal = j;
  const slower = (r) => `${fmt((1 - r) * 100, 1)}% slower`;
  const cpu = (f) => `CPU ${fmt(f.cpuMsPer1000Off, 0)} / ${fmt(f.cpuMsPer1000On, 0)} ms per 1,000 (${fmt((f.cpuRatio - 1) * 100, 1)}% more)`;
  row('journal', 'cached line notices/s, journal off / on', `${fmt(j.cachedNotices.off, 0)} / ${fmt(j.cachedNotices.on, 0)} (${slower(j.cachedNotices.ratio)}); ${cpu(j.cachedNotices)}`, '<= 10% slower');
  row('journal', 'cold z0-5 line tiles/s, journal off / on', `${fmt(j.coldTiles.off, 0)} / ${fmt(j.coldTiles.on, 0)} (${slower(j.coldTiles.ratio)}); ${cpu(j.coldTiles)}`, '<= 10% slower');
}

if (want('maps')) {
  const { mapsBench } = await import('./maps.js');
  console.error('bench: maps (Mapnik) ...');
  const maps = await mapsBench({ runs });
  results.figures.maps = maps;
  for (const r of maps.rows) row('maps', r.figure, r.value, r.target ?? '');
}

if (want('mp')) {
  const { mpBench } = await import('./mp.js');
  console.error('bench: multiprocessing clients vs framed ...');
  const mp = await mpBench();
  results.figures.mp = mp;
  for (const r of mp.rows) row('mp', r.figure, r.value, r.target ?? '');
}

if (want('tirex')) {
  const { tirexBench } = await import('./tirex.js');
  console.error('bench: tirex backends ...');
  const tx = await tirexBench({ runs });
  results.figures.tirex = tx.figures;
  for (const r of tx.rows) row('tirex', r.figure, r.value, r.target ?? '');
}

if (want('cluster')) {
  const { clusterBench } = await import('./cluster.js');
  console.error('bench: cluster (--queue on Redis) ...');
  const cl = await clusterBench({ runs });
  results.figures.cluster = cl;
  for (const r of cl.rows) row('cluster', r.figure, r.value, r.target ?? '');
}

const width = (k) => Math.max(k.length, ...rows.map((r) => String(r[k]).length));
const cols = ['section', 'figure', 'value', 'target'];
const line = (r) => cols.map((k) => String(r[k]).padEnd(width(k))).join(' | ');
console.log(`mosaicd bench — ${results.cores} cores, ${results.cpu}, node ${results.node}`);
console.log(line({ section: 'section', figure: 'figure', value: 'value', target: 'target' }));
console.log(cols.map((k) => '-'.repeat(width(k))).join('-|-'));
for (const r of rows) console.log(line(r));
await writeFile(path.join(ROOT, 'bench/results.json'), JSON.stringify(results, null, 2) + '\n');
console.log('\nwritten: bench/results.json');
