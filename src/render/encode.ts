/**
 * PNG encoding of rendered tiles.
 *
 * Palette (the default, Mapnik's png256) uses the built-in writer in
 * png-palette.ts; truecolour uses sharp (libspng, no adaptive filtering: on
 * flat map colours it costs more than it saves). sharp's palette mode is kept
 * selectable for comparison — it is ~3× slower per tile and posterises the
 * style colours by ±1–2 levels at the effort levels that are fast.
 *
 * Tiles of one colour (open ocean, inland) are encoded once per colour and
 * served from a small cache: in a z0–6 pyramid 62% of all tiles are uniform.
 */
import sharp, { type PngOptions } from 'sharp';
import { encodePalettePng } from './png-palette.js';

export interface EncodeOptions {
  readonly tileSize: number;
  readonly palette: boolean;
  /** Palette encoder: 'builtin' (default) or 'sharp' (libimagequant, effort 1, no dithering), for comparison. */
  readonly paletteEncoder?: 'builtin' | 'sharp';
}

/** Few distinct uniform colours ever occur (ocean, land); the bound is a guard, not a tuning knob. */
const UNIFORM_CACHE_LIMIT = 64;

const SHARP_PNG: Record<'palette' | 'truecolour', PngOptions> = {
  palette: { palette: true, effort: 1, dither: 0, compressionLevel: 6 },
  truecolour: { compressionLevel: 6, adaptiveFiltering: false },
};

export class TileEncoder {
  private readonly uniform = new Map<number, Promise<Uint8Array>>();
  private readonly builtin: boolean;

  constructor(private readonly options: EncodeOptions) {
    this.builtin = options.palette && (options.paletteEncoder ?? 'builtin') === 'builtin';
  }

  /** The PNG of a tile of one colour (an RGBA word, as in style.ts). */
  flat(colour: number): Promise<Uint8Array> {
    const cached = this.uniform.get(colour);
    if (cached !== undefined) return cached;
    const px = new Uint32Array(this.options.tileSize * this.options.tileSize).fill(colour);
    return this.encodeUniform(colour, new Uint8Array(px.buffer));
  }

  /** Encodes one tile from tightly packed, opaque RGBA pixels (tileSize² × 4 bytes). */
  encode(rgba: Uint8Array | Uint8ClampedArray): Promise<Uint8Array> {
    const colour = uniformColour(rgba);
    if (colour !== undefined) return this.encodeUniform(colour, rgba);
    return this.encodeRaw(rgba);
  }

  /**
   * Encodes the tile whose top-left pixel is (x, y) in a bigger opaque RGBA
   * image `imageWidth` pixels wide (a whole metatile), without copying it out
   * first (palette PNG; truecolour copies the tile for sharp).
   */
  async encodeFrom(image: Uint8Array, imageWidth: number, x: number, y: number): Promise<Uint8Array> {
    const size = this.options.tileSize;
    const start = 4 * (y * imageWidth + x);
    const view = image.subarray(start, start + 4 * ((size - 1) * imageWidth + size));
    const colour = uniformColour(view, size, imageWidth);
    if (colour !== undefined) return this.flat(colour);
    if (this.builtin) return encodePalettePng(view, size, size, { stride: imageWidth });
    const tile = new Uint8Array(4 * size * size);
    for (let row = 0; row < size; row++) tile.set(view.subarray(4 * row * imageWidth, 4 * (row * imageWidth + size)), 4 * row * size);
    return this.encodeRaw(tile);
  }

  private encodeUniform(colour: number, rgba: Uint8Array | Uint8ClampedArray): Promise<Uint8Array> {
    let png = this.uniform.get(colour);
    if (png === undefined) {
      if (this.uniform.size >= UNIFORM_CACHE_LIMIT) this.uniform.clear();
      png = this.encodeRaw(rgba);
      this.uniform.set(colour, png);
      png.catch(() => this.uniform.delete(colour));
    }
    return png;
  }

  private async encodeRaw(rgba: Uint8Array | Uint8ClampedArray): Promise<Uint8Array> {
    const size = this.options.tileSize;
    if (this.builtin) return encodePalettePng(rgba, size, size);
    const input = Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength);
    return sharp(input, { raw: { width: size, height: size, channels: 4 } })
      .png(this.options.palette ? SHARP_PNG.palette : SHARP_PNG.truecolour)
      .toBuffer();
  }
}

/**
 * The pixel value if every pixel is the same, else undefined. Stops at the
 * first difference. With `width` and `stride` (pixels), only the first
 * `width` pixels of each `stride`-pixel row count (a tile in a bigger image).
 */
export function uniformColour(rgba: Uint8Array | Uint8ClampedArray, width?: number, stride?: number): number | undefined {
  if (rgba.byteOffset % 4 !== 0) return undefined;
  const px = new Uint32Array(rgba.buffer, rgba.byteOffset, rgba.byteLength >> 2);
  const first = px[0]!;
  if (width === undefined || stride === undefined || stride === width) {
    for (let i = 1; i < px.length; i++) if (px[i] !== first) return undefined;
    return first;
  }
  for (let row = 0; row < px.length; row += stride) {
    for (let i = row, end = Math.min(row + width, px.length); i < end; i++) if (px[i] !== first) return undefined;
  }
  return first;
}
