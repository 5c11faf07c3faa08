/**
 * A small, fast 8-bit palette PNG writer for map tiles (Mapnik's png256).
 *
 * Why not sharp's palette PNG: libimagequant costs ~3 ms per 256² tile at
 * its fastest setting (most of the pyramid's CPU), and at that setting it
 * posterises, moving the style's flat colours by ±1–2 levels (so the same
 * ocean comes out as #a9d3df in one tile and #abd3df in the next). Map tiles
 * are flat colours plus anti-aliased blends between them, so an exact palette
 * usually fits and a median cut handles the rest; this writer is ~3–4× faster
 * and keeps every colour that covers most of its box exactly.
 */
import { constants, crc32, deflateSync } from 'node:zlib';

const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
const MAX_COLOURS = 256;

export interface PalettePngOptions {
  /** zlib level (with the run-length strategy, which suits runs of flat colour: faster and smaller than the default here). */
  readonly level?: number;
  /** Pixels from one row of `rgba` to the next (default `width`): encode a tile straight out of a bigger image. */
  readonly stride?: number;
}

/**
 * Encodes opaque RGBA pixels (alpha is ignored) as an 8-bit palette PNG.
 * Deterministic: the same pixels always give the same bytes.
 */
export function encodePalettePng(
  rgba: Uint8Array | Uint8ClampedArray,
  width: number,
  height: number,
  options: PalettePngOptions = {},
): Uint8Array {
  const stride = options.stride ?? width;
  const px = pixelWords(rgba, height === 0 ? 0 : (height - 1) * stride + width);
  const table = new ColourTable();
  countColours(px, width, height, stride, table);
  const { palette, entryOfColour } =
    table.colours.length <= MAX_COLOURS ? exactPalette(table.colours) : medianCut(table.colours, table.counts);

  // Scanlines: filter byte 0 (None, the recommended filter for palette
  // images) then one index per pixel. Like the count, only a change of
  // colour costs a lookup.
  const raw = new Uint8Array(height * (width + 1));
  let prev = -1, entry = 0;
  for (let y = 0, o = 0; y < height; y++) {
    raw[o++] = 0;
    for (let x = 0, p = y * stride; x < width; x++, p++) {
      const c = px[p]! & 0xffffff;
      if (c !== prev) {
        prev = c;
        entry = entryOfColour[table.slotOf(c)]!;
      }
      raw[o++] = entry;
    }
  }
  const idat = deflateSync(raw, { level: options.level ?? 6, strategy: constants.Z_RLE });

  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 3; // colour type: palette
  const plte = new Uint8Array(palette.length * 3);
  palette.forEach((c, i) => {
    plte[3 * i] = c & 255;
    plte[3 * i + 1] = (c >>> 8) & 255;
    plte[3 * i + 2] = (c >>> 16) & 255;
  });
  return concat([SIGNATURE, chunk('IHDR', ihdr), chunk('PLTE', plte), chunk('IDAT', idat), chunk('IEND', new Uint8Array(0))]);
}

/** The pixels as little-endian RGBA words (copied only if the bytes are not 4-aligned). */
function pixelWords(rgba: Uint8Array | Uint8ClampedArray, pixels: number): Uint32Array {
  return rgba.byteOffset % 4 === 0
    ? new Uint32Array(rgba.buffer, rgba.byteOffset, pixels)
    : new Uint32Array(Uint8Array.from(rgba.subarray(0, pixels * 4)).buffer);
}

/**
 * Distinct 24-bit colours with pixel counts: open addressing, kept under half
 * full. Tiles have a few hundred colours, so it starts small rather than
 * sized for the worst case (clearing half a megabyte per tile costs more
 * than the counting).
 */
class ColourTable {
  readonly colours: number[] = [];
  readonly counts: number[] = [];
  private mask = 1023;
  private keys = new Int32Array(1024).fill(-1);
  private slots = new Int32Array(1024);

  /** The colour's number, adding it if new. */
  slotOf(c: number): number {
    let h = this.find(c);
    if (this.keys[h] === -1) {
      if (this.colours.length * 2 >= this.mask) {
        this.grow();
        h = this.find(c);
      }
      this.keys[h] = c;
      this.slots[h] = this.colours.length;
      this.colours.push(c);
      this.counts.push(0);
    }
    return this.slots[h]!;
  }

  private find(c: number): number {
    const keys = this.keys, mask = this.mask;
    let h = (Math.imul(c, 0x9e3779b1) >>> 0) & mask;
    while (keys[h] !== -1 && keys[h] !== c) h = (h + 1) & mask;
    return h;
  }

  private grow(): void {
    this.mask = this.mask * 2 + 1;
    this.keys = new Int32Array(this.mask + 1).fill(-1);
    this.slots = new Int32Array(this.mask + 1);
    this.colours.forEach((c, i) => {
      const h = this.find(c);
      this.keys[h] = c;
      this.slots[h] = i;
    });
  }
}

