/**
 * The in-process renderer: geometry → canvas → tiles → PNG. Each render
 * worker owns one; tests and benchmarks can use it directly, without threads.
 */
import { createCanvas, type Canvas } from '@napi-rs/canvas';
import sharp from 'sharp';
import type { MetaTile } from '../tile/tile-coord.js';
import { classifyTile, drawBlock, type TileKind } from './draw.js';
import { TileEncoder } from './encode.js';
import { WorldGeometry, pixelZoomOf, type ZoomGeometry } from './geometry.js';
import { checkMeta, type RenderedTile } from './meta.js';
import { LAND_RGBA, OCEAN_RGBA } from './style.js';

export interface TileRendererOptions {
  readonly tileSize: 256 | 512;
  readonly palette: boolean;
  /** The geometry to draw from (default: a private WorldGeometry that builds each level on first use). Share one between renderers in a thread. */
  readonly geometry?: WorldGeometry;
  /** See EncodeOptions.paletteEncoder (benchmarks). */
  readonly paletteEncoder?: 'builtin' | 'sharp';
}

export { MAX_META_PIXELS, checkMeta, type RenderedTile } from './meta.js';

export class TileRenderer {
  readonly tileSize: 256 | 512;
  private readonly geometry: WorldGeometry;
  private readonly encoder: TileEncoder;
  /** Row canvases by width (metatile side), reused: allocating a canvas per render costs more than drawing on it. */
  private readonly canvases = new Map<number, Canvas>();
  /**
   * Canvas read-backs so far. Each leaves a row's pixel Buffer (2 MB for
   * 8 × 256 px) for the garbage collector, in native memory that V8 does not
   * count, so it does not hurry to collect it; a render worker runs a
   * scavenge after a render that read back (render-worker.ts).
   */
  readBack = 0;

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
    const geom = this.geometry.forPixelZoom(pixelZoomOf(meta.z, T));
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

  /**
   * Draws the rows of the metatile that hold mixed tiles, one row at a time
   * (only from its first to its last mixed tile), on a canvas one tile high,
   * and encodes each mixed tile straight out of the row's pixels.
   *
   * Why rows, not the whole metatile on one canvas: memory. A 2048² canvas
   * is 16 MB, and every read-back of it costs two more 16 MB buffers inside
   * Skia/napi-rs (the surface is copied on the next draw after a read) plus
   * the 16 MB copy handed to JS, which V8 cannot see and collects late: some
   * 60–90 MB per render worker. A row canvas is 2 MB and so is its churn.
   * Each row is drawn like a one-row metatile (its geometry clipped to the
   * row plus the buffer), so rows meet as metatiles do: within
   * anti-aliasing noise of one big canvas, without seams. Rows, not single
   * tiles, so each part is still emitted about once.
   */
  private drawAndEncode(meta: MetaTile, geom: ZoomGeometry, kinds: TileKind[]): Promise<Uint8Array[]> {
    const T = this.tileSize;
    const n = meta.size;
    const width = n * T;
    const canvas = this.rowCanvas(width);
    const ctx = canvas.getContext('2d');
    const pngs: Promise<Uint8Array>[] = [];
    for (let dy = 0; dy < n; dy++) {
      let first = -1, last = -1;
      for (let dx = 0; dx < n; dx++) {
        if (kinds[dy * n + dx] !== 'mixed') continue;
        if (first < 0) first = dx;
        last = dx;
      }
      // One read of the row (Skia rasterises the recorded paths on it), then
      // each mixed tile is encoded straight out of it. Not getImageData per
      // tile: each ImageData is a native object whose pixels (outside the JS
      // heap) only a full GC frees, which a render worker's small heap
      // rarely runs — hundreds of MB piled up. The data() Buffer goes with
      // the next scavenge (see readBack).
      let pixels: Uint8Array | null = null;
      if (first >= 0) {
        drawBlock(ctx, geom, meta.z, meta.x + first, meta.y + dy, last - first + 1, 1, T);
        pixels = canvas.data();
        this.readBack++;
      }
      for (let dx = 0; dx < n; dx++) {
        const kind = kinds[dy * n + dx];
        if (kind === 'ocean') pngs.push(this.encoder.flat(OCEAN_RGBA));
        else if (kind === 'land') pngs.push(this.encoder.flat(LAND_RGBA));
        else pngs.push(this.encoder.encodeFrom(pixels!, width, (dx - first) * T, 0));
      }
    }
    return Promise.all(pngs);
  }

  /** The canvas rows are drawn on: `width` × one tile, kept for the next render. */
  private rowCanvas(width: number): Canvas {
    let canvas = this.canvases.get(width);
    if (canvas === undefined) {
      canvas = createCanvas(width, this.tileSize);
      this.canvases.set(width, canvas);
    }
    return canvas;
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
