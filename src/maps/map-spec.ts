import path from 'node:path';
import { MosaicError } from '../errors.js';
import { MAX_BUFFER_PX, MAX_MAPS, MAX_SUPPORTED_ZOOM } from '../limits.js';
import { MAX_META_PIXELS } from '../render/meta.js';
import { MAX_SCALE, type MapnikTileFormat } from '../render/mapnik/options.js';
import { resolveTirexOptions, tirexGridProblem, type ResolvedTirexOptions, type TirexInlineMap, type TirexRendererOptions } from '../render/tirex/options.js';
import { MAP_NAME } from './map-name.js';
import { checkTirexInput } from './tirex-input.js';

/** What draws a map's metatiles. */
export const RENDERER_KINDS = ['builtin', 'mapnik', 'tirex'] as const;
export type RendererKind = (typeof RENDERER_KINDS)[number];

/** The name of the map old clients get: `Z_X_Y`, `/tiles/{z}/{x}/{y}.png`, `<tiles-dir>/`. */
export const DEFAULT_MAP_NAME = 'default';

export { MAP_NAME } from './map-name.js';

/** One configured map, resolved once at start-up. */
export interface MapSpec {
  readonly name: string;
  /** The default map: answered under the old names and paths. */
  readonly isDefault: boolean;
  readonly renderer: RendererKind;
  /** mapnik: the style XML file. */
  readonly style: string | undefined;
  /** builtin: 8-bit palette PNG. */
  readonly palette: boolean;
  readonly tileSize: 256 | 512;
  readonly metatile: number;
  readonly minZoom: number;
  readonly maxZoom: number;
  readonly tilesDir: string;
  readonly layout: 'flat' | 'zxy';
  /** mapnik: the renderer's options (`serve --style` leaves them at their defaults). */
  readonly mapnik?: MapnikMapOptions;
  /** tirex: the backend and its map, checked and read (`.conf` files) at start-up. */
  readonly tirex?: ResolvedTirexOptions;
}

/** A Mapnik map's renderer options, from its `maps` entry. */
export interface MapnikMapOptions {
  /** Registered recursively on top of the system's fonts. */
  readonly fontsDir: string | undefined;
  /** Pixels drawn around a metatile; undefined: the style's `buffer-size`, else 128 (renderd's). */
  readonly bufferSize: number | undefined;
  readonly scale: number;
  readonly strict: boolean;
  readonly format: MapnikTileFormat;
}

/** Fields only a Mapnik map takes. */
const MAPNIK_FIELDS = ['fontsDir', 'bufferSize', 'scale', 'strict', 'format'] as const;

/** A map as the config file gives it (`maps`: a list of these, or an object of NAME → these without `name`). */
export interface MapInput {
  name: string;
  renderer?: RendererKind;
  style?: string;
  palette?: boolean;
  tileSize?: 256 | 512;
  metatile?: number;
  minZoom?: number;
  maxZoom?: number;
  tilesDir?: string;
  layout?: 'flat' | 'zxy';
  /** mapnik: a fonts folder, the buffer (px), Mapnik's scale factor, strict XML, the PNG format. */
  fontsDir?: string;
  bufferSize?: number;
  scale?: number;
  strict?: boolean;
  format?: MapnikTileFormat;
  /** tirex: the backend, its options and its map (docs/tirex.md). */
  tirex?: TirexMapInput;
}

/** A tirex map's `tirex` object: the renderer's options; an inline map is named after the mosaicd map unless it says. */
export type TirexMapInput = Omit<TirexRendererOptions, 'map'> & { readonly map?: Omit<TirexInlineMap, 'name'> & { readonly name?: string } };

/** The global settings a map inherits when it does not set its own. */
export interface MapDefaults {
  readonly style: string | undefined;
  readonly palette: boolean;
  readonly tileSize: 256 | 512;
  readonly metatile: number;
  readonly maxZoom: number;
  readonly tilesDir: string;
  readonly layout: 'flat' | 'zxy';
  /** tirex maps: a job's deadline and the restart backoff, unless the map's `tirex` sets its own. */
  readonly renderTimeoutMs?: number;
  readonly restartBackoffMs?: number;
  readonly maxRestartBackoffMs?: number;
}

