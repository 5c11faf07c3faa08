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
import { encodeFrameRequest } from '../dist/protocol/frame-encoder.js';
import { FrameResponseDecoder } from '../dist/protocol/frame-response-decoder.js';
import { ErrorCode } from '../dist/errors.js';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TileClient } from '../dist/client/tile-client.js';
import { ROOT, freePort, memoryOf, fmt } from './lib.js';

const MAX_ZOOM = 5;
const MAX_JSON = 10 * 1024 * 1024;
const MAX_PAYLOAD = 64 * 1024 * 1024;
const KNOWN_CODES = new Set(Object.values(ErrorCode));

// ── PRNG and helpers ───────────────────────────────────────────────────────

export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const int = (r, lo, hi) => lo + Math.floor(r() * (hi - lo + 1));
const pick = (r, xs) => xs[Math.floor(r() * xs.length)];
const chance = (r, p) => r() < p;

function randomBytes(r, n, { noNewline = false } = {}) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) {
    let v = int(r, 0, 255);
    if (noNewline && v === 0x0a) v = 0x0b;
    b[i] = v;
  }
  return b;
}

const u64 = (n) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};
const frame = (json, payload) => Buffer.concat(encodeFrameRequest(json, payload));

const PRINTABLE = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_/ .-:\\%$#@!?*+=,;"\'{}[]()<>|~`^&';
const UNICODE = ['é', 'ß', '中', '文', '🗺', '\u202e', '\u200b', '\u0085', '\u2028', '\ufeff', '\ud800', '０', '３'];
function randomText(r, n) {
  let s = '';
  for (let i = 0; i < n; i++) s += chance(r, 0.1) ? pick(r, UNICODE) : PRINTABLE[int(r, 0, PRINTABLE.length - 1)];
  return s;
}

function validTile(r) {
  const z = int(r, 0, MAX_ZOOM);
  const n = 2 ** z;
  const sep = pick(r, ['_', '_', '/']);
  return `${z}${sep}${int(r, 0, n - 1)}${sep}${int(r, 0, n - 1)}`;
}

function anyTile(r) {
  switch (int(r, 0, 5)) {
    case 0:
    case 1:
      return validTile(r);
    case 2:
      return `${int(r, 0, 40)}_${int(r, 0, 2 ** 20)}_${int(r, 0, 2 ** 20)}`;
    case 3:
      return `${int(r, 0, 99)}_${'9'.repeat(int(r, 1, 25))}_${int(r, -5, 5)}`;
    case 4:
      return pick(r, ['../../etc/passwd', '1_2_3/../../x', '3_4_2/..', '-1_0_0', '1e3_0_0', '0x1_0_0', '3_4', '3_4_2_1', '']);
    default:
      return randomText(r, int(r, 1, 12));
  }
}

function mutateText(r, s) {
  let out = s;
  for (let k = int(r, 1, 4); k > 0; k--) {
    const i = int(r, 0, Math.max(0, out.length - 1));
    switch (int(r, 0, 4)) {
      case 0: out = out.slice(0, i) + randomText(r, int(r, 1, 3)) + out.slice(i); break;
      case 1: out = out.slice(0, i) + out.slice(i + int(r, 1, 3)); break;
      case 2: out = out.slice(0, i) + randomText(r, 1) + out.slice(i + 1); break;
      case 3: out = out.slice(0, i) + out.slice(i, i + int(r, 1, 6)).repeat(int(r, 2, 4)) + out.slice(i); break;
      default: out = out.split(' ').reverse().join(' ');
    }
  }
  return out;
}

