import t from 'tap';
import { existsSync } from 'node:fs';
import { readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startDaemon, tempDir } from '../helpers/daemon.js';
import { exitCodeOf, spawnMosaicd } from '../helpers/processes.js';
import { countTiles, enumerateTiles, parseBBox, WORLD } from '../../src/seed/tile-range.js';

/** The JSON progress lines `mosaicd seed` prints on a non-terminal stderr. */
function progressLines(output: string): Array<Record<string, number | boolean | null>> {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, number | boolean | null>);
}

t.test('tile ranges are enumerated lazily, block by block, and counted without enumerating', async (t) => {
  const range = { minZoom: 0, maxZoom: 6, bbox: WORLD };
  t.equal(countTiles(range), 5461);
  let n = 0;
  for (const _ of enumerateTiles(range, 8)) n++;
  t.equal(n, 5461);
  const first = [...enumerateTiles({ minZoom: 4, maxZoom: 4, bbox: WORLD }, 8)].slice(0, 64);
  t.ok(first.every((c) => c.x < 8 && c.y < 8), 'the first 64 tiles of z4 are one 8x8 block');
  const swiss = parseBBox('5.9,45.8,10.5,47.8');
  // Switzerland at z8: columns 132..135 (5.9..10.5°E), rows 89..91 (47.8..45.8°N).
  const tiles = [...enumerateTiles({ minZoom: 8, maxZoom: 8, bbox: swiss }, 8)];
  t.equal(tiles.length, 12);
  t.same([Math.min(...tiles.map((c) => c.x)), Math.max(...tiles.map((c) => c.x))], [132, 135]);
  t.same([Math.min(...tiles.map((c) => c.y)), Math.max(...tiles.map((c) => c.y))], [89, 91]);
  t.throws(() => parseBBox('1,2,3'), /minlon,minlat,maxlon,maxlat/);
});

t.test('mosaicd seed renders a zoom range through the daemon and reports progress', async (t) => {
  const h = await startDaemon(t);
  const seed = spawnMosaicd(t, ['seed', '--zoom', '0-3', '--port', String(h.port)]);
  t.equal(await exitCodeOf(seed), 0, seed.output());
  const final = progressLines(seed.output()).at(-1)!;
  t.match(final, { done: 85, total: 85, errors: 0, final: true });
  t.equal((await readdir(h.tilesDir)).filter((f) => f.endsWith('.png')).length, 85);
  t.equal(h.listener!.notices.length, 0, 'seeding does not flood the map system\'s listener');
});

t.test('seed --only-missing skips tiles already on disk without asking the daemon', async (t) => {
  const h = await startDaemon(t);
  const first = spawnMosaicd(t, ['seed', '--zoom', '0-2', '--port', String(h.port)]);
  t.equal(await exitCodeOf(first), 0, first.output());
  await rm(path.join(h.tilesDir, '2_1_1.png'));
  await rm(path.join(h.tilesDir, '2_3_3.png'));
  const rendersBefore = h.daemon.scheduler.stats().rendered['2']?.renders ?? 0;
  const again = spawnMosaicd(t, ['seed', '--zoom', '0-2', '--only-missing', '--tiles-dir', h.tilesDir, '--port', String(h.port)]);
  t.equal(await exitCodeOf(again), 0, again.output());
  t.match(progressLines(again.output()).at(-1), { total: 21, skipped: 19, rendered_or_cached: 2, errors: 0 });
  t.ok(existsSync(path.join(h.tilesDir, '2_1_1.png')) && existsSync(path.join(h.tilesDir, '2_3_3.png')), 'the missing tiles are back');
  t.equal(h.daemon.scheduler.stats().rendered['2']!.renders, rendersBefore + 1, 'one z2 render (the metatile holding both)');
});

t.test('mosaicd expire re-renders listed tiles at dirty priority', async (t) => {
  const h = await startDaemon(t);
  const dir = await tempDir(t);
  const list = path.join(dir, 'expired.txt');
  await writeFile(list, '3/4/2\n3/4/3\nnot-a-tile\n');
  const expire = spawnMosaicd(t, ['expire', list, '--port', String(h.port)]);
  t.equal(await exitCodeOf(expire), 1, 'a bad line makes the exit code non-zero');
  t.match(expire.output(), /skipping "not-a-tile"/);
  t.ok(existsSync(path.join(h.tilesDir, '3_4_2.png')));
  t.equal(h.daemon.scheduler.stats().rendered['3']!.renders, 1, 'both tiles of one metatile: one render');
});

t.test('seed at the bulk queue limit waits for space instead of failing', async (t) => {
  const h = await startDaemon(t, { queueLimits: { bulk: 8 }, metatile: 1 });
  const seed = spawnMosaicd(t, ['seed', '--zoom', '0-3', '--port', String(h.port)]);
  t.equal(await exitCodeOf(seed), 0, seed.output());
  t.match(progressLines(seed.output()).at(-1), { done: 85, errors: 0 });
  t.equal(h.daemon.scheduler.stats().rejectedBusy, 0, 'nothing was refused');
});

t.test('a tile line at a full class is answered "error Z_X_Y busy", never dropped', async (t) => {
  const h = await startDaemon(t, { queueLimits: { interactive: 1 }, metatile: 1, concurrency: 1 });
  const names = ['6_0_0', '6_1_0', '6_2_0', '6_3_0', '6_4_0', '6_5_0'];
  await h.client.request(names);
  const notices = await h.listener!.waitFor(names);
  const busy = notices.filter((n) => n.type === 'error' && n.reason === 'busy');
  t.ok(busy.length >= 1, `some tiles were refused as busy (${busy.length})`);
  t.equal(notices.length, names.length, 'every tile got a notice: rendered or busy');
  t.equal(h.daemon.scheduler.stats().rejectedBusy, busy.length);
});

t.test('Ctrl-C in mosaicd seed withdraws its queued tiles from the daemon', async (t) => {
  const h = await startDaemon(t, { metatile: 1, concurrency: 1 });
  const seed = spawnMosaicd(t, ['seed', '--zoom', '9-10', '--bbox=-10,36,30,60', '--port', String(h.port)]);
  // Wait until the seed has queued work and some of it is done, then interrupt it.
  for (let i = 0; i < 600 && (h.daemon.scheduler.stats().rendered['9']?.renders ?? 0) < 2; i++) await new Promise((r) => setTimeout(r, 50));
  t.ok(h.daemon.scheduler.stats().queued.bulk > 0, 'bulk tiles are queued');
  seed.kill('SIGINT');
  t.not(await exitCodeOf(seed), 0, 'an interrupted seed does not claim success');
  await h.daemon.scheduler.onIdle();
  const s = h.daemon.scheduler.stats();
  t.equal(s.queued.bulk, 0, 'nothing of the seed is left queued');
  t.ok(s.cancelled > 0, `its queued tiles were cancelled (${s.cancelled})`);
  t.ok(await h.client.ping(), 'the daemon keeps serving');
});