type Check = (v: unknown) => string | undefined;
const int = (min: number, max: number): Check => (v) => (Number.isInteger(v) && (v as number) >= min && (v as number) <= max ? undefined : `an integer from ${min} to ${max}`);
const oneOf = (...values: unknown[]): Check => (v) => (values.includes(v) ? undefined : `one of ${values.map((x) => JSON.stringify(x)).join(', ')}`);
const str: Check = (v) => (typeof v === 'string' && v.length > 0 ? undefined : 'a non-empty string');

const FIELDS: Record<keyof MapInput, Check> = {
  name: (v) => (typeof v === 'string' && MAP_NAME.test(v) ? undefined : 'a letter, then up to 31 letters, digits, "_" or "-"'),
  renderer: oneOf(...RENDERER_KINDS),
  style: str,
  palette: (v) => (typeof v === 'boolean' ? undefined : 'true or false'),
  tileSize: oneOf(256, 512),
  metatile: oneOf(1, 2, 4, 8, 16),
  minZoom: int(0, MAX_SUPPORTED_ZOOM),
  maxZoom: int(0, MAX_SUPPORTED_ZOOM),
  tilesDir: str,
  layout: oneOf('flat', 'zxy'),
  fontsDir: str,
  bufferSize: (v) => (int(0, MAX_BUFFER_PX)(v) === undefined ? undefined : `an integer from 0 to ${MAX_BUFFER_PX} px (MAX_BUFFER_PX)`),
  scale: (v) => (typeof v === 'number' && v > 0 && v <= MAX_SCALE ? undefined : `a number above 0 and at most ${MAX_SCALE}`),
  strict: (v) => (typeof v === 'boolean' ? undefined : 'true or false'),
  format: oneOf('png256', 'png'),
  tirex: checkTirexInput,
};

/** The config file's `maps` as a list: `[{name, ...}]` as given, or `{NAME: {...}}` with the keys as names. */
export function mapInputList(value: unknown): unknown[] | undefined {
  if (Array.isArray(value)) return value;
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).map(([name, m]) => (typeof m === 'object' && m !== null && !Array.isArray(m) ? { name, ...m } : m));
  }
  return undefined;
}

/** Why `maps` is not valid (field names like the rest of the config), or undefined. */
export function checkMapInputs(value: unknown): string | undefined {
  const list = mapInputList(value);
  if (list === undefined) return 'a list of maps ({"name": ..., "renderer": ...}) or an object of name → map';
  if (list.length > MAX_MAPS) return `at most ${MAX_MAPS} maps (MAX_MAPS), got ${list.length}`;
  const names = new Set<string>();
  for (const [i, m] of list.entries()) {
    const at = `maps[${i}]`;
    if (typeof m !== 'object' || m === null || Array.isArray(m)) return `${at}: an object`;
    const o = m as Record<string, unknown>;
    for (const key of Object.keys(o)) {
      if (!(key in FIELDS)) return `${at}: a map without the unknown field "${key}" (fields: ${Object.keys(FIELDS).join(', ')})`;
    }
    for (const [key, check] of Object.entries(FIELDS)) {
      if (o[key] === undefined && key !== 'name') continue;
      const problem = check(o[key]);
      // `tirex` is an object: its problem comes as a path below it.
      if (problem) return key === 'tirex' ? `${at}.tirex${problem}` : `${at}.${key}: ${problem}, got ${JSON.stringify(o[key])}`;
    }
    const name = o['name'] as string;
    if (names.has(name)) return `${at}.name: unique names, "${name}" comes twice`;
    names.add(name);
    if (o['renderer'] === 'mapnik' && o['style'] === undefined && name !== DEFAULT_MAP_NAME) return `${at}: a "style" (the Mapnik XML) for renderer "mapnik"`;
    if (o['renderer'] === 'builtin' && o['style'] !== undefined) return `${at}: no "style" for renderer "builtin" (the Natural Earth map has none)`;
    const problem = rendererProblem(o, name);
    if (problem !== undefined) return `${at}: ${problem}`;
    if (typeof o['minZoom'] === 'number' && typeof o['maxZoom'] === 'number' && o['minZoom'] > o['maxZoom']) return `${at}: minZoom <= maxZoom`;
  }
  return undefined;
}

