/**
 * The example Python backend (examples/tirex-backend/simple_backend.py)
 * behind TirexRenderer, as real processes over real UDP on loopback, and the
 * faults tirex's backend manager handles: a backend killed mid-job, one gone
 * silent, one asking to be disabled, a corrupt metatile, a failed render.
 */
import t from 'tap';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { createTirexRenderer } from '../../../src/render/tirex/tirex-renderer.js';
import { metatilePath } from '../../../src/render/tirex/metatile-file.js';
import { tilesOfMeta } from '../../../src/tile/tile-coord.js';
import { ROOT, requireProgram } from '../../helpers/processes.js';
import { EXAMPLE_BACKEND, FAULT_BACKEND, startRenderer, tempDir, tileColour, until } from './helpers.js';

async function pixel(png: Uint8Array, x: number, y: number): Promise<number[]> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  const i = (y * info.width + x) * info.channels;
  return [data[i]!, data[i + 1]!, data[i + 2]!];
}

t.test('the example Python backend renders 8×8 metatiles: every tile is a PNG of its own colour, in tilesOfMeta order, and the .meta is deleted', async (t) => {
  if (!requireProgram(t, 'python3', 'python3')) return;
  const tiledir = tempDir(t);
  const r = startRenderer(t, { backend: EXAMPLE_BACKEND, procs: 2, map: { name: 'example', tiledir, maxz: 10 } });
  await r.ready();
  const metas = [
    { z: 5, x: 8, y: 16, size: 8 },
    { z: 0, x: 0, y: 0, size: 1 },
    { z: 2, x: 0, y: 0, size: 4 },
  ];
  const results = await Promise.all(metas.map((m) => r.renderMetaTile(m)));
  for (const [i, meta] of metas.entries()) {
    const tiles = results[i]!;
    t.same(tiles.map((tile) => [tile.x, tile.y]), tilesOfMeta(meta).map((c) => [c.x, c.y]), `${meta.z}/${meta.x}/${meta.y}: ${meta.size * meta.size} tiles in order`);
    for (const tile of [tiles[0]!, tiles[tiles.length - 1]!]) {
      const info = await sharp(tile.png).metadata();
      t.equal(info.width, 256, 'a 256 px tile');
      t.same(await pixel(tile.png, 0, 0), tileColour(meta.z, tile.x, tile.y), `tile ${meta.z}/${tile.x}/${tile.y} has its own colour`);
      t.same(await pixel(tile.png, 40, 0), [255, 255, 255], 'and the white squares of its checkerboard');
    }
    t.notOk(existsSync(metatilePath(tiledir, meta.z, meta.x, meta.y)), 'the .meta file is deleted once read');
  }
  t.equal(r.stats().rendered, 3);
});

t.test('keepMetatiles leaves the backend\'s .meta file where tirex puts it', async (t) => {
  if (!requireProgram(t, 'python3', 'python3')) return;
  const tiledir = tempDir(t);
  const r = startRenderer(t, { backend: EXAMPLE_BACKEND, keepMetatiles: true, map: { name: 'example', tiledir } });
  await r.renderMetaTile({ z: 4, x: 8, y: 0, size: 8 });
  t.ok(existsSync(path.join(tiledir, '4', '0', '0', '0', '0', '128.meta')), 'TILEDIR/4/0/0/0/0/128.meta');
});

t.test('a metatile that is not one of the map\'s 8×8 metatiles, or outside its zooms, is BAD_TILE before any backend sees it', async (t) => {
  if (!requireProgram(t, 'python3', 'python3')) return;
  const r = startRenderer(t, { backend: EXAMPLE_BACKEND, map: { name: 'example', tiledir: tempDir(t), maxz: 6 } });
  await t.rejects(r.renderMetaTile({ z: 5, x: 4, y: 0, size: 8 }), { code: 'BAD_TILE' });
  await t.rejects(r.renderMetaTile({ z: 5, x: 0, y: 0, size: 4 }), { code: 'BAD_TILE' });
  await t.rejects(r.renderMetaTile({ z: 7, x: 0, y: 0, size: 8 }), { code: 'BAD_TILE', message: /outside tirex map "example"/ });
});

