/**
 * The in-process renderer: geometry → canvas → tiles → PNG. Each render
 * worker owns one; tests and benchmarks can use it directly, without threads.
 */
import { createCanvas, type Canvas } from '@napi-rs/canvas';
import sharp from 'sharp';
import { BadTileError } from '../errors.js';
import { MAX_SUPPORTED_ZOOM } from '../limits.js';
import type { MetaTile } from '../tile/tile-coord.js';
import { classifyTile, drawMetaTile, type TileKind } from './draw.js';
import { TileEncoder } from './encode.js';
import { WorldGeometry, type ZoomGeometry } from './geometry.js';
import { LAND_RGBA, OCEAN_RGBA } from './style.js';

export interface TileRendererOptions {
  readonly tileSize: 256 | 512;
  readonly palette: boolean;
  /** Share prepared geometry between renderers in one thread (tests). */
  readonly geometry?: WorldGeometry;
  /** See EncodeOptions.paletteEncoder (benchmarks). */
  readonly paletteEncoder?: 'builtin' | 'sharp';
}

export interface RenderedTile {
  readonly x: number;
  readonly y: number;
  readonly png: Uint8Array;
}

/** Largest metatile canvas side in pixels (16×16 tiles of 256 px, 8×8 of 512 px): 64 MB of RGBA. */
export const MAX_META_PIXELS = 4096;

export class TileRenderer {
  readonly tileSize: 256 | 512;
  private readonly geometry: WorldGeometry;
  private readonly encoder: TileEncoder;
  /** One canvas per metatile side, reused: allocating a 2048² canvas per render costs more than drawing on it. */
  private readonly canvases = new Map<number, Canvas>();

  constructor(options: TileRendererOptions) {
    this.tileSize = options.tileSize;
    this.geometry = options.geometry ?? new WorldGeometry();
    this.encoder = new TileEncoder({
      tileSize: options.tileSize,
      palette: options.palette,
      paletteEncoder: options.paletteEncoder ?? 'builtin',
    });
  }

  /** Renders the N×N block and returns its tiles row by row. Throws BadTileError for a block off the grid. */
  async render(meta: MetaTile): Promise<RenderedTile[]> {
    checkMeta(meta, this.tileSize);
    const T = this.tileSize;
    const geom = this.geometry.forPixelZoom(meta.z + Math.log2(T / 256));
    // Tiles of plain ocean or plain land (62% of a z0–6 pyramid) are known
    // from the geometry index alone: no drawing, no read-back, one cached PNG.
    const kinds: TileKind[] = [];
    for (let dy = 0; dy < meta.size; dy++) {
      for (let dx = 0; dx < meta.size; dx++) kinds.push(classifyTile(geom, meta.z, meta.x + dx, meta.y + dy, T));
    }
    const pngs = kinds.includes('mixed')
      ? await this.drawAndEncode(meta, geom, kinds)
      : await Promise.all(kinds.map((k) => this.encoder.flat(k === 'land' ? LAND_RGBA : OCEAN_RGBA)));
    return pngs.map((png, i) => ({ x: meta.x + (i % meta.size), y: meta.y + Math.floor(i / meta.size), png }));
  }

  private drawAndEncode(meta: MetaTile, geom: ZoomGeometry, kinds: TileKind[]): Promise<Uint8Array[]> {
    const T = this.tileSize;
    const side = meta.size * T;
    let canvas = this.canvases.get(side);
    if (canvas === undefined) {
      canvas = createCanvas(side, side);
      this.canvases.set(side, canvas);
    }
    const ctx = canvas.getContext('2d');
    drawMetaTile(ctx, geom, meta, T);
    // Read back only the mixed tiles, each as its own packed RGBA block
    // (Skia rasterises the recorded paths on the first read).
    return Promise.all(
      kinds.map((kind, i) => {
        if (kind === 'ocean') return this.encoder.flat(OCEAN_RGBA);
        if (kind === 'land') return this.encoder.flat(LAND_RGBA);
        const dx = i % meta.size, dy = Math.floor(i / meta.size);
        return this.encoder.encode(ctx.getImageData(dx * T, dy * T, T, T).data);
      }),
    );
  }
}

export function checkMeta(meta: MetaTile, tileSize: number): void {
  const { z, x, y, size } = meta;
  const n = 2 ** z;
  if (![z, x, y, size].every(Number.isInteger) || z < 0 || z > MAX_SUPPORTED_ZOOM) {
    throw new BadTileError(`not a metatile: ${JSON.stringify(meta)}`);
  }
  if (size < 1 || size > n || x < 0 || y < 0 || x + size > n || y + size > n) {
    throw new BadTileError(`metatile ${z}/${x}/${y} size ${size} is outside the zoom ${z} grid`);
  }
  if (size * tileSize > MAX_META_PIXELS) {
    throw new BadTileError(`metatile size ${size} × ${tileSize} px is over the ${MAX_META_PIXELS} px limit`);
  }
}

/**
 * One render thread should not fan out into libvips' own thread pool: the
 * pool already runs one renderer per core.
 */
export function configureSharpForWorker(): void {
  sharp.concurrency(1);
  sharp.cache(false);
}

/** Renders one metatile in this thread with a fresh renderer (tests, benchmarks). Prefer a shared TileRenderer for more than one. */
export async function renderMetaTileInProcess(
  meta: MetaTile,
  options: TileRendererOptions,
): Promise<RenderedTile[]> {
  return new TileRenderer(options).render(meta);
}
