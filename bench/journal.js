// Journal bench (issue 11): what durability costs. Cached notices/s and cold
// tiles/s through line tile requests (the journalled path), with the journal
// on and off, the two daemons alternating within each run so that machine
// noise hits both alike; ratios on / off per run, then the median.
import net from 'node:net';
import { once } from 'node:events';
import { CompletionListener } from '../dist/client/completion-listener.js';
import { enumerateTiles, countTiles } from '../dist/seed/tile-range.js';
import { cachedNotices } from './tiles.js';
import { startDaemon, median } from './lib.js';

const WORLD = [-180, -85.0511287798, 180, 85.0511287798];

async function send(port, text) {
  const socket = net.connect({ port, host: '127.0.0.1' });
  await once(socket, 'connect');
  socket.end(text);
  await once(socket, 'close');
}

/**
 * Cold z0–`maxZoom` pyramid asked as plain `Z_X_Y` lines (interactive, each
 * journalled and notified) on `connections` connections; tiles/s from the
 * first line to the last notice at the listener, fresh daemon.
 */
export async function coldLineTiles({ args = [], maxZoom = 6, connections = 4 } = {}) {
  const d = await startDaemon(args);
  const listener = await CompletionListener.listen({ port: d.callbackPort });
  try {
    const range = { minZoom: 0, maxZoom, bbox: WORLD };
    const total = countTiles(range);
    const names = [...enumerateTiles(range, 8)].map((t) => `${t.z}_${t.x}_${t.y}\n`);
    let received = 0;
    let errors = 0;
    const all = new Promise((resolve) => {
      listener.on('notice', (n) => {
        if (n.type === 'error') errors++;
        if (++received === total) resolve();
      });
    });
    const started = performance.now();
    await Promise.all(Array.from({ length: connections }, (_, c) => send(d.port, names.filter((_, i) => i % connections === c).join(''))));
    await all;
    const seconds = (performance.now() - started) / 1000;
    if (errors > 0) throw new Error(`${errors} tiles failed`);
    return { tiles: total, tilesPerSecond: total / seconds };
  } finally {
    await listener.close();
    await d.stop();
  }
}

export async function journalBench({ runs = 3 } = {}) {
  const off = ['--no-journal'];
  const cached = { on: [], off: [], ratio: [] };
  const cold = { on: [], off: [], ratio: [] };
  for (let i = 0; i < runs; i++) {
    // Alternate which goes first, so a drift in the machine's load favours neither.
    const order = i % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
    const c = {};
    const k = {};
    for (const which of order) {
      console.error(`bench: journal ${which}, run ${i + 1}/${runs} ...`);
      c[which] = (await cachedNotices({ mode: 'short', args: which === 'off' ? off : [] })).noticesPerSecond;
      k[which] = (await coldLineTiles({ args: which === 'off' ? off : [] })).tilesPerSecond;
    }
    for (const [fig, v] of [[cached, c], [cold, k]]) {
      fig.on.push(v.on);
      fig.off.push(v.off);
      fig.ratio.push(v.on / v.off);
    }
  }
  const summary = (f) => ({ on: median(f.on), off: median(f.off), ratio: median(f.ratio), runs: f });
  return { cachedNotices: summary(cached), coldTiles: summary(cold) };
}
