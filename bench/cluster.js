// Cluster bench (issue 12): what `--queue` costs one node, what one, two and
// three nodes on one Redis do on this machine, and what Redis does per tile.
//
// * overhead: the cold z0–6 pyramid (5,461 tiles, 88 metatiles) as `bulk`
//   lines through one connection (like `mosaicd seed`), one node without
//   `--queue` vs one node with it, alternating within each run; ratio per
//   run, then the median. Also the daemon's CPU per 1,000 tiles (and Redis's).
// * scaling: the same pyramid through node A of 1, 2 and 3 nodes sharing one
//   tiles folder and one Redis (each node at its default concurrency, one
//   render thread per core). Every node runs on this machine's cores, so more
//   nodes cannot render faster here: the figure shows coordination cost, not
//   the gain of more machines.
// * Redis per tile: `INFO stats` total_commands_processed (Redis 7 counts
//   the commands a Lua script runs too), the EVALSHA/EVAL calls among them
//   (`INFO commandstats`: BullMQ does most of its work in scripts) and
//   `INFO cpu` (redis-server's user + system CPU), each a before/after
//   difference over the tiles of the run.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { TileClient } from '../dist/client/tile-client.js';
import { Seeder } from '../dist/seed/seeder.js';
import { enumerateTiles, countTiles } from '../dist/seed/tile-range.js';
import { ROOT, freePort, median } from './lib.js';

const WORLD = [-180, -85.0511287798, 180, 85.0511287798];
const RANGE = { minZoom: 0, maxZoom: 6, bbox: WORLD };
const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** Render jobs in RANGE: one per 8×8 metatile (z0–2 have fewer tiles than that). */
function jobsIn({ minZoom, maxZoom }) {
  let jobs = 0;
  for (let z = minZoom; z <= maxZoom; z++) jobs += Math.ceil(2 ** z / 8) ** 2;
  return jobs;
}

const have = (p) => spawnSync('sh', ['-c', `command -v ${p}`]).status === 0;

