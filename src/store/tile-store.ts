import { createHash, randomBytes } from 'node:crypto';
import { link, mkdir, open, readdir, readFile, rename, rm, stat as fsStat } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { BadTileError, ConfigError } from '../errors.js';
import { FOREIGN_TEMP_MAX_AGE_MS, MAX_SUPPORTED_ZOOM } from '../limits.js';
import type { TileCoord } from '../tile/tile-coord.js';

/**
 * Where tile files live (wire.md §3).
 *
 * - `flat` (default, the old layout): `<dir>/Z_X_Y.png`
 * - `zxy`: `<dir>/Z/X/Y.png`
 */
export type TileLayout = 'flat' | 'zxy';

export interface TileStoreOptions {
  /** Tile directory; created (recursively) on the first write when missing. */
  dir: string;
  /** @default 'flat' */
  layout?: TileLayout;
  /**
   * fsync each temporary file before the rename, so a power cut cannot leave
   * an empty tile behind. Costs one disk flush per tile.
   * @default false
   */
  fsync?: boolean;
  /**
   * How a hard link is made (identical tiles of one batch share a file).
   * A refusal makes the store write the bytes instead; tests inject one.
   * @default fs.promises.link
   */
  link?: (existing: string, newPath: string) => Promise<void>;
}

/**
 * Temporary files are named `.<final name>.mosaicd-<host>-<pid>-<counter>-<random>.tmp`
 * beside their final file. Only this module writes that pattern, so
 * `cleanTemporaryFiles()` can tell our crash leftovers from a user's files.
 * pid + counter keep names unique inside one process (even for concurrent
 * writes of one tile); pid + random keep them unique across processes; the
 * host tag (a hash of the host name) tells this machine's writes from those
 * of other nodes sharing the folder (`--queue`), whose PIDs mean nothing here.
 * Names from before the host tag (no `<host>-`) are still recognised.
 */
const TEMP_NAME = /^\.(?:\d{1,2}_\d{1,10}_\d{1,10}|\d{1,10})\.png\.mosaicd-(?:([0-9a-f]{8})-)?(\d{1,10})-\d+-[0-9a-f]{8}\.tmp$/;
/** This machine's tag in temporary names. */
const HOST_TAG = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);
const DIGITS = /^\d{1,10}$/;
/** Tiles of one writeMany written at the same time (bounds open file descriptors). */
const WRITE_CONCURRENCY = 16;

let tempCounter = 0;

/**
 * Tile files on disk, written atomically: a reader sees either no file, the
 * previous complete file, or the new complete file, never a partial one. Each
 * write goes to a temporary file in the same folder (same file system, so the
 * rename is atomic) and is then renamed over the final name. Of several
 * concurrent writes of one tile the last rename wins, and every one of them is
 * a whole PNG.
 */
export class TileStore {
  readonly #dir: string;
  readonly #layout: TileLayout;
  readonly #fsync: boolean;
  readonly #link: (existing: string, newPath: string) => Promise<void>;
  /** Temporary files this process is writing right now (full paths); cleanTemporaryFiles leaves them alone. */
  readonly #inFlight = new Set<string>();

  constructor(options: TileStoreOptions) {
    if (options === null || typeof options !== 'object') {
      throw new ConfigError(`TileStore options must be an object, received ${String(options)}`);
    }
    const { dir, layout = 'flat', fsync = false, link: linkFile = link } = options;
    if (typeof dir !== 'string' || dir.length === 0) {
      throw new ConfigError(`TileStore option "dir" must be a non-empty path, received ${JSON.stringify(dir)}`);
    }
    if (layout !== 'flat' && layout !== 'zxy') {
      throw new ConfigError(`TileStore option "layout" must be 'flat' or 'zxy', received ${JSON.stringify(layout)}`);
    }
    if (typeof fsync !== 'boolean') {
      throw new ConfigError(`TileStore option "fsync" must be a boolean, received ${JSON.stringify(fsync)}`);
    }
    if (typeof linkFile !== 'function') {
      throw new ConfigError(`TileStore option "link" must be a function, received ${typeof linkFile}`);
    }
    this.#dir = path.resolve(dir);
    this.#layout = layout;
    this.#fsync = fsync;
    this.#link = linkFile;
  }

