// Tile benchmarks (issue 3): cold pyramid, visible latency under backlog,
// cached notices per second, memory with 10,000 tiles queued.
import net from 'node:net';
import { once } from 'node:events';
import { CompletionListener } from '../dist/client/completion-listener.js';
import { Seeder } from '../dist/seed/seeder.js';
import { enumerateTiles, countTiles } from '../dist/seed/tile-range.js';
import { startDaemon, median, percentile, memoryOf, cpuSecondsOf } from './lib.js';

const WORLD = [-180, -85.0511287798, 180, 85.0511287798];

/** Cold z0–6 pyramid through a fresh daemon: tiles/s, median of `runs`. */
export async function coldPyramid({ metatile, runs, maxZoom = 6, args = [] }) {
  const range = { minZoom: 0, maxZoom, bbox: WORLD };
  const total = countTiles(range);
  const rates = [];
  for (let i = 0; i < runs; i++) rates.push((await pyramidOnce(range, metatile, args)).tilesPerSecond);
  return { tiles: total, tilesPerSecond: median(rates), runs: rates };
}

/** One cold z0–maxZoom pyramid through a fresh daemon (bench/builtin-vs-renderd.js). */
export function coldPyramidOnce({ metatile = 8, maxZoom = 6, args = [] } = {}) {
  return pyramidOnce({ minZoom: 0, maxZoom, bbox: WORLD }, metatile, args);
}

/** One cold pyramid through a fresh daemon; also the resident memory of its render processes at the end (if any). */
async function pyramidOnce(range, metatile, args) {
  const total = countTiles(range);
  const d = await startDaemon(['--metatile', String(metatile), ...args]);
  try {
    const started = performance.now();
    const cpu0 = await cpuSecondsOf(d.child.pid);
    const p = await new Seeder().run(enumerateTiles(range, metatile), { host: '127.0.0.1', port: d.port, command: 'bulk', force: false });
    const seconds = (performance.now() - started) / 1000;
    const cpuSeconds = (await cpuSecondsOf(d.child.pid)) - cpu0;
    if (p.errors > 0) throw new Error(`${p.errors} tiles failed`);
    const { render } = await d.client.stats();
    const processRss = [];
    for (const pid of render.pids ?? []) processRss.push((await memoryOf(pid)).rssMb);
    return { tilesPerSecond: total / seconds, cpuSeconds, processRss, daemonRssMb: (await memoryOf(d.child.pid)).rssMb };
  } finally {
    await d.stop();
  }
}

/**
 * The cost of process isolation for the built-in renderer: the cold z0–6
 * pyramid (metatile 8) with render threads and with render processes, runs
 * interleaved in the same session (thread, process, thread, ...), medians and
 * their ratio; and the resident memory of one render process at the end.
 */
export async function isolationCost({ runs, metatile = 8 }) {
  const range = { minZoom: 0, maxZoom: 6, bbox: WORLD };
  const thread = [];
  const proc = [];
  const rss = [];
  const daemonRss = { thread: [], process: [] };
  for (let i = 0; i < runs; i++) {
    const t = await pyramidOnce(range, metatile, ['--isolation', 'thread']);
    thread.push(t.tilesPerSecond);
    daemonRss.thread.push(t.daemonRssMb);
    const p = await pyramidOnce(range, metatile, ['--isolation', 'process']);
    proc.push(p.tilesPerSecond);
    daemonRss.process.push(p.daemonRssMb);
    rss.push(...p.processRss);
  }
  return {
    tiles: countTiles(range),
    threadTilesPerSecond: median(thread),
    processTilesPerSecond: median(proc),
    ratio: median(proc) / median(thread),
    runs: { thread, process: proc },
    renderProcessRssMb: median(rss),
    daemonRssMb: { thread: median(daemonRss.thread), process: median(daemonRss.process) },
  };
}

async function send(port, text) {
  const socket = net.connect({ port, host: '127.0.0.1' });
  await once(socket, 'connect');
  socket.end(text);
  await once(socket, 'close');
}

/**
 * Queues 10,000 bulk tiles (z10–z12 over Europe), then every 100 ms moves a
 * viewport and asks for one visible tile there; time to its notice.
 * Also the daemon's memory with the backlog queued.
 */
