// npm run fuzz -- --count 100000 [--seed N] [--parallel 16]
//
// Long fuzz run against a real daemon child process (bin/mosaicd.js from
// dist/, tiles only, --max-zoom 5, an admin token nobody knows): random and
// mutated lines and frames, and raw bytes, on many loopback connections, in
// random chunks. A seeded PRNG makes a run reproducible (the seed is
// printed). Prints requests/s, framed answers by code, line notices by kind,
// the daemon's RSS and open file descriptors before and after, and whether it
// still answers. Exits 1 if the daemon died, stopped answering, or a frame
// was not answered exactly once and in order.
//
// test/hardening/fixtures/fuzz-gen.ts is the TypeScript twin of the generators below
// (the test runs a few thousand; this runs as many as asked).
import net from 'node:net';
import { once } from 'node:events';
import { readdir } from 'node:fs/promises';
import { randomBytes as cryptoBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { FrameResponseDecoder } from '../dist/protocol/frame-response-decoder.js';
import { ErrorCode } from '../dist/errors.js';
import { memoryOf, fmt, startDaemon } from './lib.js';
import * as gen from '../test/hardening/fixtures/fuzz-gen.ts';
import { prng } from '../test/protocol/fixtures/chunking.ts';

const MAX_ZOOM = 5;
const MAX_JSON = 10 * 1024 * 1024;
const MAX_PAYLOAD = 64 * 1024 * 1024;
const KNOWN_CODES = new Set(Object.values(ErrorCode));


// The generator is the fuzz test's own (test/hardening/fixtures), so the long
// run and the test send the same kinds of input; npm run fuzz loads it through tsx.
const lineConnection = (r, n) => gen.lineConnection(r, MAX_ZOOM, n);
const frameConnection = (r, n, firstId) => gen.frameConnection(r, MAX_ZOOM, n, firstId, { maxJsonBytes: MAX_JSON, maxPayloadBytes: MAX_PAYLOAD });
const { int, rawConnection, split } = gen;

/** A daemon child whose log lines are counted by level (errors are echoed). */
async function startFuzzDaemon(args) {
  const d = await startDaemon(args, { logLevel: 'info', stderr: 'pipe' });
  const logLevels = new Map();
  let partial = '';
  d.child.stderr.setEncoding('utf8').on('data', (c) => {
    const lines = (partial + c).split('\n');
    partial = lines.pop();
    for (const l of lines) {
      const level = /"level":(\d+)/.exec(l)?.[1] ?? 'text';
      const name = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' }[level] ?? level;
      logLevels.set(name, (logLevels.get(name) ?? 0) + 1);
      if (level === '50' || level === '60') console.error(`daemon: ${l}`);
    }
  });
  return { ...d, logLevels };
}

async function writeChunks(socket, chunks) {
  for (const c of chunks) {
    if (socket.destroyed) return;
    if (!socket.write(c)) await new Promise((resolve) => { socket.once('drain', resolve); socket.once('close', resolve); });
  }
}

function closed(socket, ms, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    socket.once('close', () => { clearTimeout(timer); resolve(); });
  });
}

async function connect(port) {
  const socket = net.connect({ port, host: '127.0.0.1' });
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  return socket;
}