  get dir(): string {
    return this.#dir;
  }

  get layout(): TileLayout {
    return this.#layout;
  }

  /**
   * The file of a tile. Built only from the tile's integers, re-checked here
   * so that a value cast to TileCoord can never put `..` or a separator in a
   * path: anything but non-negative integers in the grid throws BadTileError.
   */
  pathOf(tile: TileCoord): string {
    const { z, x, y } = checkedCoord(tile);
    return this.#layout === 'flat'
      ? path.join(this.#dir, `${z}_${x}_${y}.png`)
      : path.join(this.#dir, String(z), String(x), `${y}.png`);
  }

  async has(tile: TileCoord): Promise<boolean> {
    return (await this.stat(tile)) !== undefined;
  }

  /** Size and modification time of the tile file, or undefined when there is none. */
  async stat(tile: TileCoord): Promise<{ size: number; mtimeMs: number } | undefined> {
    try {
      const s = await fsStat(this.pathOf(tile));
      return s.isFile() ? { size: s.size, mtimeMs: s.mtimeMs } : undefined;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  /** The tile's bytes, or undefined when there is no file. */
  async read(tile: TileCoord): Promise<Buffer | undefined> {
    try {
      return await readFile(this.pathOf(tile));
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  /** Writes one tile atomically (temporary file in the same folder, then rename). */
  async write(tile: TileCoord, png: Uint8Array): Promise<void> {
    const file = this.pathOf(tile);
    await mkdir(path.dirname(file), { recursive: true });
    await this.#writeLinked([file], png);
  }

  /**
   * Writes a metatile's worth of tiles: one mkdir per folder, then up to
   * WRITE_CONCURRENCY files at a time. Tiles of the batch with identical
   * bytes (open sea, plain land: most tiles at low zooms) are written once
   * and hard-linked: creating and filling a file costs the kernel far more
   * than a link (measured ~0.4 ms against ~0.03 ms of system time per tile
   * here), and each name is still replaced by an atomic rename. Where links
   * are refused (a file system without them, a link-count limit) the bytes
   * are written instead. Every write is attempted; if any fail, the first
   * failure is thrown once all have settled (no temporary file is left
   * behind either way).
   */
  async writeMany(tiles: ReadonlyArray<{ tile: TileCoord; png: Uint8Array }>): Promise<void> {
    const jobs = identicalGroups(tiles.map(({ tile, png }) => ({ file: this.pathOf(tile), png })));
    const folders = new Set(jobs.flatMap((j) => j.files.map((f) => path.dirname(f))));
    await Promise.all([...folders].map((f) => mkdir(f, { recursive: true })));

    let next = 0;
    let firstError: unknown;
    let failed = false;
    const lane = async (): Promise<void> => {
      while (next < jobs.length) {
        const job = jobs[next++]!;
        try {
          await this.#writeLinked(job.files, job.png);
        } catch (err) {
          if (!failed) {
            failed = true;
            firstError = err;
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(WRITE_CONCURRENCY, jobs.length) }, lane));
    if (failed) throw firstError;
  }

  /**
   * Removes temporary files left by a crash, at start-up. Looks at the tile
   * directory itself and, for the zxy layout, at `<dir>/<digits>/<digits>/`
   * (symbolic links are not followed). Only names of our own temporary
   * pattern are removed, and not those of a write in progress: our own
   * in-flight writes, or those of another process on this machine that is
   * still alive (a second daemon sharing the directory). Another machine's
   * temporary files (a shared folder) are removed only once older than
   * FOREIGN_TEMP_MAX_AGE_MS, since their writer's PID cannot be checked from
   * here. Returns how many were removed.
   */
  async cleanTemporaryFiles(): Promise<number> {
    let removed = 0;
    const visit = async (folder: string, depth: number): Promise<void> => {
      let entries;
      try {
        entries = await readdir(folder, { withFileTypes: true });
      } catch (err) {
        if (isMissing(err)) return;
        throw err;
      }
      for (const e of entries) {
        const full = path.join(folder, e.name);
        if (e.isDirectory()) {
          if (depth < 2 && DIGITS.test(e.name)) await visit(full, depth + 1);
          continue;
        }
        if (!e.isFile()) continue;
        const m = TEMP_NAME.exec(e.name);
        if (m === null) continue;
        const local = m[1] === undefined || m[1] === HOST_TAG;
        if (local ? this.#isLiveTemp(full, Number(m[2])) : !(await isOlderThan(full, FOREIGN_TEMP_MAX_AGE_MS))) continue;
        try {
          await rm(full);
          removed++;
        } catch (err) {
          if (!isMissing(err)) throw err;
        }
      }
    };
    await visit(this.#dir, 0);
    return removed;
  }

  #isLiveTemp(file: string, pid: number): boolean {
    if (pid === process.pid) return this.#inFlight.has(file);
    return isProcessAlive(pid);
  }

  /**
   * Writes `png` once to a temporary file beside the first of `files`, links
   * a temporary name beside each other one to it (or writes the bytes again
   * if the link is refused), then renames each into place. The first file's
   * temporary name is private, so every name ends up with exactly these bytes.
   */
  async #writeLinked(files: readonly string[], png: Uint8Array): Promise<void> {
    const temps = files.map(temporaryNameFor);
    for (const t of temps) this.#inFlight.add(t);
    try {
      const first = temps[0]!;
      await this.#writeTemp(first, png);
      const others = await Promise.allSettled(
        temps.slice(1).map(async (temp, i) => {
          await this.#link(first, temp).catch(() => this.#writeTemp(temp, png));
          await rename(temp, files[i + 1]!);
        }),
      );
      const failed = others.find((r) => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
      await rename(first, files[0]!);
    } catch (err) {
      await Promise.all(temps.map((t) => rm(t, { force: true }).catch(() => {})));
      throw err;
    } finally {
      for (const t of temps) this.#inFlight.delete(t);
    }
  }

  async #writeTemp(temp: string, png: Uint8Array): Promise<void> {
    // 'wx': never reuse or follow an existing file under the temporary name.
    const fh = await open(temp, 'wx', 0o644);
    try {
      await fh.writeFile(png);
      if (this.#fsync) await fh.sync();
    } finally {
      await fh.close();
    }
  }
}

function temporaryNameFor(file: string): string {
  return path.join(
    path.dirname(file),
    `.${path.basename(file)}.mosaicd-${HOST_TAG}-${process.pid}-${++tempCounter}-${randomBytes(4).toString('hex')}.tmp`,
  );
}

/** Groups files by identical contents (byte for byte), keeping the batch's order of first appearance. */
function identicalGroups(jobs: ReadonlyArray<{ file: string; png: Uint8Array }>): Array<{ files: string[]; png: Uint8Array }> {
  const groups: Array<{ files: string[]; png: Uint8Array }> = [];
  const byLength = new Map<number, Array<{ files: string[]; png: Uint8Array }>>();
  for (const { file, png } of jobs) {
    const sameLength = byLength.get(png.byteLength);
    const match = sameLength?.find((g) => Buffer.compare(g.png, png) === 0);
    if (match !== undefined) {
      match.files.push(file);
      continue;
    }
    const group = { files: [file], png };
    groups.push(group);
    if (sameLength === undefined) byLength.set(png.byteLength, [group]);
    else sameLength.push(group);
  }
  return groups;
}

function checkedCoord(tile: TileCoord): TileCoord {
  const { z, x, y } = (tile ?? {}) as Partial<TileCoord>;
  if (!Number.isSafeInteger(z) || !Number.isSafeInteger(x) || !Number.isSafeInteger(y)) {
    throw new BadTileError(`tile numbers must be integers, received ${describe(tile)}`);
  }
  const zi = z as number;
  const xi = x as number;
  const yi = y as number;
  const n = 2 ** zi;
  if (zi < 0 || zi > MAX_SUPPORTED_ZOOM || xi < 0 || xi >= n || yi < 0 || yi >= n) {
    throw new BadTileError(`tile ${zi}_${xi}_${yi} is outside the grid`);
  }
  return tile;
}

function describe(v: unknown): string {
  try {
    return JSON.stringify(v)?.slice(0, 80) ?? String(v);
  } catch {
    return String(v);
  }
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

async function isOlderThan(file: string, ms: number): Promise<boolean> {
  try {
    return Date.now() - (await fsStat(file)).mtimeMs > ms;
  } catch {
    return false;
  }
}

function isProcessAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
