/**
 * An on-disk cache of prepared geometry levels (LevelData), one file per
 * level, so a daemon start loads them instead of building them again.
 *
 * Why: building levels 0–9 from Natural Earth (parse, cut at ±180°,
 * simplify, quantise, index) costs seconds of CPU on every start, inside the
 * first requests. Measured on the 2-core machine (shared with a benchmark
 * run, `nice -n 19`, from dist/, median of 5): build levels 0–9 1,789 ms,
 * load them from this cache 29 ms; levels 0–6 (a z0–6 pyramid) 767 ms vs
 * 9 ms (a busier run: 2,665 vs 50 ms and 1,152 vs 14 ms); the content key
 * (hashing 4.5 MB of data + sources) 12–29 ms once per thread. A level
 * loads straight into SharedArrayBuffers (one read per array, no copy) and
 * its flatbush index is rebuilt from the checked bboxes: a few ms, and no
 * tree from disk is ever walked.
 *
 * The folder is per content key: a hash of FORMAT, the world-atlas files'
 * bytes, the text of the modules whose code decides the output (read at run
 * time, so a code change is a new key without anyone bumping a number) and
 * the level → dataset choice. Old keys' folders are left alone.
 *
 * A cache file is input from disk, so it is checked like a peer's bytes:
 * bounded size, magic, format, level and dataset, every length against the
 * file size, a crc32 over the payload, offsets monotonic and inside the
 * coordinates. A file that fails is ignored (one warning naming it and the
 * reason): the level is built and the file written again. Writes are atomic
 * (a temp file in the same folder, then rename) and best effort: a folder
 * that cannot be written gives one warning and the daemon builds in memory.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { threadId } from 'node:worker_threads';
import { crc32 } from 'node:zlib';
import { MAX_GEOMETRY_CACHE_FILE_BYTES } from '../limits.js';
import { MAX_SIMPLIFIED_ZOOM, indexBoxes, resolutionForZoom, type LayerData, type LevelData } from './geometry.js';
import type { Resolution } from './world-data.js';

/** Bump when the file layout changes (the code hash covers the rest). */
export const GEOMETRY_CACHE_FORMAT = 1;

const MAGIC = Buffer.from('MOSGEOM\0', 'latin1');
const HEADER_BYTES = 64;
const RESOLUTIONS: readonly Resolution[] = ['110m', '50m', '10m'];
/** Modules beside this one whose source decides a level's bytes. */
const SOURCE_MODULES = ['geometry', 'world-data', 'simplify', 'clip', 'mercator', 'geometry-cache'];
const DATASET_FILES = RESOLUTIONS.map((r) => `countries-${r}.json`);
/** A temp file this old is a crashed writer's (a write takes milliseconds); the next store removes it. */
const STALE_TEMP_MS = 10 * 60_000;
const TEMP_NAME = /^\.level-\d+\..*\.tmp$/;

/** Where levels are loaded from and stored; WorldGeometry's view of the cache. */
export interface LevelCache {
  /** The level from disk, or undefined (missing, or failed a check: then one warning). */
  load(level: number, resolution: Resolution): LevelData | undefined;
  /** Best effort: a failure warns (once per cache) and is otherwise ignored. */
  store(level: number, data: LevelData): void;
}

export interface GeometryCacheOptions {
  /** The cache root; the key's folder is made inside it. */
  readonly dir: string;
  /** Told each problem once per cache (a file that failed a check, a folder that cannot be written). */
  readonly warn?: (message: string) => void;
  /** The content key (default contentKey()); tests pass another to simulate a change. */
  readonly key?: string;
  /** Largest file read, bytes (default MAX_GEOMETRY_CACHE_FILE_BYTES). */
  readonly maxFileBytes?: number;
}

let memoKey: string | undefined;

/**
 * The content key of this build of the geometry code and data (hex). Hashing
 * all three datasets' bytes costs ~13 ms (4.5 MB), once per thread; cheaper
 * than trusting size + mtime, which a reinstall can keep.
 */
export function contentKey(): string {
  if (memoKey !== undefined) return memoKey;
  const h = createHash('sha256');
  h.update(`mosaicd geometry cache ${GEOMETRY_CACHE_FORMAT}\0`);
  const require = createRequire(import.meta.url);
  for (const file of DATASET_FILES) {
    h.update(`${file}\0`);
    h.update(readFileSync(require.resolve(`world-atlas/${file}`)));
  }
  h.update('flatbush\0'); // the index is rebuilt at load: its code decides the index's bytes
  h.update(readFileSync(new URL(import.meta.resolve('flatbush'))));
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  for (const name of SOURCE_MODULES) {
    h.update(`${name}\0`);
    h.update(readFileSync(new URL(`./${name}${ext}`, import.meta.url)));
  }
  for (let l = 0; l <= MAX_SIMPLIFIED_ZOOM; l++) h.update(`${l}=${resolutionForZoom(l)}\0`);
  h.update(os.endianness()); // the arrays are stored in this machine's byte order
  memoKey = h.digest('hex').slice(0, 32);
  return memoKey;
}