/**
 * What an entry asks of a renderer that does not take it, or undefined.
 * `renderer` may be implied: by `style` (mapnik), by `tirex`, else builtin
 * (the default map's may still come from --style: resolveMaps checks it).
 */
function rendererProblem(o: Record<string, unknown>, name: string): string | undefined {
  const kind = (o['renderer'] as RendererKind | undefined) ?? (o['style'] !== undefined ? 'mapnik' : name === DEFAULT_MAP_NAME ? undefined : 'builtin');
  if (o['tirex'] !== undefined && o['renderer'] !== 'tirex') return `"tirex" (the backend and its map) is for "renderer": "tirex"`;
  if (kind === 'tirex') {
    if (name === DEFAULT_MAP_NAME) return 'the default map cannot be a tirex map: give the tirex map a name of its own (clients ask for NAME/Z/X/Y)';
    if (o['tirex'] === undefined) return 'a "tirex" object (backend or rendererConfig, and map or mapConfigs) for renderer "tirex"';
    for (const key of ['style', 'palette'] as const) {
      if (o[key] !== undefined) return `no "${key}" for renderer "tirex" (the backend draws and encodes: its style is tirex.map.mapfile)`;
    }
  }
  if (kind !== undefined && kind !== 'mapnik') {
    const given = MAPNIK_FIELDS.filter((f) => o[f] !== undefined);
    if (given.length > 0) return `"${given.join('", "')}" ${given.length > 1 ? 'are Mapnik options' : 'is a Mapnik option'}, for renderer "mapnik" (this map's is "${kind}")`;
  }
  if (o['format'] !== undefined && o['palette'] !== undefined && (o['format'] === 'png256') !== o['palette']) {
    return `"format": ${JSON.stringify(o['format'])} and "palette": ${String(o['palette'])} disagree: set one`;
  }
  return undefined;
}

/** A tirex map's backend options, checked and read; problems as messages naming the map. */
function tirexOf(m: MapInput, defaults: MapDefaults): ResolvedTirexOptions {
  const o = m.tirex!;
  try {
    return resolveTirexOptions({
      ...(defaults.renderTimeoutMs !== undefined ? { jobTimeoutMs: defaults.renderTimeoutMs } : {}),
      ...(defaults.restartBackoffMs !== undefined ? { restartBackoffMs: defaults.restartBackoffMs } : {}),
      ...(defaults.maxRestartBackoffMs !== undefined ? { maxRestartBackoffMs: defaults.maxRestartBackoffMs } : {}),
      ...o,
      // The tirex map is named after the mosaicd map unless it says otherwise.
      ...(o.map !== undefined ? { map: { ...o.map, name: o.map.name ?? m.name } } : { map: undefined }),
    });
  } catch (err) {
    throw new Error(`map "${m.name}": ${err instanceof MosaicError ? err.message : String(err)}`);
  }
}

/**
 * Every map the daemon serves, from the validated config: the default map
 * first (today's builtin map, or a Mapnik map with `style`; a `maps` entry
 * named `default` overrides its fields), then the others. A named map's
 * tiles go under `<tilesDir>/NAME/` unless it sets its own folder. Throws
 * a message (for a ConfigError) when two maps would share a folder, a
 * metatile is over MAX_META_PIXELS, or a tirex map's options or grid do
 * not fit its backend (its `.conf` files are read here).
 */
