/**
 * The `.meta` file a tirex (or renderd) backend writes: `META`, then four
 * little-endian int32 (count, x, y, z), then count × (offset, size), then
 * the PNGs. Entry of tile (dx, dy) in an n×n metatile: dx * n + dy.
 * The file is input from another process: every number is checked.
 */
import { open } from 'node:fs/promises';
import path from 'node:path';
import type { MetaTile } from '../../tile/tile-coord.js';
import { ProcessingError } from '../../errors.js';
import { MAX_TIREX_METATILE_BYTES } from '../../limits.js';
import type { RenderedTile } from '../meta.js';

const HEADER_BYTES = 20;
const ENTRY_BYTES = 8;
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** `Z/a/b/c/d/e.meta` under the map's tiledir (tirex `Tirex::Metatile::get_filename`, mod_tile `xyz_to_meta`). */
export function metatilePath(tiledir: string, z: number, x: number, y: number): string {
  const parts: number[] = [];
  for (let i = 0; i < 5; i++) {
    parts.unshift(((x & 0x0f) << 4) | (y & 0x0f));
    x >>>= 4;
    y >>>= 4;
  }
  return path.join(tiledir, String(z), ...parts.slice(0, 4).map(String), `${parts[4]}.meta`);
}

/**
 * The tiles of `meta` from a `.meta` file, row by row (tilesOfMeta order).
 * `metaSize` is the backend's metatile side (its entry layout); `meta.size`
 * may be smaller at low zooms, where only those tiles exist.
 */
export function parseMetatileFile(buf: Uint8Array, meta: MetaTile, metaSize: number, file: string): RenderedTile[] {
  const bad = (why: string) => new ProcessingError(`tirex metatile ${file} is not valid: ${why}`);
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < HEADER_BYTES || b.toString('latin1', 0, 4) !== 'META') throw bad(`no META header (${b.length} bytes)`);
  const count = b.readInt32LE(4);
  const [x, y, z] = [b.readInt32LE(8), b.readInt32LE(12), b.readInt32LE(16)];
  if (count !== metaSize * metaSize) throw bad(`${count} entries, expected ${metaSize * metaSize} (${metaSize}×${metaSize})`);
  if (x !== meta.x || y !== meta.y || z !== meta.z) throw bad(`it holds ${z}/${x}/${y}, not the metatile asked for, ${meta.z}/${meta.x}/${meta.y}`);
  const dataStart = HEADER_BYTES + count * ENTRY_BYTES;
  if (b.length < dataStart) throw bad(`${b.length} bytes is shorter than its ${count}-entry index`);
  const out: RenderedTile[] = [];
  for (let dy = 0; dy < meta.size; dy++) {
    for (let dx = 0; dx < meta.size; dx++) {
      const entry = dx * metaSize + dy;
      const offset = b.readInt32LE(HEADER_BYTES + entry * ENTRY_BYTES);
      const size = b.readInt32LE(HEADER_BYTES + entry * ENTRY_BYTES + 4);
      const where = `tile ${z}/${x + dx}/${y + dy} (entry ${entry}: offset ${offset}, size ${size})`;
      if (size <= 0) throw bad(`${where} is empty`);
      if (offset < dataStart || offset > b.length - size) throw bad(`${where} lies outside the file's ${b.length} bytes`);
      const png = b.subarray(offset, offset + size);
      if (size < PNG_SIGNATURE.length || !png.subarray(0, PNG_SIGNATURE.length).equals(PNG_SIGNATURE)) throw bad(`${where} is not a PNG`);
      out.push({ x: x + dx, y: y + dy, png: new Uint8Array(png) });
    }
  }
  return out;
}

/**
 * Reads and parses a `.meta` file, refusing one over `maxBytes` before
 * reading it (the size is checked on the open file, so a file swapped in
 * between is caught too).
 */
export async function readMetatileFile(file: string, meta: MetaTile, metaSize: number, maxBytes = MAX_TIREX_METATILE_BYTES): Promise<RenderedTile[]> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    if (size > maxBytes) throw new ProcessingError(`tirex metatile ${file} is ${size} bytes, over MAX_TIREX_METATILE_BYTES (${maxBytes})`);
    const buf = Buffer.alloc(size);
    const { bytesRead } = await fh.read(buf, 0, size, 0);
    return parseMetatileFile(buf.subarray(0, bytesRead), meta, metaSize, file);
  } finally {
    await fh.close();
  }
}