/** Thrown inside load() and turned into one warning. */
class BadCacheFile extends Error {}

interface LayerHeader {
  readonly count: number;
  readonly coordsLength: number;
}

const layerBytes = (h: LayerHeader): number => 4 * h.coordsLength + 4 * (h.count + 1) + 16 * h.count + h.count;

export class GeometryCache implements LevelCache {
  /** The key's folder, where the level files are. */
  readonly folder: string;
  readonly key: string;
  private readonly warnFn: (message: string) => void;
  private readonly maxFileBytes: number;
  private readonly warned = new Set<string>();
  /** A folder that could not be made or written: stop trying. */
  private unwritable = false;
  /** Levels loaded from disk and levels stored, in order (tests, logs). */
  readonly loaded: number[] = [];
  readonly stored: number[] = [];

  constructor(options: GeometryCacheOptions) {
    this.warnFn = options.warn ?? (() => undefined);
    this.maxFileBytes = options.maxFileBytes ?? MAX_GEOMETRY_CACHE_FILE_BYTES;
    let key = options.key;
    if (key === undefined) {
      try {
        key = contentKey();
      } catch (err) {
        // Sources or data not where they were found at build time (a bundle?): no key, no cache.
        this.warn(`geometry cache off: its key cannot be computed (${(err as Error).message}); geometry is built in memory on every start`);
        this.unwritable = true;
      }
    }
    this.key = key ?? '';
    this.folder = path.join(options.dir, `geometry-${this.key}`);
  }

  fileOf(level: number): string {
    return path.join(this.folder, `level-${level}.bin`);
  }

  load(level: number, resolution: Resolution): LevelData | undefined {
    if (this.key === '') return undefined;
    const file = this.fileOf(level);
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch (err) {
      // Not there (or no folder to be in) is a plain miss; store() says if the folder is unusable.
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') this.warn(`geometry cache file ${file} cannot be read (${(err as Error).message}); building the level instead`);
      return undefined;
    }
    try {
      const data = readLevel(fd, level, resolution, this.key, this.maxFileBytes);
      this.loaded.push(level);
      return data;
    } catch (err) {
      const reason = err instanceof BadCacheFile ? err.message : `it cannot be read: ${(err as Error).message}`;
      this.warn(`geometry cache file ${file} ignored: ${reason}; building the level and writing the file again`);
      return undefined;
    } finally {
      closeSync(fd);
    }
  }