t.test('a backend killed (SIGKILL) mid-job is replaced; that job is retried on the new process and later jobs succeed', async (t) => {
  if (!requireProgram(t, 'python3', 'python3')) return;
  const tiledir = tempDir(t);
  const r = startRenderer(t, { backend: FAULT_BACKEND, config: { fault: 'slow', slow_ms: 300 }, map: { name: 'slow', tiledir } });
  await r.ready();
  const first = r.pids()[0]!;
  const job = r.renderMetaTile({ z: 3, x: 0, y: 0, size: 8 });
  await until(() => existsSync(path.join(tiledir, `rendering.${first}`)));
  process.kill(first, 'SIGKILL');
  const tiles = await job;
  t.equal(tiles.length, 64, 'the job came back whole from the replacement');
  const second = r.pids()[0];
  t.not(second, first, `a new process (${second}) replaced ${first}`);
  t.ok(readdirSync(tiledir).includes(`rendering.${second}`), 'and it was the one that drew the retried job');
  t.equal((await r.renderMetaTile({ z: 3, x: 0, y: 0, size: 8 })).length, 64, 'a later job succeeds');
  t.equal(r.stats().restarts, 1);
});

t.test('a backend killed on both tries fails only that job, with PROCESSING_ERROR naming the signal', async (t) => {
  if (!requireProgram(t, 'python3', 'python3')) return;
  const tiledir = tempDir(t);
  const r = startRenderer(t, { backend: FAULT_BACKEND, config: { fault: 'slow', slow_ms: 300 }, map: { name: 'slow', tiledir } });
  await r.ready();
  const job = r.renderMetaTile({ z: 3, x: 0, y: 0, size: 8 });
  let previous: number | undefined;
  for (let i = 0; i < 2; i++) {
    const pid = await until(() => { const p = r.pids()[0]; return p !== previous ? p : undefined; });
    previous = pid;
    await until(() => existsSync(path.join(tiledir, `rendering.${pid}`)));
    process.kill(pid, 'SIGKILL');
  }
  await t.rejects(job, { code: 'PROCESSING_ERROR', message: /died rendering metatile 3\/0\/0 \(signal SIGKILL\)/ });
  t.equal((await r.renderMetaTile({ z: 2, x: 0, y: 0, size: 4 })).length, 16, 'the next job succeeds');
});

t.test('a backend gone silent (SIGSTOP) past the alive timeout is killed and replaced; jobs then succeed', async (t) => {
  if (!requireProgram(t, 'python3', 'python3')) return;
  const r = startRenderer(t, {
    backend: EXAMPLE_BACKEND,
    aliveTimeoutMs: 2000,
    hangupGraceMs: 100,
    termGraceMs: 100,
    map: { name: 'example', tiledir: tempDir(t) },
  });
  await r.ready();
  const stopped = r.pids()[0]!;
  process.kill(stopped, 'SIGSTOP');
  t.teardown(() => {
    try { process.kill(stopped, 'SIGKILL'); } catch { /* already gone */ }
  });
  const job = r.renderMetaTile({ z: 1, x: 0, y: 0, size: 2 }); // sent to the stopped process: retried on its replacement
  const replacement = await until(() => { const p = r.pids()[0]; return p !== undefined && p !== stopped ? p : undefined; });
  t.not(replacement, stopped, 'a new process took the slot');
  t.throws(() => process.kill(stopped, 0), { code: 'ESRCH' }, 'the silent process is gone (HUP and TERM wait while it is stopped; KILL does not)');
  t.equal((await job).length, 4, 'the job held by the silent process came back from its replacement');
});

t.test('exit code 10 disables the renderer: start-up and every job get CONFIG_ERROR naming the code and the backend\'s message', async (t) => {
  if (!requireProgram(t, 'python3', 'python3')) return;
  const options = { backend: FAULT_BACKEND, procs: 2, config: { fault: 'disable' }, map: { name: 'off', tiledir: tempDir(t) } };
  await t.rejects(createTirexRenderer(options), { code: 'CONFIG_ERROR', message: /exited with code 10.*licence key missing/s });
  const r = startRenderer(t, options);
  const job = r.renderMetaTile({ z: 3, x: 0, y: 0, size: 8 });
  await t.rejects(job, { code: 'CONFIG_ERROR', message: /disabled/ });
  await t.rejects(r.renderMetaTile({ z: 3, x: 0, y: 0, size: 8 }), { code: 'CONFIG_ERROR' }, 'later jobs too');
  t.match(r.stats().disabled, /code 10/);
  await until(() => r.pids().every((p) => p === undefined));
  t.pass('no backend process is left running or restarted');
});