function fuzzLine(r) {
  const valid = () => {
    switch (int(r, 0, 12)) {
      case 0: return 'ping';
      case 1: return 'stats';
      case 2: return `stop${chance(r, 0.5) ? ` ${randomText(r, int(r, 1, 12))}` : ''}`;
      case 3: return `viewport ${int(r, 0, 25)} ${int(r, 0, 40)} ${int(r, 0, 40)} ${int(r, 0, 40)} ${int(r, 0, 40)}`;
      case 4: return `cancel ${anyTile(r)}`;
      case 5: return `dirty ${anyTile(r)}${chance(r, 0.5) ? ` ${randomText(r, 8)}` : ''}`;
      case 6: return `bulk ${anyTile(r)}${chance(r, 0.3) ? ' force' : ''}${chance(r, 0.2) ? ` ${randomText(r, 6)}` : ''}`;
      case 7: return `expire ${anyTile(r)}${chance(r, 0.5) ? ` ${randomText(r, 6)}` : ''}`;
      case 8: return '';
      default: return anyTile(r);
    }
  };
  switch (int(r, 0, 9)) {
    case 0: return randomBytes(r, int(r, 1, 80), { noNewline: true });
    case 1: return randomText(r, int(r, 1, 60));
    case 2: return chance(r, 0.5) ? `${valid()}\r` : `  ${valid()}\t `;
    case 3: return 'x'.repeat(int(r, 4000, 9000));
    case 4:
    case 5: return mutateText(r, valid());
    default: return valid();
  }
}

function split(r, bytes) {
  const chunks = [];
  let at = 0;
  while (at < bytes.length) {
    const n = chance(r, 0.3) ? int(r, 1, 16) : int(r, 64, 8192);
    chunks.push(bytes.subarray(at, at + n));
    at += n;
  }
  return chunks;
}

function lineConnection(r, lines) {
  const parts = [];
  for (let i = 0; i < lines; i++) {
    const line = fuzzLine(r);
    parts.push(Buffer.isBuffer(line) ? line : Buffer.from(line, 'utf8'), Buffer.from(chance(r, 0.1) ? '\r\n' : '\n'));
  }
  const all = Buffer.concat(parts);
  if (all.subarray(0, 8).includes(0)) all.fill(0x20, 0, 8);
  return split(r, all);
}

const COMMANDS = ['process', 'render', 'shutdown', 'ping', 'stats', 'viewport', 'cancel', 'bogus', 'PING', '', 'test_fault'];

function fuzzJsonValue(r, depth = 0) {
  switch (int(r, 0, depth > 2 ? 5 : 7)) {
    case 0: return null;
    case 1: return chance(r, 0.5);
    case 2: return pick(r, [0, -1, 1.5, 2 ** 53 + 1, 1e308, -0, 7]);
    case 3: return randomText(r, int(r, 0, 20));
    case 4: return int(r, 0, 1000);
    case 5: return pick(r, ['3_4_2', '0_0_0', '../x', '5/1/1']);
    case 6: return Array.from({ length: int(r, 0, 5) }, () => fuzzJsonValue(r, depth + 1));
    default: return Object.fromEntries(Array.from({ length: int(r, 0, 4) }, () => [randomText(r, int(r, 1, 8)), fuzzJsonValue(r, depth + 1)]));
  }
}

function fuzzRequest(r, id) {
  const o = { request_id: id };
  if (chance(r, 0.9)) o.command = chance(r, 0.85) ? pick(r, COMMANDS.slice(0, 7)) : chance(r, 0.5) ? pick(r, COMMANDS) : fuzzJsonValue(r);
  if (chance(r, 0.5)) o.camera_number = chance(r, 0.6) ? int(r, 0, 9) : fuzzJsonValue(r);
  if (chance(r, 0.6)) o.tile = chance(r, 0.6) ? validTile(r) : chance(r, 0.5) ? anyTile(r) : fuzzJsonValue(r);
  if (chance(r, 0.2)) o.token = chance(r, 0.5) ? randomText(r, 10) : fuzzJsonValue(r);
  if (chance(r, 0.2)) o.client_id = chance(r, 0.7) ? `c${int(r, 0, 20)}` : fuzzJsonValue(r);
  if (chance(r, 0.2)) o.model = pick(r, ['ocr', 'text-direction', 'nope', '', 5]);
  if (chance(r, 0.3)) {
    if (chance(r, 0.5)) o.viewport = chance(r, 0.7) ? [int(r, 0, 6), int(r, 0, 9), int(r, 0, 9), int(r, 0, 9), int(r, 0, 9)] : fuzzJsonValue(r);
    else for (const k of ['z', 'min_x', 'min_y', 'max_x', 'max_y']) o[k] = chance(r, 0.8) ? int(r, 0, 9) : fuzzJsonValue(r);
  }
  for (let k = int(r, 0, 2); k > 0; k--) o[randomText(r, int(r, 1, 6))] = fuzzJsonValue(r);
  return o;
}