export function resolveMaps(defaults: MapDefaults, maps: unknown): MapSpec[] {
  const inputs = (mapInputList(maps) ?? []) as MapInput[];
  const own = inputs.find((m) => m.name === DEFAULT_MAP_NAME);
  const base = (m: MapInput | undefined, isDefault: boolean, name: string): MapSpec => {
    const style = m?.style ?? (isDefault || m?.renderer === 'mapnik' ? defaults.style : undefined);
    const renderer = m?.renderer ?? (style !== undefined ? 'mapnik' : 'builtin');
    if (renderer !== 'mapnik' && m !== undefined) {
      const given = MAPNIK_FIELDS.filter((f) => m[f] !== undefined);
      if (given.length > 0) throw new Error(`map "${name}": "${given.join('", "')}" for renderer "mapnik" only (this map's is "${renderer}")`);
    }
    if (renderer === 'tirex' && (isDefault || m?.tirex === undefined)) throw new Error(`map "${name}": renderer "tirex" needs a named map with a "tirex" object`);
    const tirex = renderer === 'tirex' ? tirexOf(m!, defaults) : undefined;
    // A tirex backend decides its grid: the map's defaults follow it; what the map sets must fit it.
    let tileSize = m?.tileSize ?? defaults.tileSize;
    if (tirex !== undefined && m?.tileSize === undefined) {
      if (tirex.map.tileSize !== 256 && tirex.map.tileSize !== 512) throw new Error(`map "${name}": its tirex backend draws ${tirex.map.tileSize} px tiles (tilesize); mosaicd serves 256 or 512`);
      tileSize = tirex.map.tileSize;
    }
    const format = m?.format ?? ((m?.palette ?? defaults.palette) ? 'png256' : 'png');
    return Object.freeze({
      name,
      isDefault,
      renderer,
      style: renderer === 'mapnik' ? style : undefined,
      palette: renderer === 'mapnik' ? format === 'png256' : (m?.palette ?? defaults.palette),
      tileSize,
      metatile: m?.metatile ?? tirex?.map.metaSize ?? defaults.metatile,
      minZoom: m?.minZoom ?? tirex?.map.minz ?? 0,
      maxZoom: m?.maxZoom ?? tirex?.map.maxz ?? defaults.maxZoom,
      tilesDir: path.resolve(m?.tilesDir ?? (isDefault ? defaults.tilesDir : path.join(defaults.tilesDir, name))),
      layout: m?.layout ?? defaults.layout,
      ...(renderer === 'mapnik'
        ? {
            mapnik: Object.freeze({
              fontsDir: m?.fontsDir === undefined ? undefined : path.resolve(m.fontsDir),
              bufferSize: m?.bufferSize,
              scale: m?.scale ?? 1,
              strict: m?.strict ?? false,
              format,
            }),
          }
        : {}),
      ...(tirex !== undefined ? { tirex } : {}),
    });
  };
  const specs = [base(own, true, DEFAULT_MAP_NAME), ...inputs.filter((m) => m !== own).map((m) => base(m, false, m.name))];
  const dirs = new Map<string, string>();
  for (const s of specs) {
    if (s.renderer === 'mapnik' && s.style === undefined) throw new Error(`map "${s.name}": renderer "mapnik" needs a "style" (or --style)`);
    if (s.minZoom > s.maxZoom) throw new Error(`map "${s.name}": minZoom ${s.minZoom} is above maxZoom ${s.maxZoom}`);
    if (s.metatile * s.tileSize > MAX_META_PIXELS) throw new Error(`map "${s.name}": metatile ${s.metatile} × ${s.tileSize} px is over the ${MAX_META_PIXELS} px limit`);
    if (s.tirex !== undefined) {
      const problem = tirexGridProblem(s, s.tirex.map);
      if (problem !== undefined) throw new Error(problem);
      if (s.minZoom < s.tirex.map.minz) throw new Error(`map "${s.name}": minZoom ${s.minZoom} is below its tirex map's minz ${s.tirex.map.minz}`);
    }
    const other = dirs.get(s.tilesDir);
    if (other !== undefined) throw new Error(`maps "${other}" and "${s.name}" would share the tile folder ${s.tilesDir}`);
    dirs.set(s.tilesDir, s.name);
  }
  return specs;
}
