/**
 * Fuzzing a real daemon: a few thousand random and mutated lines and frames
 * (seeded, reproducible: the seed is printed; MOSAICD_FUZZ_SEED=N repeats a
 * run), on many connections, in random chunks. Then the daemon must answer
 * valid requests on a fresh connection, with its memory back near where it
 * started.
 *
 * Memory: the daemon runs in this process, so the measure is the V8 heap in
 * use after a full garbage collection (exposed with v8.setFlagsFromString),
 * before the fuzz (after a warm-up) and after it (once every connection is
 * closed and every notice delivered). Tolerance: 8 MiB. RSS would not do
 * here: it includes tap's own buffers and never shrinks back after a peak.
 * bench/fuzz.js reports the RSS of a daemon child process for long runs.
 *
 * The main run is tiles-only (fast to start); a smaller run sends `process`
 * frames with garbage images to a daemon with inference.
 */
import t from 'tap';
import net from 'node:net';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { DEFAULT_CONFIG } from '../../src/config/daemon-config.js';
import { ErrorCode } from '../../src/errors.js';
import type { Daemon } from '../../src/daemon.js';
import { LOOPBACK, RawFramed, closeOf, connect, exchange, freePort, frame, pngBomb, prng, startHard, waitUntil, within } from './fixtures/lib.js';
import { frameConnection, int, lineConnection, pick, rawConnection, split, type Rand } from './fixtures/fuzz-gen.js';

v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const SEED = process.env['MOSAICD_FUZZ_SEED'] !== undefined ? Number(process.env['MOSAICD_FUZZ_SEED']) : Math.floor(Math.random() * 2 ** 31);
const MAX_ZOOM = 5;
/** MOSAICD_FUZZ_SCALE=N multiplies the connections (a longer local run); bench/fuzz.js is the long run. */
const SCALE = Math.max(1, Number(process.env['MOSAICD_FUZZ_SCALE'] ?? 1) || 1);
const LINE_CONNECTIONS = 40 * SCALE;
const LINES_PER_CONNECTION = 75; // 3,000 lines
const FRAME_CONNECTIONS = 60 * SCALE;
const FRAMES_PER_CONNECTION = 25; // 1,500 frames
const RAW_CONNECTIONS = 100 * SCALE;
const PARALLEL = 8;
const HEAP_TOLERANCE = 8 * 1024 * 1024;
const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

/** A completion listener that reads each notice to EOF and counts it. */
async function discardListener(port: number): Promise<{ count: () => number; close: () => Promise<void> }> {
  let count = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('data', (c: Buffer) => (count += c.toString().split('\n').length - 1));
    s.on('end', () => s.end());
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  server.listen({ host: LOOPBACK, port });
  await new Promise((r) => server.once('listening', r));
  return {
    count: () => count,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

async function writeChunks(socket: net.Socket, chunks: Buffer[]): Promise<void> {
  for (const c of chunks) {
    if (socket.destroyed) return;
    if (!socket.write(c)) await new Promise<void>((resolve) => {
      socket.once('drain', resolve);
      socket.once('close', resolve);
    });
  }
}

async function runPool<T>(items: T[], parallel: number, run: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < items.length) {
      const i = next++;
      await run(items[i]!, i);
    }
  }));
}

/** Nothing left in flight: no connection, no notice pending, no render queued or running. */
async function quiesce(daemon: Daemon): Promise<void> {
  await waitUntil('the daemon to be quiet', () => {
    const s = daemon.stats() as { connections: number; notices: { pending: number }; tiles: { queuedJobs: number; running: number } };
    return s.connections === 0 && s.notices.pending === 0 && s.tiles.queuedJobs === 0 && s.tiles.running === 0;
  }, 60_000, 20);
}

function heapAfterGc(): number {
  for (let i = 0; i < 4; i++) gc();
  return process.memoryUsage().heapUsed;
}

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

