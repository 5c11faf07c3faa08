// Load: many connections and deep pipelines against a real daemon child
// process, loopback only. Run with `npm run bench -- --only load` (bench/run.js
// imports loadBench) or directly: `npm run build && node bench/load.js`.
//
// 1. 1,000 line-protocol connections open at once, each asking for 5 tiles
//    (z0–6, seeded) and a barrier: once cold (renders), once warm (on disk).
// 2. 10,000 framed requests pipelined on 16 connections (625 each, written
//    at once): 90% `ping`, 10% `render` of tiles already on disk.
// Reports throughput, errors (target 0), the daemon's peak RSS, and its open
// file descriptors before and after (/proc/PID/fd): none may leak.
import net from 'node:net';
import { once } from 'node:events';
import { readdir } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { encodeFrameRequest } from '../dist/protocol/frame-encoder.js';
import { FrameResponseDecoder } from '../dist/protocol/frame-response-decoder.js';
import { startDaemon, memoryOf, fmt, percentile } from './lib.js';
import { prng } from '../test/protocol/fixtures/chunking.ts';

const LINE_CONNECTIONS = 1000;
const TILES_PER_CONNECTION = 5;
const FRAMED_CONNECTIONS = 16;
const FRAMED_REQUESTS = 10_000;

const fdsOf = async (pid) => (await readdir(`/proc/${pid}/fd`)).length;
const softFdLimit = () => spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim();

/** Counts notices: reads each connection to EOF (the C# listener's way). */
async function countingListener(port) {
  const counts = { tiles: 0, errors: 0, firstErrors: [] };
  const server = net.createServer((s) => {
    let text = '';
    s.setEncoding('utf8');
    s.on('data', (c) => (text += c));
    s.on('end', () => {
      for (const line of text.split('\n').filter(Boolean)) {
        if (line.startsWith('error ')) {
          counts.errors++;
          if (counts.firstErrors.length < 5) counts.firstErrors.push(line);
        } else if (line !== 'done') counts.tiles++;
      }
      s.end();
    });
    s.on('error', () => undefined);
  });
  server.listen({ host: '127.0.0.1', port, backlog: 1024 });
  await once(server, 'listening');
  return { counts, close: () => new Promise((r) => server.close(r)) };
}