t.test('a .meta with an offset past the end of the file fails that job with PROCESSING_ERROR; the backend keeps serving', async (t) => {
  if (!requireProgram(t, 'python3', 'python3')) return;
  const r = startRenderer(t, { backend: FAULT_BACKEND, config: { fault: 'corrupt' }, map: { name: 'bad', tiledir: tempDir(t) } });
  await r.ready();
  const pid = r.pids()[0];
  await t.rejects(r.renderMetaTile({ z: 3, x: 0, y: 0, size: 8 }), { code: 'PROCESSING_ERROR', message: /not valid: tile 3\/0\/0 .*lies outside the file/ });
  await t.rejects(r.renderMetaTile({ z: 4, x: 8, y: 0, size: 8 }), { code: 'PROCESSING_ERROR' }, 'and the next one the same way');
  t.equal(r.pids()[0], pid, 'the same backend process answered both');
  t.equal(r.stats().failed, 2);
});

t.test('a render the backend reports failed (errmsg) fails that metatile with PROCESSING_ERROR naming the backend\'s reason', async (t) => {
  if (!requireProgram(t, 'python3', 'python3')) return;
  const r = startRenderer(t, { backend: FAULT_BACKEND, config: { fault: 'errmsg' }, map: { name: 'gone', tiledir: tempDir(t) } });
  await t.rejects(r.renderMetaTile({ z: 3, x: 0, y: 0, size: 8 }), {
    code: 'PROCESSING_ERROR',
    message: /could not render metatile 3\/0\/0: datasource \/data\/gone.shp does not exist/,
  });
});

t.test('a render past jobTimeoutMs fails with TIMEOUT and its process is replaced', async (t) => {
  if (!requireProgram(t, 'python3', 'python3')) return;
  const tiledir = tempDir(t);
  const r = startRenderer(t, { backend: FAULT_BACKEND, jobTimeoutMs: 300, hangupGraceMs: 100, termGraceMs: 100, config: { fault: 'slow', slow_ms: 60000 }, map: { name: 'slow', tiledir } });
  await r.ready();
  const first = r.pids()[0];
  await t.rejects(r.renderMetaTile({ z: 3, x: 0, y: 0, size: 8 }), { code: 'TIMEOUT' });
  await until(() => { const p = r.pids()[0]; return p !== undefined && p !== first; });
  t.pass('a new process took its slot');
});

t.test('a queued job whose signal aborts is CANCELLED; the job in hand still finishes', async (t) => {
  if (!requireProgram(t, 'python3', 'python3')) return;
  const tiledir = tempDir(t);
  const r = startRenderer(t, { backend: FAULT_BACKEND, config: { fault: 'slow', slow_ms: 300 }, map: { name: 'slow', tiledir } });
  const first = r.renderMetaTile({ z: 3, x: 0, y: 0, size: 8 });
  const abort = new AbortController();
  const second = r.renderMetaTile({ z: 4, x: 0, y: 0, size: 8 }, abort.signal);
  abort.abort();
  await t.rejects(second, { code: 'CANCELLED' });
  t.equal((await first).length, 64);
  t.equal(r.stats().rendered, 1);
});

t.test('a backend program that cannot be started (missing, not executable) disables the renderer with CONFIG_ERROR naming the program', async (t) => {
  const dir = tempDir(t);
  await t.rejects(createTirexRenderer({ backend: path.join(dir, 'nope'), map: { name: 'x', tiledir: dir } }), {
    code: 'CONFIG_ERROR',
    message: /could not be started.*ENOENT/,
  });
  await t.rejects(createTirexRenderer({ backend: path.join(ROOT, 'docs', 'tirex.md'), map: { name: 'x', tiledir: dir } }), {
    code: 'CONFIG_ERROR',
    message: /could not be started.*EACCES/,
  });
});