t.test(`fuzz: lines, frames and raw bytes (seed ${SEED})`, async (t) => {
  t.comment(`fuzz seed ${SEED}; repeat with MOSAICD_FUZZ_SEED=${SEED}`);
  const r = prng(SEED);
  const callbackPort = await freePort();
  const listener = await discardListener(callbackPort);
  t.teardown(() => listener.close());
  // An admin token nobody knows: a fuzzed `stop` or `shutdown` must not stop the daemon.
  const h = await startHard(t, { maxZoom: MAX_ZOOM, adminToken: randomBytes(16).toString('hex') }, { callbackPort });

  // Warm-up: every path once, so caches and lazy state exist before the baseline.
  t.match(await exchange(h.port, '3_4_2\n1_0_0\n\nping\nstats\nviewport 2 0 0 1 1\nbogus\n'), /^pong\n\{.*\}\n\n$/s, 'warm-up: pong, stats, then the barrier');
  const warm = await RawFramed.open(h.port);
  for (const json of [{ command: 'ping' }, { command: 'render', tile: '2_1_1' }, { command: 'stats' }, { command: 'bogus' }, { command: 'process', camera_number: 0 }]) {
    await warm.request(json, json.command === 'process' ? Buffer.from('x') : undefined);
  }
  warm.end();
  await warm.closed;
  await quiesce(h.daemon);
  const heapBefore = heapAfterGc();

  const started = performance.now();
  let lines = 0;
  let frames = 0;
  const codes = new Map<string, number>();
  const count = (code: string) => codes.set(code, (codes.get(code) ?? 0) + 1);

  type Job = { kind: 'lines' | 'frames' | 'raw'; seed: number };
  const jobs: Job[] = [
    ...Array.from({ length: LINE_CONNECTIONS }, () => ({ kind: 'lines' as const, seed: int(r, 0, 2 ** 30) })),
    ...Array.from({ length: FRAME_CONNECTIONS }, () => ({ kind: 'frames' as const, seed: int(r, 0, 2 ** 30) })),
    ...Array.from({ length: RAW_CONNECTIONS }, () => ({ kind: 'raw' as const, seed: int(r, 0, 2 ** 30) })),
  ];
  // Shuffle, so the kinds interleave on the daemon.
  for (let i = jobs.length - 1; i > 0; i--) {
    const j = int(r, 0, i);
    [jobs[i], jobs[j]] = [jobs[j]!, jobs[i]!];
  }

  const problems: string[] = [];
  await runPool(jobs, PARALLEL, async (job, index) => {
    const jr: Rand = prng(job.seed); // each connection reproducible on its own
    if (job.kind === 'frames') {
      const conn = frameConnection(jr, MAX_ZOOM, FRAMES_PER_CONNECTION, index * 1000, { maxJsonBytes: DEFAULT_CONFIG.maxFrameJsonBytes, maxPayloadBytes: DEFAULT_CONFIG.maxPayloadBytes });
      frames += FRAMES_PER_CONNECTION;
      const c = await RawFramed.open(h.port);
      await writeChunks(c.socket, conn.chunks);
      if (!c.socket.destroyed) c.socket.end();
      await within(c.closed, 30_000, `frame connection ${index} (seed ${job.seed}) to close`);
      if (c.responses.length !== conn.responses) problems.push(`frame connection ${index} (seed ${job.seed}): ${c.responses.length} responses for ${conn.responses}`);
      c.responses.forEach((resp, i) => {
        const code = resp.json.error?.code ?? 'ok';
        count(code);
        if (code !== 'ok' && !KNOWN_CODES.has(code)) problems.push(`unknown code ${code}`);
        if (typeof resp.json.success !== 'boolean') problems.push(`response without success: ${JSON.stringify(resp.json).slice(0, 200)}`);
        const want = conn.ids[i];
        if (want !== undefined && resp.json.request_id !== want) problems.push(`frame connection ${index} (seed ${job.seed}): response ${i} echoes ${String(resp.json.request_id)}, want ${want}`);
      });
      if (conn.fatal && c.responses.at(-1)?.json.error?.code !== 'TOO_LARGE') problems.push(`frame connection ${index} (seed ${job.seed}): a fatal length was not answered TOO_LARGE`);
      return;
    }
    const socket = await connect(h.port, { allowHalfOpen: false });
    const chunks = job.kind === 'lines' ? lineConnection(jr, MAX_ZOOM, LINES_PER_CONNECTION) : rawConnection(jr);
    if (job.kind === 'lines') lines += LINES_PER_CONNECTION;
    socket.resume();
    await writeChunks(socket, chunks);
    if (!socket.destroyed) socket.end();
    await within(closeOf(socket), 30_000, `${job.kind} connection ${index} (seed ${job.seed}) to close`);
  });
  const seconds = (performance.now() - started) / 1000;
  t.same(problems, [], 'every frame answered once, in order, with a known code');
  t.comment(`${lines} lines and ${frames} frames on ${jobs.length} connections in ${seconds.toFixed(1)} s; framed answers: ${JSON.stringify(Object.fromEntries(codes))}`);

  await quiesce(h.daemon);
  t.comment(`notices delivered to the listener: ${listener.count()}`);

  // A valid request on a fresh connection, both protocols.
  t.equal(await exchange(h.port, 'ping\n'), 'pong\n', 'line ping on a fresh connection');
  t.equal(await exchange(h.port, '4_3_3\n\n'), '\n', 'a tile renders');
  const fresh = await RawFramed.open(h.port);
  t.match((await fresh.request({ command: 'render', request_id: 'after', tile: '5_20_10' })).json, { success: true, request_id: 'after', results: [{ tile: '5_20_10' }] });
  fresh.end();
  await fresh.closed;
  t.ok(h.daemon.ready(), 'the daemon is still running (a fuzzed stop/shutdown never got through)');

  await quiesce(h.daemon);
  const heapAfter = heapAfterGc();
  t.comment(`heap after GC: ${mib(heapBefore)} before, ${mib(heapAfter)} after (${mib(heapAfter - heapBefore)}; tolerance ${mib(HEAP_TOLERANCE)})`);
  t.ok(heapAfter - heapBefore < HEAP_TOLERANCE, `the heap is back near its start (+${mib(heapAfter - heapBefore)})`);
});

