/**
 * Renders a user's Mapnik style (XML) into tiles. One metatile is drawn as
 * one image, with a buffer around it so labels and symbols are placed once
 * and are never cut at tile or metatile edges; the image is then cut into
 * tiles. A Mapnik Map renders one image at a time, so jobs are serialised;
 * run several renderers in separate processes for parallelism (a native
 * crash in Mapnik takes its process down, so it must not be the daemon's).
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, ProcessingError, messageOf } from '../../errors.js';
import { tilesOfMeta, type MetaTile } from '../../tile/tile-coord.js';
import { checkMeta, type RenderedTile } from '../meta.js';
import { encodePalettePng } from '../png-palette.js';
import { metaExtent } from './extent.js';
import { loadMapnik, type MapnikImage, type MapnikImporter, type MapnikMap, type MapnikModule } from './mapnik-api.js';
import { DEFAULT_BUFFER_PX, checkBuffer, resolveMapnikOptions, type MapnikRendererOptions, type ResolvedMapnikOptions } from './options.js';
import type { Renderer } from './renderer.js';

export interface MapnikRendererDeps {
  /** How @mapnik/mapnik is imported (tests inject a failing one). */
  readonly importer?: MapnikImporter;
}

/** Mapnik's encoder names for the two tile formats (png256 = renderd's default). */
const MAPNIK_FORMAT = { png256: 'png8:m=h', png: 'png32' } as const;

/** Solid tiles are encoded once per colour; few colours are ever solid (sea, land). */
const SOLID_CACHE_LIMIT = 64;

export interface MapnikRenderer extends Renderer {
  readonly options: ResolvedMapnikOptions;
  /** The buffer in use, px: the option, else the style's `buffer-size`, else DEFAULT_BUFFER_PX. */
  readonly bufferSize: number;
  /** Mapnik's version, for logs and bench reports. */
  readonly mapnikVersion: string;
  /**
   * What loaded but will not draw as written, for the log: font faces the
   * style names that are not registered (non-strict Mapnik then silently
   * drops those labels; strict mode fails the load instead).
   */
  readonly warnings: readonly string[];
}

/**
 * Loads the style and returns a renderer. Fails with RENDERER_UNAVAILABLE
 * when @mapnik/mapnik is missing, CONFIG_ERROR (naming the file and Mapnik's
 * error, or the datasource plugins the style needs but this Mapnik lacks)
 * when the style does not load.
 */
export async function createMapnikRenderer(options: MapnikRendererOptions, deps: MapnikRendererDeps = {}): Promise<MapnikRenderer> {
  const o = resolveMapnikOptions(options);
  const mapnik = await loadMapnik(deps.importer);
  mapnik.register_system_fonts();
  if (o.fontsDir !== undefined) mapnik.register_fonts(path.resolve(o.fontsDir), { recurse: true });

  const stylePath = path.resolve(o.stylePath);
  const xml = await readStyle(stylePath);
  const lacking = datasourceTypes(xml).filter((t) => !mapnik.datasources().includes(t));
  if (lacking.length > 0) {
    throw new ConfigError(
      `Mapnik style ${stylePath} needs the datasource plugin${lacking.length > 1 ? 's' : ''} ${lacking.join(', ')}, ` +
        `which this Mapnik (${mapnik.versions.mapnik}) lacks; it has: ${mapnik.datasources().join(', ')}`,
    );
  }
  const map = new mapnik.Map(o.tileSize, o.tileSize);
  try {
    await new Promise<void>((resolve, reject) =>
      map.load(stylePath, { strict: o.strict, base: path.dirname(stylePath) }, (err) => (err ? reject(err) : resolve())),
    );
  } catch (err) {
    throw new ConfigError(`Mapnik style ${stylePath} does not load: ${messageOf(err)}`);
  }
  const known = new Set(mapnik.fonts());
  const missingFaces = fontFaces(xml).filter((f) => !known.has(f));
  const warnings = missingFaces.length > 0 ? [`font face${missingFaces.length > 1 ? 's' : ''} not found (labels using ${missingFaces.length > 1 ? 'them' : 'it'} are not drawn): ${missingFaces.join(', ')}`] : [];
  const bufferSize = o.bufferSize ?? (map.bufferSize > 0 ? checkBuffer(map.bufferSize, `${stylePath} buffer-size`) : DEFAULT_BUFFER_PX);
  map.bufferSize = bufferSize;
  return new MapnikMetaRenderer(mapnik, map, o, bufferSize, warnings);
}

