/** Options of a Mapnik map, checked once when the renderer is made. */
import { ConfigError } from '../../errors.js';
import { MAX_BUFFER_PX } from '../../limits.js';

/** renderd's buffer when the style sets none: labels near a metatile edge are placed as in the neighbour. */
export const DEFAULT_BUFFER_PX = 128;
/** Largest buffer accepted (a style's `buffer-size` or the option): src/limits.ts. */
export { MAX_BUFFER_PX };
export const TILE_SIZES = [256, 512] as const;
export const MAX_SCALE = 4;

/**
 * How tiles are encoded: `png256` is an 8-bit palette PNG like renderd's
 * (`png8:m=h`), `png` truecolour (`png32`).
 */
export type MapnikTileFormat = 'png256' | 'png';

/**
 * Which PNG encoder cuts the tiles: Mapnik's own (`mapnik`, the default by
 * measurement: bench/maps.js `encoders`), or the project's palette writer on
 * Mapnik's raw pixels (`builtin`), or sharp (`sharp`). Kept selectable so the
 * bench can compare them.
 */
export type MapnikEncoder = 'mapnik' | 'builtin' | 'sharp';

export interface MapnikRendererOptions {
  /** The style XML; relative paths inside it are resolved from its folder. */
  readonly stylePath: string;
  /** A folder of fonts registered (recursively) on top of the system's fonts. */
  readonly fontsDir?: string;
  readonly tileSize?: 256 | 512;
  /** Mapnik's scale factor (symbol and text sizes), e.g. 2 for 512 px tiles drawn like 256 px ones. */
  readonly scale?: number;
  /** Pixels rendered around the metatile; default the style's `buffer-size`, else DEFAULT_BUFFER_PX. */
  readonly bufferSize?: number;
  readonly format?: MapnikTileFormat;
  readonly encoder?: MapnikEncoder;
  /** Mapnik's strict XML mode (unknown attributes are errors); renderd loads non-strict, so the default is false. */
  readonly strict?: boolean;
}

export interface ResolvedMapnikOptions {
  readonly stylePath: string;
  readonly fontsDir: string | undefined;
  readonly tileSize: 256 | 512;
  readonly scale: number;
  readonly bufferSize: number | undefined;
  readonly format: MapnikTileFormat;
  readonly encoder: MapnikEncoder;
  readonly strict: boolean;
}

export function resolveMapnikOptions(o: MapnikRendererOptions): ResolvedMapnikOptions {
  if (typeof o.stylePath !== 'string' || o.stylePath === '') throw new ConfigError('a Mapnik map needs a style XML path');
  const tileSize = o.tileSize ?? 256;
  if (!TILE_SIZES.includes(tileSize)) throw new ConfigError(`Mapnik tile size must be 256 or 512, not ${String(tileSize)}`);
  const scale = o.scale ?? 1;
  if (!(scale > 0 && scale <= MAX_SCALE)) throw new ConfigError(`Mapnik scale must be in (0, ${MAX_SCALE}], not ${String(scale)}`);
  if (o.bufferSize !== undefined) checkBuffer(o.bufferSize, 'bufferSize option');
  const format = o.format ?? 'png256';
  if (format !== 'png256' && format !== 'png') throw new ConfigError(`Mapnik tile format must be png256 or png, not ${String(format)}`);
  const encoder = o.encoder ?? 'mapnik';
  if (!['mapnik', 'builtin', 'sharp'].includes(encoder)) throw new ConfigError(`unknown Mapnik tile encoder ${String(encoder)}`);
  return { stylePath: o.stylePath, fontsDir: o.fontsDir, tileSize, scale, bufferSize: o.bufferSize, format, encoder, strict: o.strict ?? false };
}

export function checkBuffer(px: number, what: string): number {
  if (!Number.isInteger(px) || px < 0 || px > MAX_BUFFER_PX) {
    throw new ConfigError(`${what}: buffer size must be an integer 0..${MAX_BUFFER_PX} px, not ${String(px)}`);
  }
  return px;
}
