import t from 'tap';
import { mkdir, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { watch } from 'node:fs';
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import path from 'node:path';
import { TileStore } from '../../src/store/tile-store.js';
import { tileCoord, tilesOfMeta, metaTileOf, type TileCoord } from '../../src/tile/tile-coord.js';
import { ErrorCode } from '../../src/errors.js';
import { FOREIGN_TEMP_MAX_AGE_MS } from '../../src/limits.js';

const tile = (z: number, x: number, y: number): TileCoord => tileCoord(z, x, y, 20);
const png = (text: string): Buffer => Buffer.from(`\x89PNG${text}`);

/** Every file under dir, relative, sorted (dot files included). */
async function listAll(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath ?? e.path, e.name)))
    .sort();
}

const isTemp = (name: string): boolean => /\.tmp$/.test(name);

t.test('flat layout: <dir>/Z_X_Y.png, directory created when missing', async (t) => {
  const root = t.testdir();
  const dir = path.join(root, 'deep', 'tiles');
  const store = new TileStore({ dir, layout: 'flat' });
  const tl = tile(16, 58001, 25480);
  t.equal(store.pathOf(tl), path.join(dir, '16_58001_25480.png'));
  t.equal(await store.has(tl), false);
  t.equal(await store.read(tl), undefined);
  t.equal(await store.stat(tl), undefined);

  await store.write(tl, png('one'));
  t.equal(await store.has(tl), true);
  t.same(await store.read(tl), png('one'));
  t.match(await store.stat(tl), { size: png('one').length, mtimeMs: Number });
  t.same(await listAll(dir), ['16_58001_25480.png'], 'no temporary file remains');
});

t.test('layout defaults to flat', async (t) => {
  const dir = t.testdir();
  const store = new TileStore({ dir });
  t.equal(store.pathOf(tile(1, 0, 1)), path.join(dir, '1_0_1.png'));
});

t.test('zxy layout: <dir>/Z/X/Y.png', async (t) => {
  const dir = t.testdir();
  const store = new TileStore({ dir, layout: 'zxy' });
  const tl = tile(3, 4, 2);
  t.equal(store.pathOf(tl), path.join(dir, '3', '4', '2.png'));
  await store.write(tl, png('zxy'));
  t.same(await readFile(path.join(dir, '3', '4', '2.png')), png('zxy'));
  t.same(await store.read(tl), png('zxy'));
  t.same(await listAll(dir), [path.join('3', '4', '2.png')]);
});

t.test('overwriting replaces the whole file', async (t) => {
  const store = new TileStore({ dir: t.testdir(), layout: 'flat' });
  const tl = tile(2, 1, 1);
  await store.write(tl, Buffer.alloc(10_000, 1));
  await store.write(tl, png('short'));
  t.same(await store.read(tl), png('short'));
});

t.test('writeMany writes a metatile (64 tiles) in both layouts', async (t) => {
  for (const layout of ['flat', 'zxy'] as const) {
    const dir = t.testdir();
    const store = new TileStore({ dir, layout });
    const tiles = tilesOfMeta(metaTileOf(tile(16, 58001, 25480), 8));
    t.equal(tiles.length, 64);
    await store.writeMany(tiles.map((tl) => ({ tile: tl, png: png(`${tl.x}/${tl.y}`) })));
    for (const tl of tiles) t.same(await store.read(tl), png(`${tl.x}/${tl.y}`));
    const files = await listAll(dir);
    t.equal(files.length, 64, `${layout}: 64 files`);
    t.notOk(files.some(isTemp), `${layout}: no temporary files`);
  }
});

t.test('writeMany stores identical tiles of a batch once, hard-linked, each under its own name', async (t) => {
  for (const layout of ['flat', 'zxy'] as const) {
    const dir = t.testdir();
    const store = new TileStore({ dir, layout });
    const tiles = tilesOfMeta(metaTileOf(tile(6, 8, 8), 8));
    // Alternate sea and land, two tiles of their own: two groups of 31, two single files.
    const bytesOf = (i: number): Buffer => (i < 2 ? png(`own ${i}`) : png(i % 2 === 0 ? 'sea' : 'land'));
    await store.writeMany(tiles.map((tl, i) => ({ tile: tl, png: bytesOf(i) })));
    const inodes = new Map<number, number>();
    for (const [i, tl] of tiles.entries()) {
      t.same(await store.read(tl), bytesOf(i));
      const st = await stat(store.pathOf(tl));
      inodes.set(st.ino, (inodes.get(st.ino) ?? 0) + 1);
      t.equal(st.nlink, i < 2 ? 1 : 31, `${layout}: tile ${i} has ${i < 2 ? 'its own file' : '31 names'}`);
    }
    t.same([...inodes.values()].sort((a, b) => a - b), [1, 1, 31, 31], `${layout}: 4 files for 64 tiles`);
    t.notOk((await listAll(dir)).some(isTemp), `${layout}: no temporary files`);
  }
});