  store(level: number, data: LevelData): void {
    if (this.unwritable) return;
    const file = this.fileOf(level);
    const temp = path.join(this.folder, `.level-${level}.${process.pid}.${threadId}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      mkdirSync(this.folder, { recursive: true });
      const fd = openSync(temp, 'wx');
      try {
        for (const chunk of encodeLevel(level, data, this.key)) {
          for (let at = 0; at < chunk.byteLength; ) at += writeSync(fd, chunk, at);
        }
      } finally {
        closeSync(fd);
      }
      renameSync(temp, file);
      this.stored.push(level);
      this.removeStaleTemps();
    } catch (err) {
      try {
        rmSync(temp, { force: true });
      } catch {
        // the folder is not there or not a folder: nothing was left in it
      }
      this.unwritable = true;
      this.warn(`geometry cache folder ${this.folder} cannot be written (${(err as Error).message}); geometry is built in memory on every start`);
    }
  }

  /** Temp files left by a writer that died between write and rename (best effort, quiet). */
  private removeStaleTemps(): void {
    try {
      const now = Date.now();
      for (const name of readdirSync(this.folder)) {
        if (!TEMP_NAME.test(name)) continue;
        const p = path.join(this.folder, name);
        if (now - statSync(p).mtimeMs > STALE_TEMP_MS) rmSync(p, { force: true });
      }
    } catch {
      // another daemon removed it first, or the folder went away: nothing to do
    }
  }

  private warn(message: string): void {
    if (this.warned.has(message)) return;
    this.warned.add(message);
    this.warnFn(message);
  }
}

const bytesOf = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** The file as chunks: header, then per layer coords, offsets, bboxes, continues (native = little-endian order). */
function encodeLevel(level: number, data: LevelData, key: string): Uint8Array[] {
  const layers = [data.fill, data.outline];
  const payload = layers.flatMap((l) => [bytesOf(l.coords), bytesOf(l.offsets), bytesOf(l.bboxes), bytesOf(l.continues)]);
  let crc = 0;
  let size = 0;
  for (const p of payload) {
    crc = crc32(p, crc);
    size += p.byteLength;
  }
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeUInt32LE(GEOMETRY_CACHE_FORMAT, 8);
  header.writeUInt32LE(level, 12);
  header.writeUInt32LE(RESOLUTIONS.indexOf(data.resolution), 16);
  header.writeUInt32LE(crc, 20);
  header.writeUInt32LE(size, 24);
  layers.forEach((l, i) => {
    header.writeUInt32LE(l.continues.length, 28 + 8 * i);
    header.writeUInt32LE(l.coords.length, 32 + 8 * i);
  });
  header.write(key.slice(0, 32), 44, 'hex'); // 16 bytes: a file copied from another key's folder is refused
  return [header, ...payload];
}

/** Reads and checks one level file; throws BadCacheFile with the reason. */
function readLevel(fd: number, level: number, resolution: Resolution, key: string, maxFileBytes: number): LevelData {
  const size = fstatSync(fd).size;
  if (size > maxFileBytes) throw new BadCacheFile(`${size} bytes, over the limit of ${maxFileBytes}`);
  if (size < HEADER_BYTES) throw new BadCacheFile(`${size} bytes, shorter than its header`);
  const header = Buffer.alloc(HEADER_BYTES);
  readExactly(fd, header, 0);
  if (!header.subarray(0, 8).equals(MAGIC)) throw new BadCacheFile('not a mosaicd geometry file (wrong magic)');
  const format = header.readUInt32LE(8);
  if (format !== GEOMETRY_CACHE_FORMAT) throw new BadCacheFile(`format ${format}, expected ${GEOMETRY_CACHE_FORMAT}`);
  if (header.readUInt32LE(12) !== level) throw new BadCacheFile(`it holds level ${header.readUInt32LE(12)}, not ${level}`);
  const res = RESOLUTIONS[header.readUInt32LE(16)];
  if (res !== resolution) throw new BadCacheFile(`it holds the ${res ?? 'unknown'} dataset, not ${resolution}`);
  if (header.toString('hex', 44, 60) !== key.slice(0, 32)) throw new BadCacheFile('it was written for another content key');
  const layers: LayerHeader[] = [0, 1].map((i) => ({ count: header.readUInt32LE(28 + 8 * i), coordsLength: header.readUInt32LE(32 + 8 * i) }));
  // Each count is < 2^32, so this sum is exact in a double; compare before allocating anything.
  const payload = layers.reduce((s, l) => s + layerBytes(l), 0);
  if (header.readUInt32LE(24) !== payload || HEADER_BYTES + payload !== size) {
    throw new BadCacheFile(`its lengths say ${HEADER_BYTES + payload} bytes, the header ${HEADER_BYTES + header.readUInt32LE(24)}, the file has ${size} (truncated or inconsistent)`);
  }
  let position = HEADER_BYTES;
  let crc = 0;
  const read = <T extends Int32Array | Uint32Array | Uint8Array>(make: (b: SharedArrayBuffer) => T, bytes: number): T => {
    const buffer = new SharedArrayBuffer(bytes);
    const view = new Uint8Array(buffer);
    readExactly(fd, view, position);
    crc = crc32(view, crc);
    position += bytes;
    return make(buffer);
  };
  const raw = layers.map((h) => ({
    coords: read((b) => new Int32Array(b), 4 * h.coordsLength),
    offsets: read((b) => new Uint32Array(b), 4 * (h.count + 1)),
    bboxes: read((b) => new Int32Array(b), 16 * h.count),
    continues: read((b) => new Uint8Array(b), h.count),
  }));
  if (crc !== header.readUInt32LE(20)) throw new BadCacheFile('checksum mismatch (the payload was changed or damaged)');
  const [fill, outline] = raw.map((l, i) => checkedLayer(l, i === 0 ? 'fill' : 'outline'));
  return { resolution, fill: fill!, outline: outline! };
}

function readExactly(fd: number, into: Uint8Array, position: number): void {
  for (let at = 0; at < into.byteLength; ) {
    const n = readSync(fd, into, at, into.byteLength - at, position + at);
    if (n === 0) throw new BadCacheFile('it ended early');
    at += n;
  }
}

/** Checks a layer's arrays against each other and indexes its bboxes (a stored index would be a tree from disk to walk). */
function checkedLayer(l: Omit<LayerData, 'index'>, name: string): LayerData {
  const { coords, offsets, bboxes, continues } = l;
  const count = continues.length;
  if (coords.length % 2 !== 0) throw new BadCacheFile(`${name}: an odd number of coordinates`);
  if (offsets[0] !== 0 || offsets[count] !== coords.length) throw new BadCacheFile(`${name}: offsets do not span the coordinates`);
  for (let i = 0; i < count; i++) {
    const from = offsets[i]!, to = offsets[i + 1]!;
    if (to < from || from % 2 !== 0) throw new BadCacheFile(`${name}: offset ${i + 1} (${to}) is out of order`);
    if (continues[i]! > 1 || (i === 0 && continues[i] !== 0)) throw new BadCacheFile(`${name}: part ${i} has a bad continuation flag`);
  }
  return { coords, offsets, bboxes, continues, index: indexBoxes(bboxes, count) };
}
