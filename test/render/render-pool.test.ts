import t from 'tap';
import { ErrorCode } from '../../src/errors.js';
import { RenderPool } from '../../src/render/render-pool.js';
import { WorldGeometry } from '../../src/render/geometry.js';
import { TileRenderer } from '../../src/render/tile-renderer.js';
import { decode } from './fixtures/helpers.js';

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

// Real threads and processes, each loading Skia and the data; slow on a loaded machine.
t.setTimeout(300_000);

// One pool of two real worker threads for most tests (geometry prepared once, shared).
const pool = new RenderPool({ workers: 2, tileSize: 256, palette: true, timeoutMs: 60_000 });
t.teardown(() => pool.close());

t.test('a render in a worker gives the same bytes as the in-process renderer', async (t) => {
  const local = new TileRenderer({ tileSize: 256, palette: true, geometry: new WorldGeometry({ maxPixelZoom: 4 }) });
  for (const meta of [{ z: 4, x: 8, y: 4, size: 4 }, { z: 2, x: 0, y: 0, size: 4 }, { z: 3, x: 4, y: 2, size: 1 }]) {
    const [fromPool, inProcess] = await Promise.all([pool.renderMetaTile(meta), local.render(meta)]);
    t.same(fromPool.map((x) => [x.x, x.y]), inProcess.map((x) => [x.x, x.y]), 'same tiles, row-major');
    t.ok(fromPool.every((tile, i) => Buffer.compare(Buffer.from(tile.png), Buffer.from(inProcess[i]!.png)) === 0), 'same PNG bytes');
  }
  const d = await decode((await pool.renderMetaTile({ z: 0, x: 0, y: 0, size: 1 }))[0]!.png);
  t.same([d.width, d.height], [256, 256]);
});

t.test('workers draw from geometry the pool builds once and shares: the same bytes as a renderer that builds its own', async (t) => {
  // One level per dataset and past the last level (z13 draws from level 9): 110m, 50m, 10m.
  const local = new TileRenderer({ tileSize: 256, palette: true });
  const metas = [
    { z: 1, x: 0, y: 0, size: 2 },
    { z: 5, x: 16, y: 8, size: 8 },
    { z: 7, x: 64, y: 40, size: 8 },
    { z: 10, x: 536, y: 352, size: 8 },
    { z: 13, x: 4288, y: 2880, size: 4 },
  ];
  for (const meta of metas) {
    const [fromPool, inProcess] = await Promise.all([pool.renderMetaTile(meta), local.render(meta)]);
    const same = fromPool.every((tile, i) => Buffer.compare(Buffer.from(tile.png), Buffer.from(inProcess[i]!.png)) === 0);
    t.ok(same && fromPool.length === meta.size ** 2, `z${meta.z} ${meta.x},${meta.y}: same PNG bytes`);
  }

  // 512 px tiles draw one level deeper than their zoom.
  const big = new RenderPool({ workers: 1, tileSize: 512, palette: true, timeoutMs: 60_000 });
  t.teardown(() => big.close());
  const local512 = new TileRenderer({ tileSize: 512, palette: true });
  for (const meta of [{ z: 2, x: 0, y: 0, size: 4 }, { z: 9, x: 268, y: 176, size: 4 }]) {
    const [fromPool, inProcess] = await Promise.all([big.renderMetaTile(meta), local512.render(meta)]);
    t.ok(fromPool.every((tile, i) => Buffer.compare(Buffer.from(tile.png), Buffer.from(inProcess[i]!.png)) === 0), `512 px z${meta.z}: same PNG bytes`);
  }
});

t.test('more calls than workers wait in the FIFO and all complete', async (t) => {
  const metas = Array.from({ length: 6 }, (_, i) => ({ z: 3, x: i, y: 3, size: 1 }));
  const results = await Promise.all(metas.map((m) => pool.renderMetaTile(m)));
  t.same(results.map((r) => r[0]!.x), [0, 1, 2, 3, 4, 5]);
  t.match(pool.stats(), { workers: 2, busy: 0, queued: 0, replaced: 0, isolation: 'thread', pids: [] });
});

t.test('a block off the grid is refused with BAD_TILE without reaching a worker', async (t) => {
  await t.rejects(pool.renderMetaTile({ z: 1, x: 1, y: 0, size: 2 }), { code: ErrorCode.BAD_TILE });
});

t.test('in child processes (each builds its own geometry) the tiles are byte-identical to the threads\'; a process killed with SIGSEGV mid-job costs the job one retry', async (t) => {
  const procs = new RenderPool({ workers: 1, tileSize: 256, palette: true, timeoutMs: 60_000, isolation: 'process' });
  t.teardown(() => procs.close());
  for (const meta of [{ z: 2, x: 0, y: 0, size: 4 }, { z: 5, x: 16, y: 8, size: 8 }]) {
    const [fromProcess, fromThread] = await Promise.all([procs.renderMetaTile(meta), pool.renderMetaTile(meta)]);
    t.ok(fromProcess.length === meta.size ** 2 && fromProcess.every((tile, i) => Buffer.compare(Buffer.from(tile.png), Buffer.from(fromThread[i]!.png)) === 0), `z${meta.z}: same PNG bytes`);
  }
  const [pid] = procs.stats().pids;
  t.equal(procs.stats().pids.length, 1, 'one render process');
  t.ok(isAlive(pid!), `it is a live process (pid ${pid})`);

  // Stop it first so the job cannot finish before the signal lands, then crash it.
  const job = procs.renderMetaTile({ z: 4, x: 0, y: 0, size: 8 });
  while (procs.stats().busy === 0) await new Promise((r) => setTimeout(r, 5));
  process.kill(pid!, 'SIGSTOP');
  process.kill(pid!, 'SIGSEGV');
  process.kill(pid!, 'SIGCONT');
  t.equal((await job).length, 64, 'all 64 tiles, from the replacement');
  t.match(procs.stats(), { crashes: 1, retried: 1, replaced: 1, workers: 1 });
  const [replacement] = procs.stats().pids;
  t.not(replacement, pid, 'a new process');
  t.notOk(isAlive(pid!), 'the crashed one is gone');
  await procs.close();
  t.notOk(isAlive(replacement!), 'close() ends the render processes');
});