async function readStyle(file: string): Promise<string> {
  try {
    if (!(await stat(file)).isFile()) throw new Error('not a file');
    return await readFile(file, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : messageOf(err);
    throw new ConfigError(`Mapnik style ${file} cannot be read: ${reason}`);
  }
}

/** The datasource `type` parameters a style names (plain or CDATA), e.g. ['geojson', 'postgis']. */
export function datasourceTypes(xml: string): string[] {
  const re = /<Parameter\s+name\s*=\s*["']type["']\s*>\s*(?:<!\[CDATA\[)?\s*([A-Za-z0-9_-]+)/g;
  return [...new Set([...xml.matchAll(re)].map((m) => m[1]!))];
}

/** The font faces a style names (`face-name="..."`, on symbolizers and in FontSets), once each. */
export function fontFaces(xml: string): string[] {
  return [...new Set([...xml.matchAll(/face-name\s*=\s*(?:"([^"]*)"|'([^']*)')/g)].map((m) => (m[1] ?? m[2]!).replace(/&amp;/g, '&')))];
}

class MapnikMetaRenderer implements MapnikRenderer {
  readonly mapnikVersion: string;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly solid = new Map<number, Promise<Uint8Array>>();
  /**
   * One image per metatile side (a handful: 256 px at z0 up to the full
   * metatile), reused: V8 does not see Mapnik's pixel buffers, so fresh
   * 16 MB images per render pile up until a GC that nothing prompts.
   */
  private readonly images = new Map<number, MapnikImage>();
  private closed = false;

  constructor(
    private readonly mapnik: MapnikModule,
    private readonly map: MapnikMap,
    readonly options: ResolvedMapnikOptions,
    readonly bufferSize: number,
    readonly warnings: readonly string[],
  ) {
    this.mapnikVersion = mapnik.versions.mapnik;
  }

  renderMetaTile(meta: MetaTile): Promise<RenderedTile[]> {
    if (this.closed) return Promise.reject(new ProcessingError('the Mapnik renderer is closed'));
    try {
      checkMeta(meta, this.options.tileSize);
    } catch (err) {
      return Promise.reject(err);
    }
    // One Map draws one image at a time: queue behind the job in progress.
    const job = this.queue.then(() => this.render(meta));
    this.queue = job.catch(() => undefined);
    return job;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.queue;
  }

  private async render(meta: MetaTile): Promise<RenderedTile[]> {
    const { tileSize, scale } = this.options;
    const px = meta.size * tileSize;
    let image = this.images.get(px);
    if (image === undefined) this.images.set(px, (image = new this.mapnik.Image(px, px)));
    else image.clearSync();
    try {
      this.map.resize(px, px);
      this.map.extent = metaExtent(meta);
      this.map.bufferSize = this.bufferSize;
      await new Promise<void>((resolve, reject) =>
        this.map.render(image, { scale, buffer_size: this.bufferSize }, (err) => (err ? reject(err) : resolve())),
      );
    } catch (err) {
      throw new ProcessingError(`Mapnik could not render metatile ${meta.z}/${meta.x}/${meta.y}: ${messageOf(err)}`, { cause: err });
    }
    return this.cut(image, meta);
  }

  private async cut(image: MapnikImage, meta: MetaTile): Promise<RenderedTile[]> {
    const ts = this.options.tileSize;
    const raw = this.options.encoder === 'mapnik' ? undefined : demultiplied(image);
    const width = image.width();
    return Promise.all(
      tilesOfMeta(meta).map(async (t) => {
        const left = (t.x - meta.x) * ts, top = (t.y - meta.y) * ts;
        const view = image.view(left, top, ts, ts);
        let png: Uint8Array;
        if (view.isSolidSync()) png = await this.solidTile(view.getPixel(0, 0), () => this.encodeTile(image, raw, width, left, top));
        else png = await this.encodeTile(image, raw, width, left, top);
        return { x: t.x, y: t.y, png };
      }),
    );
  }

  /** The cached PNG of a tile of one colour (the colour as Mapnik's packed RGBA pixel). */
  private solidTile(key: number, encode: () => Promise<Uint8Array>): Promise<Uint8Array> {
    let png = this.solid.get(key);
    if (png === undefined) {
      if (this.solid.size >= SOLID_CACHE_LIMIT) this.solid.clear();
      png = encode();
      this.solid.set(key, png);
      png.catch(() => this.solid.delete(key));
    }
    return png;
  }

  private async encodeTile(image: MapnikImage, raw: Buffer | undefined, width: number, left: number, top: number): Promise<Uint8Array> {
    const ts = this.options.tileSize;
    const palette = this.options.format === 'png256';
    if (raw === undefined) {
      const view = image.view(left, top, ts, ts);
      return new Promise((resolve, reject) => view.encode(MAPNIK_FORMAT[this.options.format], (err, png) => (err ? reject(err) : resolve(png))));
    }
    if (this.options.encoder === 'builtin' && palette) {
      const start = 4 * (top * width + left);
      return encodePalettePng(raw.subarray(start, start + 4 * ((ts - 1) * width + ts)), ts, ts, { stride: width });
    }
    // sharp (libvips) is loaded only when chosen: it adds tens of MB to every render process.
    const { default: sharp } = await import('sharp');
    return sharp(raw, { raw: { width, height: image.height(), channels: 4 } })
      .extract({ left, top, width: ts, height: ts })
      .png(palette ? { palette: true, effort: 1, dither: 0 } : { compressionLevel: 6, adaptiveFiltering: false })
      .toBuffer();
  }
}

/** The image's RGBA bytes, straight (not premultiplied) alpha. */
function demultiplied(image: MapnikImage): Buffer {
  if (image.premultiplied()) image.demultiplySync();
  return image.data();
}