async function waitFor(what, check, timeoutMs = 120_000) {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`load bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Opens `n` connections (in batches), keeps them all open, then sends on every one at once. */
async function lineWave(port, tilesFor, n) {
  const sockets = [];
  let failed = 0;
  for (let i = 0; i < n; i += 100) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(100, n - i) }, () =>
        new Promise((resolve) => {
          const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
          s.once('connect', () => resolve(s));
          s.once('error', () => {
            failed++;
            resolve(undefined);
          });
        }),
      ),
    );
    sockets.push(...batch.filter(Boolean));
  }
  const started = performance.now();
  const latencies = [];
  const results = await Promise.all(
    sockets.map(
      (s, i) =>
        new Promise((resolve) => {
          let reply = '';
          const t0 = performance.now();
          s.setEncoding('utf8');
          s.on('data', (c) => (reply += c));
          s.on('error', () => undefined);
          s.once('close', () => {
            latencies.push(performance.now() - t0);
            resolve(reply === '\n');
          });
          s.end(`${tilesFor(i).join('\n')}\n\n`);
        }),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  return { seconds, opened: sockets.length, failed: failed + results.filter((ok) => !ok).length, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) };
}

async function framedPipelines(port, tiles) {
  const perConnection = FRAMED_REQUESTS / FRAMED_CONNECTIONS;
  let errors = 0;
  let wrongOrder = 0;
  const firstErrors = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: FRAMED_CONNECTIONS }, async (_, c) => {
      const s = net.connect({ port, host: '127.0.0.1' });
      s.setNoDelay(true);
      await once(s, 'connect');
      const decoder = new FrameResponseDecoder();
      const got = [];
      const done = new Promise((resolve, reject) => {
        s.on('data', (chunk) => {
          for (const item of decoder.push(chunk)) {
            if (item.type !== 'response') return reject(new Error(item.error.message));
            got.push(JSON.parse(item.json.toString('utf8')));
            if (got.length === perConnection) resolve();
          }
        });
        s.once('close', () => (got.length < perConnection ? reject(new Error(`connection ${c} closed after ${got.length} answers`)) : resolve()));
      });
      const frames = [];
      for (let i = 0; i < perConnection; i++) {
        const id = c * perConnection + i;
        const json = i % 10 === 9 ? { command: 'render', request_id: id, tile: tiles[id % tiles.length] } : { command: 'ping', request_id: id };
        frames.push(...encodeFrameRequest(json));
      }
      s.write(Buffer.concat(frames));
      await done;
      s.end();
      got.forEach((r, i) => {
        if (r.request_id !== c * perConnection + i) wrongOrder++;
        if (!r.success) {
          errors++;
          if (firstErrors.length < 5) firstErrors.push(r.error);
        }
      });
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { seconds, requestsPerSecond: FRAMED_REQUESTS / seconds, errors, wrongOrder, firstErrors };
}

export async function loadBench({ log = console.error, seed = 20261121 } = {}) {
  const d = await startDaemon(['--concurrency', '2']);
  const listener = await countingListener(d.callbackPort);
  const pid = d.child.pid;
  const stats = () => d.client.stats();
  const quiet = () => waitFor('the daemon to settle', async () => {
    const s = await stats();
    return s.connections <= 1 && s.notices.pending === 0 && s.tiles.queuedJobs === 0 && s.tiles.running === 0;
  });
  try {
    await d.client.request(['0_0_0'], { barrier: true }); // workers up
    await quiet();
    await waitFor('the warm-up notice', () => listener.counts.tiles === 1);
    listener.counts.tiles = 0;
    const fdsBefore = await fdsOf(pid);
    const rssBefore = (await memoryOf(pid)).rssMb;
    log(`load: daemon pid ${pid}, ${fdsBefore} fds, RSS ${fmt(rssBefore)} MB, ulimit -n ${softFdLimit()}`);

    const r = prng(seed);
    const tileAt = () => {
      const z = Math.floor(r() * 7);
      const n = 2 ** z;
      return `${z}_${Math.floor(r() * n)}_${Math.floor(r() * n)}`;
    };
    const lineTiles = Array.from({ length: LINE_CONNECTIONS }, () => Array.from({ length: TILES_PER_CONNECTION }, tileAt));
    let peakConnections = 0;
    const sampler = setInterval(() => {
      stats().then((s) => (peakConnections = Math.max(peakConnections, s.connections)), () => undefined);
    }, 100);

    log(`load: ${LINE_CONNECTIONS} line connections × ${TILES_PER_CONNECTION} tiles, cold ...`);
    const cold = await lineWave(d.port, (i) => lineTiles[i], LINE_CONNECTIONS);
    await waitFor('the cold notices', () => listener.counts.tiles + listener.counts.errors >= LINE_CONNECTIONS * TILES_PER_CONNECTION);
    log(`load: ... warm (every tile on disk) ...`);
    const warm = await lineWave(d.port, (i) => lineTiles[i], LINE_CONNECTIONS);
    await waitFor('the warm notices', () => listener.counts.tiles + listener.counts.errors >= 2 * LINE_CONNECTIONS * TILES_PER_CONNECTION);
    clearInterval(sampler);
    const lineErrors = cold.failed + warm.failed + listener.counts.errors;

    log(`load: ${FRAMED_REQUESTS} framed requests pipelined on ${FRAMED_CONNECTIONS} connections ...`);
    const framed = await framedPipelines(d.port, lineTiles.flat());
    await quiet();
    const s = await stats();
    const mem = await memoryOf(pid);
    const fdsAfter = await fdsOf(pid);
    const rows = [
      { figure: 'ulimit -n (soft; bench and daemon)', value: softFdLimit(), target: `>= ${LINE_CONNECTIONS + 100}` },
      { figure: `${LINE_CONNECTIONS} concurrent line connections × ${TILES_PER_CONNECTION} tiles (z0–6), cold`, value: `${fmt(cold.seconds)} s, ${fmt((LINE_CONNECTIONS * TILES_PER_CONNECTION) / cold.seconds, 0)} tiles/s` },
      { figure: `same, warm (all on disk)`, value: `${fmt(warm.seconds)} s, ${fmt((LINE_CONNECTIONS * TILES_PER_CONNECTION) / warm.seconds, 0)} tiles/s; barrier p50 / p99 ${fmt(warm.p50Ms, 0)} / ${fmt(warm.p99Ms, 0)} ms` },
      { figure: 'connections open at once (daemon stats, sampled)', value: String(peakConnections), target: `>= ${LINE_CONNECTIONS}` },
      { figure: 'line errors (failed connections + error notices)', value: String(lineErrors), target: '0' },
      { figure: 'notices delivered (tile notices, both waves)', value: `${listener.counts.tiles} of ${2 * LINE_CONNECTIONS * TILES_PER_CONNECTION}` },
      { figure: `${FRAMED_REQUESTS} pipelined framed requests (90% ping, 10% render) on ${FRAMED_CONNECTIONS} connections`, value: `${fmt(framed.seconds, 2)} s, ${fmt(framed.requestsPerSecond, 0)} req/s` },
      { figure: 'framed errors / answers out of order', value: `${framed.errors} / ${framed.wrongOrder}`, target: '0 / 0' },
      { figure: 'daemon RSS before / after / peak (VmHWM)', value: `${fmt(rssBefore, 0)} / ${fmt(mem.rssMb, 0)} / ${fmt(mem.peakMb, 0)} MB` },
      { figure: 'daemon open fds before / after', value: `${fdsBefore} / ${fdsAfter}`, target: 'after <= before' },
    ];
    return {
      rows,
      cold,
      warm,
      framed,
      lineErrors,
      firstLineErrors: listener.counts.firstErrors,
      peakConnections,
      fdsBefore,
      fdsAfter,
      rssBeforeMb: rssBefore,
      rssAfterMb: mem.rssMb,
      peakRssMb: mem.peakMb,
      tiles: s.tiles,
    };
  } finally {
    await listener.close();
    await d.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const result = await loadBench();
  const w = Math.max(...result.rows.map((r) => r.figure.length));
  console.log('mosaicd load');
  for (const r of result.rows) console.log(`${r.figure.padEnd(w)} | ${r.value}${r.target ? `  (target ${r.target})` : ''}`);
  if (result.firstLineErrors.length) console.log(`first line errors: ${result.firstLineErrors.join(' | ')}`);
  if (result.framed.firstErrors.length) console.log(`first framed errors: ${JSON.stringify(result.framed.firstErrors)}`);
  const ok = result.lineErrors === 0 && result.framed.errors === 0 && result.framed.wrongOrder === 0 && result.fdsAfter <= result.fdsBefore;
  process.exitCode = ok ? 0 : 1;
}