t.test('a linked tile written again gets its own file; the others keep their bytes', async (t) => {
  const store = new TileStore({ dir: t.testdir() });
  const [a, b] = [tile(3, 0, 0), tile(3, 1, 0)];
  await store.writeMany([{ tile: a, png: png('sea') }, { tile: b, png: png('sea') }]);
  await store.write(a, png('island'));
  t.same(await store.read(a), png('island'));
  t.same(await store.read(b), png('sea'));
  t.equal((await stat(store.pathOf(b))).nlink, 1);
});

t.test('where hard links are refused, identical tiles are written as separate files', async (t) => {
  const dir = t.testdir();
  let refused = 0;
  const store = new TileStore({
    dir,
    link: async () => {
      refused++;
      throw Object.assign(new Error('EPERM: operation not permitted, link'), { code: 'EPERM' });
    },
  });
  const tiles = tilesOfMeta(metaTileOf(tile(4, 0, 0), 4));
  await store.writeMany(tiles.map((tl) => ({ tile: tl, png: png('sea') })));
  t.equal(refused, 15);
  for (const tl of tiles) {
    t.same(await store.read(tl), png('sea'));
    t.equal((await stat(store.pathOf(tl))).nlink, 1);
  }
  t.notOk((await listAll(dir)).some(isTemp), 'no temporary files');
});

t.test('a failed write of a linked group leaves no temporary file', async (t) => {
  const dir = t.testdir();
  const store = new TileStore({ dir });
  const [a, b, c] = [tile(2, 0, 0), tile(2, 1, 0), tile(2, 2, 0)];
  // A directory where one tile's file should be: its rename fails, the others land.
  await mkdir(store.pathOf(b));
  await t.rejects(store.writeMany([a, b, c].map((tl) => ({ tile: tl, png: png('sea') }))));
  t.same(await store.read(c), png('sea'));
  t.notOk((await listAll(dir)).some(isTemp), 'no temporary files');
});

t.test('a reader never sees a partial file while writers race on one tile', async (t) => {
  const dir = t.testdir();
  const store = new TileStore({ dir, layout: 'zxy' });
  const tl = tile(10, 500, 300);
  // Big enough that a non-atomic write would be observable part-way.
  const versions = Array.from({ length: 12 }, (_, i) => Buffer.alloc(512 * 1024 + i, i + 1));
  const valid = (b: Buffer): boolean => versions.some((v) => v.equals(b));

  let writing = true;
  let reads = 0;
  let bad = 0;
  const reader = (async () => {
    while (writing) {
      const got = await store.read(tl);
      reads++;
      if (got !== undefined && !valid(got)) bad++;
    }
  })();
  try {
    await Promise.all(versions.map((v) => store.write(tl, v)));
  } finally {
    writing = false;
    await reader;
  }

  t.equal(bad, 0, `no partial content in ${reads} reads`);
  t.ok(reads > 0);
  const final = await store.read(tl);
  t.ok(final !== undefined && valid(final), 'ends with one complete version');
  t.same(await listAll(dir), [path.join('10', '500', '300.png')], 'no temporary files remain');
});

t.test('concurrent writes of the same tile from two stores (as two daemons would)', async (t) => {
  const dir = t.testdir();
  const a = new TileStore({ dir, layout: 'flat' });
  const b = new TileStore({ dir, layout: 'flat' });
  const tl = tile(5, 3, 7);
  await Promise.all([a.write(tl, png('A')), b.write(tl, png('B')), a.write(tl, png('C')), b.write(tl, png('D'))]);
  const got = (await a.read(tl))!.toString();
  t.ok(['A', 'B', 'C', 'D'].some((s) => got === png(s).toString()));
  t.same(await listAll(dir), ['5_3_7.png']);
});

