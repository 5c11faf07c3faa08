/**
 * The on-disk geometry cache (src/render/geometry-cache.ts): a level built
 * once is loaded the next time, equal to the built one and drawing the same
 * bytes; every damaged or foreign file is refused with one warning, the level
 * rebuilt and the file written again; an unwritable folder warns and renders.
 * Level 2 (from the small 110m data) keeps this fast.
 */
import t from 'tap';
import { existsSync, readdirSync, readFileSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { pino } from 'pino';
import { configFromArgv } from '../../src/cli/options.js';
import { geometryCacheDirOf } from '../../src/config/daemon-config.js';
import { GeometryBuilder } from '../../src/render/geometry-builder.js';
import { GeometryCache, contentKey } from '../../src/render/geometry-cache.js';
import { WorldGeometry, type LayerData, type LevelData } from '../../src/render/geometry.js';
import { RenderPool } from '../../src/render/render-pool.js';
import { TileRenderer } from '../../src/render/tile-renderer.js';

const LEVEL = 2;
const META = { z: 2, x: 0, y: 0, size: 4 };

const bytes = (a: ArrayBufferView | SharedArrayBuffer): Buffer =>
  a instanceof SharedArrayBuffer ? Buffer.from(a) : Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const sameLayer = (a: LayerData, b: LayerData): boolean =>
  (['coords', 'offsets', 'bboxes', 'continues', 'index'] as const).every((k) => bytes(a[k]).equals(bytes(b[k])));
const sameLevel = (a: LevelData, b: LevelData): boolean => a.resolution === b.resolution && sameLayer(a.fill, b.fill) && sameLayer(a.outline, b.outline);

/** A cache over `dir` that records its warnings, and a geometry drawing from it. */
function open(dir: string, options: { key?: string; maxFileBytes?: number } = {}) {
  const warnings: string[] = [];
  const cache = new GeometryCache({ dir, warn: (m) => warnings.push(m), ...options });
  return { cache, warnings, geometry: new WorldGeometry({ cache }) };
}

async function tilesOf(geometry: WorldGeometry): Promise<Buffer[]> {
  const tiles = await new TileRenderer({ tileSize: 256, palette: true, geometry }).render(META);
  return tiles.map((tile) => Buffer.from(tile.png));
}

t.test('a level built once is loaded from the cache the second time, equal to the built one, in shared memory', async (t) => {
  const dir = t.testdir();
  const first = open(dir);
  const built = first.geometry.levelData(LEVEL);
  t.equal(first.geometry.sources[LEVEL], 'built');
  t.same(first.cache.stored, [LEVEL], 'written after the build');
  t.same(readdirSync(first.cache.folder), [`level-${LEVEL}.bin`], 'one file per level, no temp file left');

  const second = open(dir);
  const loaded = second.geometry.levelData(LEVEL);
  t.equal(second.geometry.sources[LEVEL], 'cache', 'not rebuilt');
  t.same(second.cache.loaded, [LEVEL]);
  t.same(second.warnings, []);
  t.ok(sameLevel(loaded, built), 'every array (and the rebuilt index) equals the built one');
  t.ok(loaded.fill.coords.buffer instanceof SharedArrayBuffer && loaded.outline.index instanceof SharedArrayBuffer, 'shareable with render workers');
  t.ok(sameLevel(loaded, new WorldGeometry().levelData(LEVEL)), 'and equals a level built without any cache');
});

t.test('a tile drawn from cached geometry is byte-identical to one drawn from freshly built geometry', async (t) => {
  const dir = t.testdir();
  open(dir).geometry.levelData(LEVEL);
  const cached = open(dir);
  const fromCache = await tilesOf(cached.geometry);
  t.equal(cached.geometry.sources[LEVEL], 'cache');
  const fresh = await tilesOf(new WorldGeometry());
  t.equal(fromCache.length, 16);
  t.ok(fromCache.every((png, i) => png.equals(fresh[i]!)), 'all 16 PNGs equal');
});

/** Damages the level file of a warm cache in `dir` and returns its path. */
function warmFile(dir: string): string {
  const { cache, geometry } = open(dir);
  geometry.levelData(LEVEL);
  return cache.fileOf(LEVEL);
}

/** The payload's crc32 written back into the header, so only the check under test can catch the change. */
function resign(file: string, edit: (b: Buffer) => void): void {
  const b = readFileSync(file);
  edit(b);
  b.writeUInt32LE(crc32(b.subarray(64)), 20);
  writeFileSync(file, b);
}

const damages: Array<[name: string, damage: (file: string) => void, reason: RegExp, options?: { maxFileBytes: number }]> = [
  ['a truncated file', (f) => truncateSync(f, Math.floor(readFileSync(f).length / 2)), /truncated or inconsistent/],
  ['a flipped payload byte', (f) => {
    const b = readFileSync(f);
    b[b.length - 7]! ^= 0x10;
    writeFileSync(f, b);
  }, /checksum mismatch/],
  ['a wrong magic', (f) => {
    const b = readFileSync(f);
    b.write('NOTGEOM\0', 0, 'latin1');
    writeFileSync(f, b);
  }, /wrong magic/],
  ['an oversized file', () => undefined, /over the limit of 1000/, { maxFileBytes: 1000 }],
  ['offsets out of order', (f) => resign(f, (b) => {
    const coordsLength = b.readUInt32LE(32);
    b.writeUInt32LE(0xfffffff0, 64 + 4 * coordsLength + 4); // fill offsets[1]
  }), /fill: offset 2 \(\d+\) is out of order/],
  ['offsets that do not span the coordinates', (f) => resign(f, (b) => {
    const coordsLength = b.readUInt32LE(32), count = b.readUInt32LE(28);
    b.writeUInt32LE(coordsLength - 2, 64 + 4 * coordsLength + 4 * count); // fill offsets[count]
  }), /offsets do not span/],
  ['a bad continuation flag', (f) => resign(f, (b) => {
    const fillBytes = 4 * b.readUInt32LE(32) + 4 * (b.readUInt32LE(28) + 1) + 17 * b.readUInt32LE(28);
    const outline = 64 + fillBytes, count = b.readUInt32LE(36), coordsLength = b.readUInt32LE(40);
    b[outline + 4 * coordsLength + 4 * (count + 1) + 16 * count + 1] = 7; // outline continues[1]
  }), /bad continuation flag/],
  ['a count that disagrees with the file length', (f) => resign(f, (b) => b.writeUInt32LE(b.readUInt32LE(28) + 1, 28)), /truncated or inconsistent/],
];

for (const [name, damage, reason, options] of damages) {
  t.test(`${name} is refused with one warning naming the file and the reason, the level rebuilt and the file rewritten`, async (t) => {
    const dir = t.testdir();
    const file = warmFile(dir);
    damage(file);
    const { geometry, warnings, cache } = open(dir, options);
    const data = geometry.levelData(LEVEL);
    t.equal(geometry.sources[LEVEL], 'built', 'rebuilt, not drawn from the file');
    t.equal(warnings.length, 1, 'one warning');
    t.match(warnings[0], file);
    t.match(warnings[0], reason);
    t.ok(sameLevel(data, new WorldGeometry().levelData(LEVEL)), 'the rebuilt level is the real one');
    t.same(cache.stored, [LEVEL], 'the file was written again');
    if (options === undefined) {
      const after = open(dir);
      after.geometry.levelData(LEVEL);
      t.equal(after.geometry.sources[LEVEL], 'cache', 'and loads next time');
    }
  });
}

t.test('an unwritable cache folder warns once and the level is still built and drawn', async (t) => {
  const dir = t.testdir({ 'a-file': 'not a folder' });
  const { geometry, warnings, cache } = open(path.join(dir, 'a-file', 'cache'));
  const tiles = await tilesOf(geometry);
  geometry.levelData(0);
  t.equal(tiles.length, 16, 'rendered');
  t.equal(geometry.sources[LEVEL], 'built');
  t.equal(warnings.length, 1, 'one warning for two levels');
  t.match(warnings[0], /cannot be written/);
  t.match(warnings[0], cache.folder);
  t.same(cache.stored, []);
});

t.test('a changed content key misses (another folder), and a file copied from another key is refused', async (t) => {
  const dir = t.testdir();
  const file = warmFile(dir);
  t.match(contentKey(), /^[0-9a-f]{32}$/);
  t.equal(contentKey(), contentKey(), 'stable');
  const other = open(dir, { key: 'f'.repeat(32) });
  t.not(other.cache.folder, path.dirname(file));
  other.geometry.levelData(LEVEL);
  t.equal(other.geometry.sources[LEVEL], 'built', 'missed');
  t.same(other.warnings, [], 'a miss is not a warning');

  writeFileSync(other.cache.fileOf(LEVEL), readFileSync(file));
  const copied = open(dir, { key: 'f'.repeat(32) });
  copied.geometry.levelData(LEVEL);
  t.equal(copied.geometry.sources[LEVEL], 'built');
  t.match(copied.warnings[0], /another content key/);
});

t.test('a geometry with its own dataset choice (benchmarks) neither reads nor writes the cache', async (t) => {
  const dir = t.testdir();
  warmFile(dir);
  const cache = new GeometryCache({ dir });
  const geometry = new WorldGeometry({ cache, resolutionForZoom: () => '110m' });
  geometry.levelData(LEVEL);
  geometry.levelData(3);
  t.same(cache.loaded, []);
  t.same(cache.stored, []);
});

t.test('the builder thread loads a level from the cache instead of building it, and reports where it came from', async (t) => {
  const dir = t.testdir();
  const levels: string[] = [];
  const first = new GeometryBuilder({ timeoutMs: 120_000, idleMs: 50, cacheDir: dir, onLevel: (l, source) => levels.push(`${l}:${source}`) });
  t.teardown(() => first.close());
  const built = await first.request(LEVEL);
  t.same(first.loaded, []);
  const second = new GeometryBuilder({ timeoutMs: 120_000, idleMs: 50, cacheDir: dir, onLevel: (l, source) => levels.push(`${l}:${source}`) });
  t.teardown(() => second.close());
  const loaded = await second.request(LEVEL);
  t.same(second.loaded, [LEVEL], 'loaded, not built');
  t.same(levels, [`${LEVEL}:built`, `${LEVEL}:cache`]);
  t.ok(sameLevel(loaded, built));
});

t.test('the builder thread warns through onWarning when the cache folder cannot be written, and still builds', async (t) => {
  const dir = t.testdir({ 'a-file': '' });
  const warnings: string[] = [];
  const builder = new GeometryBuilder({ timeoutMs: 120_000, idleMs: 50, cacheDir: path.join(dir, 'a-file'), onWarning: (m) => warnings.push(m) });
  t.teardown(() => builder.close());
  await builder.request(LEVEL);
  t.equal(warnings.length, 1);
  t.match(warnings[0], /cannot be written/);
});

t.test('render processes (--isolation process) store their levels and the next pool loads them', async (t) => {
  const dir = t.testdir();
  const lines: string[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(s) });
  const render = async () => {
    const pool = new RenderPool({ workers: 1, isolation: 'process', cacheDir: dir, log });
    try {
      return (await pool.renderMetaTile(META)).map((tile) => Buffer.from(tile.png));
    } finally {
      await pool.close();
    }
  };
  const a = await render();
  const files = readdirSync(dir).flatMap((d) => readdirSync(path.join(dir, d)));
  t.same(files, [`level-${LEVEL}.bin`], 'the process wrote the level');
  const b = await render();
  const levels = lines.map((l) => JSON.parse(l) as { level?: number; source?: string }).filter((l) => l.level === LEVEL).map((l) => l.source);
  t.same(levels, ['built', 'cache'], 'the second process loaded it');
  t.ok(a.every((png, i) => png.equals(b[i]!)), 'the same tiles');
});