async function fdsOf(pid) {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

async function discardListener(port) {
  const counts = new Map();
  const server = net.createServer((s) => {
    let text = '';
    s.setEncoding('utf8');
    s.on('data', (c) => (text += c));
    s.on('end', () => {
      for (const line of text.split('\n').filter(Boolean)) {
        // error NAME REASON → the reason's first words, without numbers, as the kind
        const kind = line.startsWith('error ') ? `error: ${line.split(' ').slice(2, 5).join(' ').replace(/\d+/g, 'N').slice(0, 40)}` : line === 'done' ? 'done' : 'tile';
        counts.set(kind, (counts.get(kind) ?? 0) + 1);
      }
      s.end();
    });
    s.on('error', () => undefined);
  });
  server.listen({ host: '127.0.0.1', port });
  await once(server, 'listening');
  return { counts, close: () => new Promise((r) => server.close(r)) };
}

async function daemonQuiet(client, timeoutMs = 120_000) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const s = await client.stats();
    // The stats connection itself is open.
    if (s.connections <= 1 && s.notices.pending === 0 && s.tiles.queuedJobs === 0 && s.tiles.running === 0) return s;
    if (performance.now() > deadline) throw new Error(`the daemon did not settle: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function fuzzBench({ count = 10_000, seed = Math.floor(Math.random() * 2 ** 31), parallel = 16, log = console.error } = {}) {
  const r = prng(seed);
  const d = await startFuzzDaemon(['--max-zoom', String(MAX_ZOOM), '--admin-token', cryptoBytes(16).toString('hex'), '--concurrency', '2']);
  const listener = await discardListener(d.callbackPort);
  const pid = d.child.pid;
  try {
    // Warm-up, then the baseline.
    await d.client.request(['0_0_0', '3_4_2', '5_1_1'], { barrier: true });
    await daemonQuiet(d.client);
    const memBefore = await memoryOf(pid);
    const fdsBefore = await fdsOf(pid);
    log(`fuzz: seed ${seed}, ${count} requests, daemon pid ${pid}, RSS ${fmt(memBefore.rssMb)} MB, ${fdsBefore} fds`);

    const frameCodes = new Map();
    const problems = [];
    let lines = 0;
    let frames = 0;
    let raws = 0;
    let nextId = 0;
    let remaining = count;
    let done = 0;
    let lastReport = performance.now();
    const started = performance.now();
    const one = async () => {
      const kindRoll = r();
      const jr = prng(int(r, 0, 2 ** 30));
      if (kindRoll < 0.02) {
        raws++;
        const s = await connect(d.port);
        s.resume();
        await writeChunks(s, rawConnection(jr));
        if (!s.destroyed) s.end();
        await closed(s, 30_000, 'a raw connection');
        return;
      }
      if (kindRoll < 0.62) {
        const n = Math.min(remaining, int(r, 20, 100));
        remaining -= n;
        lines += n;
        const s = await connect(d.port);
        s.resume();
        await writeChunks(s, lineConnection(jr, n));
        if (!s.destroyed) s.end();
        await closed(s, 60_000, 'a line connection');
        done += n;
        return;
      }
      const n = Math.min(remaining, int(r, 5, 60));
      remaining -= n;
      frames += n;
      const conn = frameConnection(jr, n, nextId);
      nextId += n + 1;
      const s = await connect(d.port);
      const decoder = new FrameResponseDecoder({ maxJsonBytes: 64 * 1024 * 1024 });
      const responses = [];
      s.on('data', (c) => {
        for (const item of decoder.push(c)) if (item.type === 'response') responses.push(JSON.parse(item.json.toString('utf8')));
      });
      await writeChunks(s, conn.chunks);
      if (!s.destroyed) s.end();
      await closed(s, 60_000, 'a frame connection');
      if (responses.length !== conn.responses) problems.push(`a frame connection got ${responses.length} responses for ${conn.responses} (seed ${seed})`);
      responses.forEach((resp, i) => {
        const code = resp.error?.code ?? 'ok';
        frameCodes.set(code, (frameCodes.get(code) ?? 0) + 1);
        if (code !== 'ok' && !KNOWN_CODES.has(code)) problems.push(`unknown code ${code}`);
        if (conn.ids[i] !== undefined && resp.request_id !== conn.ids[i]) problems.push(`response ${i} echoes ${resp.request_id}, want ${conn.ids[i]}`);
      });
      done += n;
    };
    await Promise.all(Array.from({ length: parallel }, async () => {
      while (remaining > 0) {
        await one();
        if (performance.now() - lastReport > 5000) {
          lastReport = performance.now();
          const m = await memoryOf(pid).catch(() => ({ rssMb: NaN }));
          log(`  ${done}/${count} (${fmt(done / ((performance.now() - started) / 1000), 0)} req/s), daemon RSS ${fmt(m.rssMb)} MB`);
        }
      }
    }));
    const seconds = (performance.now() - started) / 1000;
    const alive = d.child.exitCode === null && d.child.signalCode === null;
    const settled = alive ? await daemonQuiet(d.client) : undefined;
    const settledSeconds = (performance.now() - started) / 1000;
    const memAfter = alive ? await memoryOf(pid) : { rssMb: NaN, peakMb: NaN };
    const fdsAfter = alive ? await fdsOf(pid) : NaN;
    const pong = alive ? await d.client.ping().catch(() => false) : false;
    const rendered = alive ? await d.client.request(['4_3_3'], { barrier: true }).then(() => true, () => false) : false;
    return {
      seed,
      count,
      seconds,
      settledSeconds,
      requestsPerSecond: (lines + frames) / seconds,
      lines,
      frames,
      rawConnections: raws,
      frameAnswers: Object.fromEntries([...frameCodes].sort((a, b) => b[1] - a[1])),
      notices: Object.fromEntries([...listener.counts].sort((a, b) => b[1] - a[1]).slice(0, 15)),
      rssBeforeMb: memBefore.rssMb,
      rssAfterMb: memAfter.rssMb,
      peakRssMb: memAfter.peakMb,
      fdsBefore,
      fdsAfter,
      alive: alive && pong && rendered,
      tiles: settled?.tiles,
      daemonLog: Object.fromEntries(d.logLevels),
      problems: problems.slice(0, 20),
      problemCount: problems.length,
    };
  } finally {
    await listener.close();
    await d.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { count: { type: 'string', default: '10000' }, seed: { type: 'string' }, parallel: { type: 'string', default: '16' } } });
  const result = await fuzzBench({
    count: Number(values.count),
    ...(values.seed !== undefined ? { seed: Number(values.seed) } : {}),
    parallel: Number(values.parallel),
  });
  const rows = [
    ['seed', result.seed],
    ['requests (lines + frames)', `${result.lines + result.frames} (${result.lines} lines, ${result.frames} frames, ${result.rawConnections} raw connections)`],
    ['time: every request answered / every notice delivered', `${fmt(result.seconds)} s / ${fmt(result.settledSeconds)} s`],
    ['requests/s (answered; notices may still be on their way)', fmt(result.requestsPerSecond, 0)],
    ['framed answers by code', JSON.stringify(result.frameAnswers)],
    ['line notices by kind (top 15)', JSON.stringify(result.notices)],
    ['daemon RSS before / after / peak', `${fmt(result.rssBeforeMb)} / ${fmt(result.rssAfterMb)} / ${fmt(result.peakRssMb)} MB`],
    ['daemon open fds before / after', `${result.fdsBefore} / ${result.fdsAfter}`],
    ['daemon log lines by level', JSON.stringify(result.daemonLog)],
    ['frames not answered exactly once, in order', String(result.problemCount)],
    ['daemon alive (ping + a render after the run)', result.alive ? 'yes' : 'NO'],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  console.log(`mosaicd fuzz — ${result.count} requests`);
  for (const [k, v] of rows) console.log(`${k.padEnd(w)} | ${v}`);
  if (result.problems.length) console.log(`problems:\n  ${result.problems.join('\n  ')}`);
  process.exitCode = result.alive && result.problemCount === 0 ? 0 : 1;
}