/** CPU seconds (user + system, every thread) a process has used. */
async function cpuSeconds(pid) {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** A private redis-server on a free loopback port, no persistence. */
async function startRedis() {
  const port = await freePort();
  const dir = await mkdtemp(path.join(tmpdir(), 'mosaicd-bench-redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning'], { stdio: 'ignore' });
  const cli = (...args) => spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' }).stdout;
  for (let i = 0; cli('ping').trim() !== 'PONG'; i++) {
    if (i > 100 || child.exitCode !== null) throw new Error('redis-server did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid,
    cli,
    /** Counters to subtract: commands (script-internal ones too), script calls, CPU seconds. */
    counters() {
      const info = cli('info', 'all');
      const num = (key) => Number(new RegExp(`^${key}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
      const byCommand = {};
      let usec = 0;
      for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
        byCommand[m[1]] = Number(m[2]);
        usec += Number(m[3]);
      }
      const scripts = ['evalsha', 'eval', 'evalsha_ro', 'eval_ro', 'fcall'].reduce((sum, k) => sum + (byCommand[k] ?? 0), 0);
      return { commands: num('total_commands_processed'), scripts, usec, cpu: num('used_cpu_user') + num('used_cpu_sys'), byCommand };
    },
    async stop() {
      child.kill('SIGKILL');
      if (child.exitCode === null) await once(child, 'exit');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** `mosaicd serve` nodes on one tiles folder, each with its own ports and journal folder. */
async function startNodes(count, { queue }) {
  const root = await mkdtemp(path.join(tmpdir(), 'mosaicd-bench-cluster-'));
  const tilesDir = path.join(root, 'tiles');
  const nodes = [];
  for (let i = 0; i < count; i++) {
    const port = await freePort();
    const args = [
      path.join(ROOT, 'bin/mosaicd.js'), 'serve', '--port', String(port), '--callback-port', String(await freePort()),
      '--tiles-dir', tilesDir, '--state-dir', path.join(root, `state-${i}`), '--no-inference', '--log-level', 'warn',
      ...(queue ? ['--queue', queue] : []),
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    nodes.push({ port, child, client: new TileClient({ port }) });
  }
  for (const n of nodes) {
    for (let i = 0; ; i++) {
      try {
        if (await n.client.ping()) break;
      } catch {
        if (i > 600 || n.child.exitCode !== null) throw new Error('a node did not start');
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
  return {
    nodes,
    async stop() {
      for (const n of nodes) if (n.child.exitCode === null) n.child.kill('SIGKILL');
      await Promise.all(nodes.map((n) => (n.child.exitCode === null ? once(n.child, 'exit') : undefined)));
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** One cold pyramid through the first of `count` fresh nodes; tiles/s, CPU, and Redis's share when queued. */
async function pyramidOnce({ count, redis }) {
  if (redis) redis.cli('flushall');
  const cluster = await startNodes(count, { queue: redis?.url });
  try {
    const total = countTiles(RANGE);
    const before = redis?.counters();
    const cpu0 = await Promise.all(cluster.nodes.map((n) => cpuSeconds(n.child.pid)));
    const started = performance.now();
    const p = await new Seeder().run(enumerateTiles(RANGE, 8), { host: '127.0.0.1', port: cluster.nodes[0].port, command: 'bulk', force: false });
    const seconds = (performance.now() - started) / 1000;
    if (p.errors > 0) throw new Error(`${p.errors} tiles failed`);
    const cpu1 = await Promise.all(cluster.nodes.map((n) => cpuSeconds(n.child.pid)));
    const nodeCpu = cpu1.reduce((sum, c, i) => sum + c - cpu0[i], 0);
    const out = { tiles: total, seconds, tilesPerSecond: total / seconds, nodeCpuMsPer1000: (nodeCpu * 1e6) / total };
    if (redis) {
      const after = redis.counters();
      const top = Object.entries(after.byCommand)
        .map(([name, n]) => [name, n - (before.byCommand[name] ?? 0)])
        .filter(([, n]) => n > 0)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 6);
      Object.assign(out, {
        commandsPerTile: (after.commands - before.commands) / total,
        scriptsPerTile: (after.scripts - before.scripts) / total,
        redisCpuUsPerTile: ((after.cpu - before.cpu) * 1e6) / total,
        redisCommandUsPerTile: (after.usec - before.usec) / total,
        topCalls: Object.fromEntries(top.map(([name, n]) => [name, n / total])),
      });
    }
    return out;
  } finally {
    await cluster.stop();
  }
}

export async function clusterBench({ runs = 3 } = {}) {
  const out = { rows: [] };
  const row = (figure, value, target = '') => out.rows.push({ figure, value, target });
  if (!have('redis-server')) {
    row('cluster', 'skipped: redis-server is not installed');
    return out;
  }
  const help = spawnSync(process.execPath, [path.join(ROOT, 'bin/mosaicd.js'), 'serve', '--help'], { encoding: 'utf8' }).stdout;
  if (!/--queue\s/.test(help)) {
    row('cluster', 'skipped: this build has no --queue');
    return out;
  }
  const redis = await startRedis();
  try {
    const off = [], on = [], ratio = [], cpuRatio = [];
    const scale = { 1: [], 2: [], 3: [] };
    for (let i = 0; i < runs; i++) {
      // Alternate which goes first, so a drift in the machine's load favours neither.
      const order = i % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
      const r = {};
      for (const which of order) {
        console.error(`bench: cluster, one node ${which === 'on' ? 'with' : 'without'} --queue, run ${i + 1}/${runs} ...`);
        r[which] = await pyramidOnce({ count: 1, redis: which === 'on' ? redis : undefined });
      }
      off.push(r.off);
      on.push(r.on);
      ratio.push(r.on.tilesPerSecond / r.off.tilesPerSecond);
      cpuRatio.push(r.on.nodeCpuMsPer1000 / r.off.nodeCpuMsPer1000);
      scale[1].push(r.on);
      // Rotate the order of 2 and 3 nodes too.
      for (const count of i % 2 === 0 ? [2, 3] : [3, 2]) {
        console.error(`bench: cluster, ${count} nodes, run ${i + 1}/${runs} ...`);
        scale[count].push(await pyramidOnce({ count, redis }));
      }
    }
    const rate = (rs) => rs.map((x) => x.tilesPerSecond);
    const spread = (xs, d = 0) => `${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)}`;
    const tiles = countTiles(RANGE);
    row(`cold z0-6 pyramid (${tiles} tiles), one node without --queue`, `${median(rate(off)).toFixed(0)} tiles/s (runs ${spread(rate(off))})`);
    row('same, one node with --queue (local Redis)', `${median(rate(on)).toFixed(0)} tiles/s (runs ${spread(rate(on))})`);
    row('with / without --queue (per run, median)', `${median(ratio).toFixed(2)} (runs ${ratio.map((x) => x.toFixed(2)).join(', ')})`, '>= 0.90');
    row('node CPU per 1,000 tiles, without / with --queue', `${median(off.map((x) => x.nodeCpuMsPer1000)).toFixed(0)} / ${median(on.map((x) => x.nodeCpuMsPer1000)).toFixed(0)} ms (ratio ${median(cpuRatio).toFixed(2)})`);
    for (const count of [1, 2, 3]) {
      const rs = scale[count];
      row(`${count} node${count > 1 ? 's' : ''} on one Redis, this machine's ${availableParallelism()} cores`, `${median(rate(rs)).toFixed(0)} tiles/s (runs ${spread(rate(rs))}); node CPU ${median(rs.map((x) => x.nodeCpuMsPer1000)).toFixed(0)} ms per 1,000`);
    }
    const all = [...scale[1], ...scale[2], ...scale[3]];
    const cmd = median(all.map((x) => x.commandsPerTile));
    const scripts = median(all.map((x) => x.scriptsPerTile));
    const cpuUs = median(all.map((x) => x.redisCpuUsPerTile));
    const cmdUs = median(all.map((x) => x.redisCommandUsPerTile));
    const perJob = tiles / jobsIn(RANGE);
    row('Redis commands per tile, Lua-internal included (total_commands_processed)', `${cmd.toFixed(2)} (${(cmd * perJob).toFixed(0)} per render job); most: ${Object.entries(on.at(-1).topCalls).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}`);
    row('Lua script calls (EVALSHA) per tile', scripts.toFixed(3));
    row('redis-server CPU per tile (all of it: commands, I/O, idle polling)', `${cpuUs.toFixed(1)} µs (${((cpuUs * perJob) / 1000).toFixed(2)} ms per render job) → one Redis core saturates near ${(1e6 / cpuUs).toFixed(0)} tiles/s`);
    row('time inside commands per tile (commandstats usec)', `${cmdUs.toFixed(1)} µs (${(cmdUs * perJob).toFixed(0)} µs per render job)`);
    row('node + Redis CPU per 1,000 tiles, without / with --queue', `${median(off.map((x) => x.nodeCpuMsPer1000)).toFixed(0)} / ${median(on.map((x) => x.nodeCpuMsPer1000 + x.redisCpuUsPerTile)).toFixed(0)} ms`);
    Object.assign(out, { tiles, jobs: jobsIn(RANGE), off, on, ratio, cpuRatio, scale, commandsPerTile: cmd, scriptsPerTile: scripts, redisCpuUsPerTile: cpuUs, redisCommandUsPerTile: cmdUs });
  } finally {
    await redis.stop();
  }
  return out;
}