t.test('cleanTemporaryFiles removes only our crash leftovers', async (t) => {
  const dir = t.testdir({
    '16_1_2.png': 'user tile',
    'notes.txt': 'keep me',
    '.hidden': 'keep me',
    '.1_2_3.png.tmp': 'another program\'s temp pattern',
    '.16_1_2.png.mosaicd-x-1-deadbeef.tmp': 'not quite our pattern',
    // A process id above Linux's pid_max: never alive.
    '.16_1_2.png.mosaicd-99999999-1-deadbeef.tmp': 'crash leftover',
    [`.16_1_3.png.mosaicd-${process.pid}-7-0123abcd.tmp`]: 'leftover of an earlier run with our pid',
    // The test runner is alive: a second daemon writing right now.
    [`.16_1_4.png.mosaicd-${process.ppid}-1-0123abcd.tmp`]: 'live sibling',
    '3': {
      '4': {
        '2.png': 'zxy tile',
        '.2.png.mosaicd-99999999-3-cafef00d.tmp': 'zxy leftover',
        'user.tmp': 'keep',
      },
    },
    notdigits: { '.2.png.mosaicd-99999999-3-cafef00d.tmp': 'not our folder' },
  });
  const store = new TileStore({ dir, layout: 'zxy' });
  t.equal(await store.cleanTemporaryFiles(), 3);
  t.same(await listAll(dir), [
    '.1_2_3.png.tmp',
    '.16_1_2.png.mosaicd-x-1-deadbeef.tmp',
    `.16_1_4.png.mosaicd-${process.ppid}-1-0123abcd.tmp`,
    '.hidden',
    '16_1_2.png',
    path.join('3', '4', '2.png'),
    path.join('3', '4', 'user.tmp'),
    'notes.txt',
    path.join('notdigits', '.2.png.mosaicd-99999999-3-cafef00d.tmp'),
  ].sort());
  t.equal(await store.cleanTemporaryFiles(), 0, 'idempotent');
});

t.test('temporary names carry a host tag: this host\'s dead writers are removed, another host\'s only once older than FOREIGN_TEMP_MAX_AGE_MS', async (t) => {
  const dir = t.testdir({});
  const store = new TileStore({ dir, layout: 'flat' });
  // The tag is the first 8 hex digits of sha256(hostname).
  const tag = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);
  const names: string[] = [];
  const watcher = watch(dir, (_e, name) => name && names.push(String(name)));
  await store.write(tile(1, 0, 0), png('x'));
  await new Promise((r) => setTimeout(r, 50));
  watcher.close();
  t.ok(names.some((n) => n.startsWith(`.1_0_0.png.mosaicd-${tag}-${process.pid}-`)), `the write went through a host-tagged name (${names.join(', ')})`);
  const other = tag === '00000000' ? '11111111' : '00000000';
  const old = path.join(dir, `.2_0_0.png.mosaicd-${other}-${process.pid}-1-0123abcd.tmp`);
  await writeFile(path.join(dir, `.2_0_1.png.mosaicd-${tag}-99999999-1-0123abcd.tmp`), 'this host, writer dead');
  await writeFile(path.join(dir, `.2_0_2.png.mosaicd-${other}-99999999-1-0123abcd.tmp`), 'other host, fresh');
  await writeFile(old, 'other host, old');
  const past = (Date.now() - FOREIGN_TEMP_MAX_AGE_MS - 60_000) / 1000;
  await utimes(old, past, past);
  t.equal(await store.cleanTemporaryFiles(), 2);
  t.same(await listAll(dir), ['.2_0_2.png.mosaicd-' + other + '-99999999-1-0123abcd.tmp', '1_0_0.png']);
});

t.test('cleanTemporaryFiles on a missing directory finds nothing', async (t) => {
  const store = new TileStore({ dir: path.join(t.testdir(), 'absent'), layout: 'flat' });
  t.equal(await store.cleanTemporaryFiles(), 0);
});

t.test('a failed write leaves no temporary file', async (t) => {
  const dir = t.testdir();
  const store = new TileStore({ dir, layout: 'flat' });
  const tl = tile(2, 0, 0);
  // A directory where the tile file should be: rename() fails.
  await mkdir(store.pathOf(tl));
  await writeFile(path.join(store.pathOf(tl), 'x'), 'x');
  await t.rejects(store.write(tl, png('x')));
  t.same(await listAll(dir), [path.join('2_0_0.png', 'x')]);
});

t.test('paths are built from checked integers only', async (t) => {
  const dir = t.testdir();
  const store = new TileStore({ dir, layout: 'zxy' });
  const forged = [
    { z: '..', x: 0, y: 0 },
    { z: 1, x: '../../etc', y: 0 },
    { z: 1, x: 0.5, y: 0 },
    { z: 1, x: 2, y: 0 },
    { z: -1, x: 0, y: 0 },
    { z: 31, x: 0, y: 0 },
    null,
  ] as unknown as TileCoord[];
  for (const f of forged) {
    t.throws(() => store.pathOf(f), { code: ErrorCode.BAD_TILE }, JSON.stringify(f));
  }
  await t.rejects(store.write(forged[1]!, png('x')), { code: ErrorCode.BAD_TILE });
  t.same(await listAll(dir), []);
});

t.test('options are validated', async (t) => {
  t.throws(() => new TileStore({ dir: '' }), { code: ErrorCode.CONFIG_ERROR });
  t.throws(() => new TileStore({ dir: 'x', layout: 'tms' as never }), { code: ErrorCode.CONFIG_ERROR, message: /layout/ });
});