t.test(`fuzz: process frames with garbage images against a daemon with inference (seed ${SEED})`, async (t) => {
  const r = prng(SEED ^ 0x5eed);
  const h = await startHard(t, { inference: true, inferenceWorkers: 1, adminToken: randomBytes(16).toString('hex') });
  const png = await sharp({ create: { width: 96, height: 48, channels: 3, background: '#3366cc' } }).png().toBuffer();
  const jpeg = await sharp({ create: { width: 96, height: 48, channels: 3, background: '#cc6633' } }).jpeg().toBuffer();
  const flip = (b: Buffer) => {
    const c = Buffer.from(b);
    for (let k = int(r, 1, 8); k > 0; k--) c[int(r, 0, c.length - 1)] = int(r, 0, 255);
    return c;
  };
  const garbage = (): Buffer => {
    switch (int(r, 0, 9)) {
      case 0:
        return randomBytes(int(r, 1, 4096));
      case 1:
        return png.subarray(0, int(r, 8, png.length - 1));
      case 2:
        return flip(png);
      case 3:
        return flip(jpeg);
      case 4:
        return jpeg.subarray(0, int(r, 2, jpeg.length - 1));
      case 5:
        return pngBomb(int(r, 1, 100_000), int(r, 1, 100_000));
      case 6:
        return Buffer.concat([png.subarray(0, 8), randomBytes(int(r, 1, 512))]);
      case 7:
        return Buffer.from(pick(r, ['<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', 'GIF89a', 'II*\0', '%PDF-1.4', 'RIFF\0\0\0\0WEBP']));
      case 8:
        return pngBomb(int(r, 1, 3), int(r, 1, 3));
      default:
        return Buffer.concat([jpeg.subarray(0, 2), randomBytes(int(r, 1, 512))]);
    }
  };
  const N = 80;
  const conn = await RawFramed.open(h.port);
  t.teardown(() => conn.socket.destroy());
  const bytes = Buffer.concat(Array.from({ length: N }, (_, i) => frame({ command: 'process', request_id: i, camera_number: int(r, 0, 3), ...(r() < 0.5 ? { model: 'text-direction' } : {}) }, garbage())));
  const started = performance.now();
  for (const c of split(r, bytes)) conn.socket.write(c);
  conn.socket.end();
  const answers = await conn.waitFor(N, 120_000);
  await within(conn.closed, 30_000, 'the connection to close');
  const codes = new Map<string, number>();
  for (const a of answers) codes.set(a.json.error?.code ?? 'ok', (codes.get(a.json.error?.code ?? 'ok') ?? 0) + 1);
  t.comment(`${N} garbage images in ${((performance.now() - started) / 1000).toFixed(1)} s: ${JSON.stringify(Object.fromEntries(codes))}`);
  t.same(answers.map((a) => a.json.request_id), Array.from({ length: N }, (_, i) => i), 'every frame answered, in order');
  const unexpected = answers.filter((a) => a.json.error && !['PROTOCOL_ERROR', 'TOO_LARGE'].includes(a.json.error.code));
  t.same(unexpected.map((a) => a.json.error), [], 'garbage is PROTOCOL_ERROR (undecodable) or TOO_LARGE (a header claiming too many pixels), never a crash');

  const ok = await RawFramed.open(h.port);
  t.teardown(() => ok.socket.destroy());
  const good = await ok.request({ command: 'process', request_id: 'good', camera_number: 0, model: 'text-direction' }, png, 60_000);
  t.match(good.json, { success: true, request_id: 'good' }, 'a valid image on a fresh connection is processed');
});