function frameConnection(r, frames, firstId) {
  const parts = [];
  const ids = [];
  for (let i = 0; i < frames; i++) {
    const id = firstId + i;
    const payload = chance(r, 0.7) ? Buffer.alloc(0) : randomBytes(r, int(r, 1, 2048));
    switch (int(r, 0, 9)) {
      case 0: {
        const json = Buffer.from(JSON.stringify(fuzzRequest(r, id)));
        for (let k = int(r, 1, 4); k > 0; k--) json[int(r, 0, json.length - 1)] = int(r, 0, 255);
        parts.push(u64(json.length), json, u64(payload.length), payload);
        ids.push(undefined);
        break;
      }
      case 1: {
        const json = pick(r, [
          randomBytes(r, int(r, 1, 200)),
          Buffer.from('['.repeat(int(r, 1000, 100_000))),
          Buffer.from(JSON.stringify(pick(r, [[], 'ping', 42, null, true]))),
          Buffer.from('{"command":"ping","request_id":1'),
          Buffer.from(`{"command":"ping","request_id":${'9'.repeat(int(r, 20, 400))}}`),
        ]);
        parts.push(u64(json.length), json, u64(payload.length), payload);
        ids.push(undefined);
        break;
      }
      case 2:
        parts.push(u64(0), u64(payload.length), payload);
        ids.push(undefined);
        break;
      default:
        parts.push(frame(fuzzRequest(r, id), payload));
        ids.push(id);
    }
  }
  let fatal = false;
  if (chance(r, 0.15)) {
    if (chance(r, 0.5)) {
      fatal = true;
      const json = Buffer.from(JSON.stringify({ command: 'ping', request_id: firstId + frames }));
      parts.push(chance(r, 0.5) ? u64(MAX_JSON + int(r, 1, 1000)) : Buffer.concat([u64(json.length), json, u64(MAX_PAYLOAD + int(r, 1, 1000))]));
    } else {
      const whole = frame({ command: 'render', request_id: 0, tile: '1_0_0' });
      parts.push(whole.subarray(0, int(r, 1, whole.length - 1)));
    }
  }
  return { chunks: split(r, Buffer.concat(parts)), responses: frames + (fatal ? 1 : 0), ids, fatal };
}

function rawConnection(r) {
  const n = int(r, 0, 64);
  const b = randomBytes(r, n);
  if (n > 0 && chance(r, 0.3)) b[0] = chance(r, 0.5) ? 0x0a : 0;
  return split(r, b);
}

// ── the run ────────────────────────────────────────────────────────────────

/**
 * `mosaicd serve` as a child process (like bench/lib.js startDaemon), with its
 * log on a pipe: a fuzz run makes it warn a lot (every refused `stop`), so
 * the lines are counted by level instead of printed.
 */
async function startFuzzDaemon(args) {
  const port = await freePort();
  const callbackPort = await freePort();
  const tilesDir = await mkdtemp(path.join(tmpdir(), 'mosaicd-fuzz-'));
  const child = spawn(
    process.execPath,
    [path.join(ROOT, 'bin/mosaicd.js'), 'serve', '--port', String(port), '--callback-port', String(callbackPort), '--tiles-dir', tilesDir, '--no-inference', '--log-level', 'info', ...args],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const logLevels = new Map();
  let partial = '';
  child.stderr.setEncoding('utf8').on('data', (c) => {
    const lines = (partial + c).split('\n');
    partial = lines.pop();
    for (const l of lines) {
      const level = /"level":(\d+)/.exec(l)?.[1] ?? 'text';
      const name = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' }[level] ?? level;
      logLevels.set(name, (logLevels.get(name) ?? 0) + 1);
      if (level === '50' || level === '60') console.error(`daemon: ${l}`);
    }
  });
  const client = new TileClient({ port });
  for (let i = 0; ; i++) {
    try {
      if (await client.ping()) break;
    } catch {
      if (i > 600 || child.exitCode !== null) throw new Error('the daemon did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    port,
    callbackPort,
    child,
    client,
    logLevels,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
      await rm(tilesDir, { recursive: true, force: true });
    },
  };
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
