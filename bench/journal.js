// Journal bench (issue 11): what durability costs. Cached notices/s and cold
// tiles/s through line tile requests (the journalled path), with the journal
// on and off. The two daemons alternate within each run so that machine
// noise hits both alike; ratios on / off are taken per run, then the median.
// Besides wall-clock rates it reports the daemon's CPU time (user + system,
// all threads, /proc/PID/stat) per 1,000 requests, which a machine shared
// with other work disturbs much less than throughput.
import net from 'node:net';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { CompletionListener } from '../dist/client/completion-listener.js';
import { Seeder } from '../dist/seed/seeder.js';
import { enumerateTiles, countTiles } from '../dist/seed/tile-range.js';
import { startDaemon, median } from './lib.js';

const WORLD = [-180, -85.0511287798, 180, 85.0511287798];
const TICKS_PER_SECOND = 100; // USER_HZ on Linux

async function send(port, text) {
  const socket = net.connect({ port, host: '127.0.0.1' });
  await once(socket, 'connect');
  socket.end(text);
  await once(socket, 'close');
}

/** CPU seconds (user + system, every thread) a process has used. */
async function cpuSeconds(pid) {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** Sends `lines` over `connections` connections; resolves with wall and daemon CPU seconds once `total` notices arrived. */
async function measure(d, listener, lines, connections) {
  let received = 0;
  let errors = 0;
  const all = new Promise((resolve) => {
    listener.on('notice', (n) => {
      if (n.type === 'error') errors++;
      if (++received === lines.length) resolve();
    });
  });
  const cpu0 = await cpuSeconds(d.child.pid);
  const started = performance.now();
  await Promise.all(Array.from({ length: connections }, (_, c) => send(d.port, lines.filter((_, i) => i % connections === c).join(''))));
  await all;
  const seconds = (performance.now() - started) / 1000;
  const cpu = (await cpuSeconds(d.child.pid)) - cpu0;
  if (errors > 0) throw new Error(`${errors} requests failed`);
  return { seconds, cpu };
}

/** Tiles already on disk asked as `Z_X_Y` lines on 8 connections: notices/s and daemon CPU ms per 1,000. */
export async function cachedLineNotices({ args = [], connections = 8, perConnection = 2000 } = {}) {
  const d = await startDaemon(args);
  const listener = await CompletionListener.listen({ port: d.callbackPort });
  try {
    const warm = { minZoom: 0, maxZoom: 5, bbox: WORLD };
    await new Seeder().run(enumerateTiles(warm, 8), { host: '127.0.0.1', port: d.port, command: 'bulk', force: false });
    const names = [...enumerateTiles(warm, 8)].map((t) => `${t.z}_${t.x}_${t.y}\n`);
    const lines = Array.from({ length: connections * perConnection }, (_, i) => names[(i * 131) % names.length]);
    const { seconds, cpu } = await measure(d, listener, lines, connections);
    return { notices: lines.length, perSecond: lines.length / seconds, cpuMsPer1000: (cpu * 1e6) / lines.length };
  } finally {
    await listener.close();
    await d.stop();
  }
}

/** A cold pyramid z0–`maxZoom` asked as `Z_X_Y` lines on 4 connections: tiles/s and daemon CPU ms per 1,000. */
export async function coldLineTiles({ args = [], maxZoom = 5, connections = 4 } = {}) {
  const d = await startDaemon(args);
  const listener = await CompletionListener.listen({ port: d.callbackPort });
  try {
    const range = { minZoom: 0, maxZoom, bbox: WORLD };
    const lines = [...enumerateTiles(range, 8)].map((t) => `${t.z}_${t.x}_${t.y}\n`);
    if (lines.length !== countTiles(range)) throw new Error('tile count mismatch');
    const { seconds, cpu } = await measure(d, listener, lines, connections);
    return { tiles: lines.length, perSecond: lines.length / seconds, cpuMsPer1000: (cpu * 1e6) / lines.length };
  } finally {
    await listener.close();
    await d.stop();
  }
}

export async function journalBench({ runs = 3 } = {}) {
  const args = { on: [], off: ['--no-journal'] };
  const figures = { cached: cachedLineNotices, cold: coldLineTiles };
  const out = {};
  for (const name of Object.keys(figures)) out[name] = { on: [], off: [], ratio: [], cpuOn: [], cpuOff: [], cpuRatio: [] };
  for (let i = 0; i < runs; i++) {
    // Alternate which goes first, so a drift in the machine's load favours neither.
    const order = i % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
    for (const [name, fn] of Object.entries(figures)) {
      const r = {};
      for (const which of order) {
        console.error(`bench: journal ${which}, ${name}, run ${i + 1}/${runs} ...`);
        r[which] = await fn({ args: args[which] });
      }
      const f = out[name];
      f.on.push(r.on.perSecond);
      f.off.push(r.off.perSecond);
      f.ratio.push(r.on.perSecond / r.off.perSecond);
      f.cpuOn.push(r.on.cpuMsPer1000);
      f.cpuOff.push(r.off.cpuMsPer1000);
      f.cpuRatio.push(r.on.cpuMsPer1000 / r.off.cpuMsPer1000);
    }
  }
  const summary = (f) => ({
    on: median(f.on), off: median(f.off), ratio: median(f.ratio),
    cpuMsPer1000On: median(f.cpuOn), cpuMsPer1000Off: median(f.cpuOff), cpuRatio: median(f.cpuRatio),
    runs: f,
  });
  return { cachedNotices: summary(out.cached), coldTiles: summary(out.cold) };
}
