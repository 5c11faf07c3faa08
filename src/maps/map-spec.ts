import path from 'node:path';
import { MAX_MAPS, MAX_SUPPORTED_ZOOM } from '../limits.js';
import { MAX_META_PIXELS } from '../render/meta.js';
import { MAP_NAME } from './map-name.js';

/** What draws a map's metatiles. */
export const RENDERER_KINDS = ['builtin', 'mapnik'] as const;
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
}

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
}

/** The global settings a map inherits when it does not set its own. */
export interface MapDefaults {
  readonly style: string | undefined;
  readonly palette: boolean;
  readonly tileSize: 256 | 512;
  readonly metatile: number;
  readonly maxZoom: number;
  readonly tilesDir: string;
  readonly layout: 'flat' | 'zxy';
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
      if (problem) return `${at}.${key}: ${problem}, got ${JSON.stringify(o[key])}`;
    }
    const name = o['name'] as string;
    if (names.has(name)) return `${at}.name: unique names, "${name}" comes twice`;
    names.add(name);
    if (o['renderer'] === 'mapnik' && o['style'] === undefined && name !== DEFAULT_MAP_NAME) return `${at}: a "style" (the Mapnik XML) for renderer "mapnik"`;
    if (o['renderer'] === 'builtin' && o['style'] !== undefined) return `${at}: no "style" for renderer "builtin" (the Natural Earth map has none)`;
    if (typeof o['minZoom'] === 'number' && typeof o['maxZoom'] === 'number' && o['minZoom'] > o['maxZoom']) return `${at}: minZoom <= maxZoom`;
  }
  return undefined;
}

/**
 * Every map the daemon serves, from the validated config: the default map
 * first (today's builtin map, or a Mapnik map with `style`; a `maps` entry
 * named `default` overrides its fields), then the others. A named map's
 * tiles go under `<tilesDir>/NAME/` unless it sets its own folder. Throws
 * a message (for a ConfigError) when two maps would share a folder or a
 * metatile is over MAX_META_PIXELS.
 */
export function resolveMaps(defaults: MapDefaults, maps: unknown): MapSpec[] {
  const inputs = (mapInputList(maps) ?? []) as MapInput[];
  const own = inputs.find((m) => m.name === DEFAULT_MAP_NAME);
  const base = (m: MapInput | undefined, isDefault: boolean, name: string): MapSpec => {
    const style = m?.style ?? (isDefault || m?.renderer === 'mapnik' ? defaults.style : undefined);
    const renderer = m?.renderer ?? (style !== undefined ? 'mapnik' : 'builtin');
    return Object.freeze({
      name,
      isDefault,
      renderer,
      style: renderer === 'mapnik' ? style : undefined,
      palette: m?.palette ?? defaults.palette,
      tileSize: m?.tileSize ?? defaults.tileSize,
      metatile: m?.metatile ?? defaults.metatile,
      minZoom: m?.minZoom ?? 0,
      maxZoom: m?.maxZoom ?? defaults.maxZoom,
      tilesDir: path.resolve(m?.tilesDir ?? (isDefault ? defaults.tilesDir : path.join(defaults.tilesDir, name))),
      layout: m?.layout ?? defaults.layout,
    });
  };
  const specs = [base(own, true, DEFAULT_MAP_NAME), ...inputs.filter((m) => m !== own).map((m) => base(m, false, m.name))];
  const dirs = new Map<string, string>();
  for (const s of specs) {
    if (s.renderer === 'mapnik' && s.style === undefined) throw new Error(`map "${s.name}": renderer "mapnik" needs a "style" (or --style)`);
    if (s.minZoom > s.maxZoom) throw new Error(`map "${s.name}": minZoom ${s.minZoom} is above maxZoom ${s.maxZoom}`);
    if (s.metatile * s.tileSize > MAX_META_PIXELS) throw new Error(`map "${s.name}": metatile ${s.metatile} × ${s.tileSize} px is over the ${MAX_META_PIXELS} px limit`);
    const other = dirs.get(s.tilesDir);
    if (other !== undefined) throw new Error(`maps "${other}" and "${s.name}" would share the tile folder ${s.tilesDir}`);
    dirs.set(s.tilesDir, s.name);
  }
  return specs;
}
