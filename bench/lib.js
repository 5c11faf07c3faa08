// Shared bench helpers: a real daemon child process, ports, statistics, RSS.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { TileClient } from '../dist/client/tile-client.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export async function freePort() {
  const s = net.createServer().listen({ host: '127.0.0.1', port: 0 });
  await once(s, 'listening');
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export const percentile = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
};

/** CPU seconds (user + system, every thread) a process has used so far (Linux /proc). */
export async function cpuSecondsOf(pid) {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Resident and peak resident memory of a process, in MB (Linux /proc). */
export async function memoryOf(pid) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
}

/**
 * Starts `mosaicd serve` as a child process on free ports with a fresh tiles
 * folder. `stderr: 'pipe'` leaves the daemon's log on `child.stderr` for the caller.
 */
export async function startDaemon(args = [], { inference = false, logLevel = 'warn', stderr = 'inherit' } = {}) {
  const port = await freePort();
  const callbackPort = await freePort();
  const tilesDir = await mkdtemp(path.join(tmpdir(), 'mosaicd-bench-'));
  const child = spawn(
    process.execPath,
    [path.join(ROOT, 'bin/mosaicd.js'), 'serve', '--port', String(port), '--callback-port', String(callbackPort), '--tiles-dir', tilesDir, '--log-level', logLevel, ...(inference ? [] : ['--no-inference']), ...args],
    { stdio: ['ignore', 'ignore', stderr] },
  );
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
    tilesDir,
    child,
    client,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
      await rm(tilesDir, { recursive: true, force: true });
    },
  };
}

export function fmt(n, digits = 1) {
  return typeof n === 'number' ? n.toFixed(digits) : String(n);
}

/** Debian 12's libmapnik3.1 input plugins (the path /etc/renderd.conf names). */
export const DEBIAN_PLUGINS = '/usr/lib/mapnik/3.1/input';
const DEJAVU = '/usr/share/fonts/truetype/dejavu';

/**
 * One cold z0–maxZoom pyramid of a Mapnik style through a private Debian
 * renderd (fresh per call, its own socket and tile dir, `threads` render
 * threads, 8×8 metatiles) driven by `render_list -a -f -n threads`.
 * `warmUp`: render z0 once before the clock starts, so a style whose data
 * takes seconds to load (renderd loads it in each thread after opening its
 * socket) is not timed.
 */
export async function renderdPyramid(stylePath, { threads = 2, maxZoom = 6, warmUp = false } = {}) {
  const dir = await mkdtemp(path.join(tmpdir(), 'mosaicd-renderd-'));
  const sock = path.join(dir, 'renderd.sock');
  const tiles = path.join(dir, 'tiles');
  await mkdir(tiles);
  const conf = path.join(dir, 'renderd.conf');
  await writeFile(
    conf,
    `[renderd]\nsocketname=${sock}\nnum_threads=${threads}\ntile_dir=${tiles}\nstats_file=${dir}/renderd.stats\n\n` +
      `[mapnik]\nplugins_dir=${DEBIAN_PLUGINS}\nfont_dir=${DEJAVU}\nfont_dir_recurse=true\n\n` +
      `[bench]\nURI=/bench/\nTILEDIR=${tiles}\nXML=${stylePath}\nHOST=localhost\nTILESIZE=256\nMAXZOOM=20\n`,
  );
  const renderd = spawn('renderd', ['-f', '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  renderd.stderr.on('data', (d) => (log += d));
  try {
    for (let i = 0; !existsSync(sock); i++) {
      if (i > 300 || renderd.exitCode !== null) throw new Error(`renderd did not start: ${log.slice(-500)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const listArgs = ['-a', '-f', '-n', String(threads), '-l', '1000', '-m', 'bench', '-s', sock, '-t', tiles];
    if (warmUp) {
      const warm = spawn('render_list', [...listArgs, '-z', '0', '-Z', '0'], { stdio: 'ignore' });
      const [warmCode] = await once(warm, 'exit');
      if (warmCode !== 0) throw new Error(`render_list (warm-up) exited ${warmCode}: ${log.slice(-500)}`);
    }
    const started = performance.now();
    const cpu0 = await cpuSecondsOf(renderd.pid);
    // -l: render_list sleeps while the load average is over 16 (its default); on a shared box it is.
    const list = spawn('render_list', [...listArgs, '-z', '0', '-Z', String(maxZoom)], { stdio: 'ignore' });
    const [code] = await once(list, 'exit');
    const seconds = (performance.now() - started) / 1000;
    if (code !== 0) throw new Error(`render_list exited ${code}: ${log.slice(-500)}`);
    // render_list counts metatiles × 64; count the real tiles (z0–6 = 5,461).
    const count = Array.from({ length: maxZoom + 1 }, (_, z) => 4 ** z).reduce((a, b) => a + b, 0);
    const cpuSeconds = (await cpuSecondsOf(renderd.pid)) - cpu0;
    return { tiles: count, seconds, tilesPerSecond: count / seconds, cpuSeconds, memory: [await memoryOf(renderd.pid)] };
  } finally {
    renderd.kill('SIGTERM');
    if (renderd.exitCode === null) await once(renderd, 'exit');
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * `total` requests through `send(i)`, at most `concurrency` at once;
 * images/s, and p50 / p95 (ms) of each request's latency from send to answer.
 */
export async function pump(concurrency, total, send) {
  const latencies = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const id = next++;
        const t0 = performance.now();
        await send(id);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { imagesPerSecond: total / ((performance.now() - started) / 1000), p50: percentile(latencies, 50), p95: percentile(latencies, 95) };
}

/**
 * Framed `process` requests on one connection, after one warm-up: `runs`
 * rounds of 1 client × 10 images and of 8 clients × 24; images/s, p50 and
 * p95 (ms), each the median over the rounds. `check(json)` throws on a
 * wrong answer.
 */
export async function processRates(client, image, { camera, runs, check = () => {} }) {
  await client.process(image, { camera });
  const round = (concurrency, total) =>
    pump(concurrency, total, async () => {
      const r = await client.process(image, { camera });
      if (!r.json.success) throw new Error(JSON.stringify(r.json.error));
      check(r.json);
    });
  const single = [];
  const eight = [];
  for (let r = 0; r < runs; r++) {
    single.push(await round(1, 10));
    eight.push(await round(8, 24));
  }
  const pick = (xs) => ({ imagesPerSecond: median(xs.map((x) => x.imagesPerSecond)), p50: median(xs.map((x) => x.p50)), p95: median(xs.map((x) => x.p95)) });
  return { single: pick(single), eight: pick(eight) };
}