/** Map tiles are mostly runs of one colour: count runs, look up only at a change. */
function countColours(px: Uint32Array, width: number, height: number, stride: number, table: ColourTable): void {
  if (width * height === 0) return;
  const counts = table.counts;
  let prev = px[0]! & 0xffffff, run = 0;
  for (let y = 0; y < height; y++) {
    for (let p = y * stride, end = p + width; p < end; p++) {
      const c = px[p]! & 0xffffff;
      if (c !== prev) {
        counts[table.slotOf(prev)]! += run;
        prev = c;
        run = 0;
      }
      run++;
    }
  }
  counts[table.slotOf(prev)]! += run;
}

function exactPalette(colours: number[]): { palette: number[]; entryOfColour: Uint8Array } {
  return { palette: colours, entryOfColour: Uint8Array.from(colours, (_, i) => i) };
}

/**
 * Median cut over the distinct colours, weighted by pixel count: split the box
 * with the largest sqrt(pixels) × widest channel range at its weighted median
 * until there are 256 boxes. Each box becomes one palette entry: its dominant
 * colour if that covers most of the box (keeps flat fills exact), else the
 * weighted mean. Boxes are ranges of one permutation array, split in place.
 */
function medianCut(colours: number[], counts: number[]): { palette: number[]; entryOfColour: Uint8Array } {
  const n = colours.length;
  const chan = [new Uint8Array(n), new Uint8Array(n), new Uint8Array(n)] as const;
  colours.forEach((c, i) => {
    chan[0][i] = c & 255;
    chan[1][i] = (c >>> 8) & 255;
    chan[2][i] = (c >>> 16) & 255;
  });
  const order = Int32Array.from(colours, (_, i) => i);
  const start = new Int32Array(MAX_COLOURS), end = new Int32Array(MAX_COLOURS);
  const weight = new Float64Array(MAX_COLOURS), channel = new Uint8Array(MAX_COLOURS), score = new Float64Array(MAX_COLOURS);
  const measure = (b: number): void => {
    let w = 0, lo0 = 255, lo1 = 255, lo2 = 255, hi0 = 0, hi1 = 0, hi2 = 0;
    for (let k = start[b]!; k < end[b]!; k++) {
      const i = order[k]!;
      w += counts[i]!;
      const v0 = chan[0][i]!, v1 = chan[1][i]!, v2 = chan[2][i]!;
      if (v0 < lo0) lo0 = v0;
      if (v0 > hi0) hi0 = v0;
      if (v1 < lo1) lo1 = v1;
      if (v1 > hi1) hi1 = v1;
      if (v2 < lo2) lo2 = v2;
      if (v2 > hi2) hi2 = v2;
    }
    const r0 = hi0 - lo0, r1 = hi1 - lo1, r2 = hi2 - lo2;
    weight[b] = w;
    channel[b] = r0 >= r1 && r0 >= r2 ? 0 : r1 >= r2 ? 1 : 2;
    // sqrt(weight): big boxes get split first, but one huge flat fill does not hog every split.
    score[b] = Math.sqrt(w) * Math.max(r0, r1, r2);
  };
  start[0] = 0;
  end[0] = n;
  measure(0);
  let boxes = 1;
  const bins = new Float64Array(256);
  while (boxes < MAX_COLOURS) {
    let best = -1, bestScore = 0;
    for (let b = 0; b < boxes; b++) {
      if (score[b]! > bestScore) { bestScore = score[b]!; best = b; }
    }
    if (best < 0) break;
    // Cut at the weighted median of the widest channel, but keep it in the
    // middle half of the range: a pure weighted median next to a huge flat
    // fill peels off a colour or two per split, making the cut quadratic.
    const values = chan[channel[best] as 0 | 1 | 2];
    let lo = 255, hi = 0;
    for (let k = start[best]!; k < end[best]!; k++) {
      const i = order[k]!, v = values[i]!;
      bins[v]! += counts[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    let acc = 0, cut = lo;
    for (let v = lo; v < hi; v++) {
      acc += bins[v]!;
      cut = v;
      if (acc * 2 >= weight[best]!) break;
    }
    bins.fill(0, lo, hi + 1);
    const quarter = (hi - lo) >> 2;
    cut = Math.min(Math.max(cut, lo + quarter), hi - 1 - quarter);
    let a = start[best]!, z = end[best]! - 1;
    while (a <= z) {
      if (values[order[a]!]! <= cut) a++;
      else {
        const t = order[a]!;
        order[a] = order[z]!;
        order[z--] = t;
      }
    }
    start[boxes] = a;
    end[boxes] = end[best]!;
    end[best] = a;
    measure(best);
    measure(boxes);
    boxes++;
  }
  const palette: number[] = [];
  const entryOfColour = new Uint8Array(n);
  for (let b = 0; b < boxes; b++) {
    let top = order[start[b]!]!, r = 0, g = 0, bl = 0;
    for (let k = start[b]!; k < end[b]!; k++) {
      const i = order[k]!, w = counts[i]!;
      if (w > counts[top]!) top = i;
      r += chan[0][i]! * w;
      g += chan[1][i]! * w;
      bl += chan[2][i]! * w;
      entryOfColour[i] = b;
    }
    const w = weight[b]!;
    palette.push(
      counts[top]! * 2 > w ? colours[top]! : Math.round(r / w) | (Math.round(g / w) << 8) | (Math.round(bl / w) << 16),
    );
  }
  return { palette, entryOfColour };
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