export async function latencyUnderBacklog({ samples = 30 } = {}) {
  if (samples > 35) throw new Error('at most 35 samples (distinct areas)');
  const d = await startDaemon();
  const listener = await CompletionListener.listen({ port: d.callbackPort });
  try {
    // Sample areas: distinct metatiles over North America at z12, away from the backlog.
    // The first five give the single-tile render time on the idle daemon (same run, same kind of tiles).
    const area = (i) => ({ x: 690 + 40 * (i % 10), y: 1440 + 40 * Math.floor(i / 10) });
    const single = [];
    for (let i = 0; i < 5; i++) {
      const { x, y } = area(i);
      const name = `12_${x + 1}_${y + 1}`;
      const t0 = performance.now();
      await send(d.port, `${name}\n`);
      await listener.waitFor([name]);
      single.push(performance.now() - t0);
    }
    const singleMs = median(single);

    const backlog = { minZoom: 10, maxZoom: 12, bbox: [-10, 36, 30, 60] };
    const tiles = [];
    for (const t of enumerateTiles(backlog, 8)) {
      tiles.push(t);
      if (tiles.length === 10_000) break;
    }
    const seeder = new Seeder();
    const controller = new AbortController();
    const seeding = seeder.run(tiles, { host: '127.0.0.1', port: d.port, command: 'bulk', force: false, window: 10_000, signal: controller.signal }).catch(() => undefined);
    // Wait until the whole backlog is queued.
    for (;;) {
      const s = await d.client.stats();
      const queued = s.tiles.queued.bulk + s.tiles.running * 64;
      if (queued >= 9_000 || seeder.progress.done > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const memory = await memoryOf(d.child.pid);
    const queuedAtStart = (await d.client.stats()).tiles.queued.bulk;

    const latencies = [];
    for (let i = 0; i < samples; i++) {
      const { x, y } = area(5 + i);
      const t0 = performance.now();
      await send(d.port, `viewport 12 ${x} ${y} ${x + 3} ${y + 2}\n12_${x + 1}_${y + 1}\n`);
      await listener.waitFor([`12_${x + 1}_${y + 1}`], 60_000);
      latencies.push(performance.now() - t0);
      const wait = 100 - (performance.now() - t0);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    const backlogLeft = (await d.client.stats()).tiles.queued.bulk;
    controller.abort();
    await seeding;
    const p50 = percentile(latencies, 50);
    const p95 = percentile(latencies, 95);
    return { singleMs, p50Ms: p50, p95Ms: p95, ratioP95: p95 / singleMs, queuedAtStart, backlogLeft, peakRssMb: memory.peakMb, rssMb: memory.rssMb };
  } finally {
    await listener.close();
    await d.stop();
  }
}

/** Notices per second for tiles already on disk, from 8 client connections. */
export async function cachedNotices({ mode = 'short', connections = 8, perConnection = 5000 } = {}) {
  const d = await startDaemon(['--callback-mode', mode]);
  const listener = await CompletionListener.listen({ port: d.callbackPort });
  try {
    const warm = { minZoom: 0, maxZoom: 5, bbox: WORLD };
    await new Seeder().run(enumerateTiles(warm, 8), { host: '127.0.0.1', port: d.port, command: 'bulk', force: false });
    const names = [...enumerateTiles(warm, 8)].map((t) => `${t.z}_${t.x}_${t.y}`);
    const total = connections * perConnection;
    let received = 0;
    const all = new Promise((resolve) => {
      listener.on('notice', () => {
        received++;
        if (received === total) resolve();
      });
    });
    const started = performance.now();
    await Promise.all(
      Array.from({ length: connections }, (_, c) => {
        let body = '';
        for (let i = 0; i < perConnection; i++) body += `${names[(c * 131 + i) % names.length]}\n`;
        return send(d.port, body);
      }),
    );
    await all;
    const seconds = (performance.now() - started) / 1000;
    listener.notices.length = 0;
    return { mode, notices: total, noticesPerSecond: total / seconds };
  } finally {
    await listener.close();
    await d.stop();
  }
}