t.test('the cache folder: --cache-dir > MOSAICD_CACHE_DIR > $XDG_CACHE_HOME/mosaicd > ~/.cache/mosaicd; --no-geometry-cache turns it off', async (t) => {
  const env = { XDG_CACHE_HOME: '/xdg' };
  t.equal(geometryCacheDirOf(configFromArgv({}, {}), env), '/xdg/mosaicd');
  t.equal(geometryCacheDirOf(configFromArgv({}, {}), { XDG_CACHE_HOME: 'relative' }), path.join(os.homedir(), '.cache', 'mosaicd'), 'a relative XDG_CACHE_HOME is ignored (XDG spec)');
  t.equal(geometryCacheDirOf(configFromArgv({}, {}), {}), path.join(os.homedir(), '.cache', 'mosaicd'));
  t.equal(geometryCacheDirOf(configFromArgv({}, { MOSAICD_CACHE_DIR: '/env' }), env), '/env');
  t.equal(geometryCacheDirOf(configFromArgv({ 'cache-dir': '/flag' }, { MOSAICD_CACHE_DIR: '/env' }), env), '/flag');
  t.equal(geometryCacheDirOf(configFromArgv({ 'cache-dir': '/flag', 'geometry-cache': false }, {}), env), undefined);
  t.equal(geometryCacheDirOf(configFromArgv({}, { MOSAICD_GEOMETRY_CACHE: 'false' }), env), undefined);
});

t.test('a store removes temp files a crashed writer left (older than 10 minutes), and keeps a fresh one (a writer at work)', async (t) => {
  const dir = t.testdir();
  const { cache, geometry } = open(dir);
  geometry.levelData(0);
  const stale = path.join(cache.folder, '.level-1.999999.0.deadbeef.tmp');
  const fresh = path.join(cache.folder, '.level-1.999998.0.cafebabe.tmp');
  writeFileSync(stale, 'half a file');
  writeFileSync(fresh, 'being written');
  const old = new Date(Date.now() - 11 * 60_000);
  utimesSync(stale, old, old);
  geometry.levelData(1);
  t.notOk(existsSync(stale), 'the stale one is gone');
  t.ok(existsSync(fresh), 'the fresh one stays');
});