t.test('a hung render process (SIGSTOP) fails its job with TIMEOUT, is killed and replaced', async (t) => {
  const procs = new RenderPool({ workers: 1, tileSize: 256, palette: true, timeoutMs: 10_000, isolation: 'process' }); // a fresh process's first render of a zoom band builds its geometry
  t.teardown(() => procs.close());
  await procs.renderMetaTile({ z: 0, x: 0, y: 0, size: 1 });
  const [pid] = procs.stats().pids;
  process.kill(pid!, 'SIGSTOP');
  await t.rejects(procs.renderMetaTile({ z: 1, x: 0, y: 0, size: 2 }), { code: ErrorCode.TIMEOUT, message: /^metatile 1\/0\/0\/2 took longer than 10000 ms; its render worker was replaced$/ });
  t.equal((await procs.renderMetaTile({ z: 1, x: 0, y: 0, size: 2 })).length, 4, 'the replacement renders');
  t.match(procs.stats(), { timeouts: 1, replaced: 1 });
  t.not(procs.stats().pids[0], pid);
});

t.test('a renderer named by module (as a map names Mapnik) runs in a child process with its options', async (t) => {
  const stamped = new RenderPool({ workers: 1, renderer: { module: new URL('./fixtures/stamp-renderer.ts', import.meta.url).href, options: { stamp: 42 } } });
  t.teardown(() => stamped.close());
  const tiles = await stamped.renderMetaTile({ z: 1, x: 0, y: 0, size: 2 });
  t.same(tiles.map((tile) => [...tile.png]), [[42, 0, 0, 1], [42, 1, 0, 1], [42, 0, 1, 1], [42, 1, 1, 1]], 'row-major, drawn in a process');
  t.match(stamped.stats(), { isolation: 'process', workers: 1 });
});

t.test('a renderer module that fails to load: no worker can start, renders fail with PROCESSING_ERROR instead of waiting', async (t) => {
  const broken = new RenderPool({ workers: 1, renderer: { module: new URL('./fixtures/no-such-renderer.js', import.meta.url).href, options: {} }, restartBackoffMs: 50 });
  t.teardown(() => broken.close());
  t.equal(broken.isolation, 'process', 'a renderer module other than the built-in one always runs in processes');
  await t.rejects(broken.renderMetaTile({ z: 0, x: 0, y: 0, size: 1 }), { code: ErrorCode.PROCESSING_ERROR, message: /no render worker could start/ });
});

t.test('an abort before the job reaches a worker cancels it; a running job finishes', async (t) => {
  const aborted = new AbortController();
  aborted.abort();
  await t.rejects(pool.renderMetaTile({ z: 0, x: 0, y: 0, size: 1 }, aborted.signal), { code: ErrorCode.CANCELLED });

  // Two jobs occupy both workers; the third waits in the FIFO and is aborted there.
  const running = [pool.renderMetaTile({ z: 5, x: 16, y: 8, size: 8 }), pool.renderMetaTile({ z: 5, x: 8, y: 8, size: 8 })];
  const ac = new AbortController();
  const queued = pool.renderMetaTile({ z: 5, x: 0, y: 0, size: 8 }, ac.signal);
  t.ok(pool.stats().queued >= 1, 'waiting in the FIFO');
  ac.abort();
  await t.rejects(queued, { code: ErrorCode.CANCELLED });
  const done = await Promise.all(running);
  t.same(done.map((d) => d.length), [64, 64]);
});

t.test('close() waits for running renders, refuses queued and new work, and is idempotent', async (t) => {
  const p = new RenderPool({ workers: 1, tileSize: 256, palette: true, timeoutMs: 60_000 });
  const running = p.renderMetaTile({ z: 3, x: 0, y: 0, size: 8 });
  const queued = p.renderMetaTile({ z: 1, x: 0, y: 0, size: 2 });
  // Let the worker start and take the first job.
  while (p.stats().busy === 0) await new Promise((r) => setTimeout(r, 20));
  const closing = p.close();
  t.equal(p.close(), closing, 'the same promise');
  await t.rejects(queued, { code: ErrorCode.SHUTTING_DOWN });
  await t.rejects(p.renderMetaTile({ z: 0, x: 0, y: 0, size: 1 }), { code: ErrorCode.SHUTTING_DOWN });
  t.equal((await running).length, 64, 'the running render completed');
  await closing;
});
