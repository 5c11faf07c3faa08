/**
 * The shape of a map's `tirex` object in the config file (docs/tirex.md):
 * known keys, each of its type. Ranges and the `.conf` files it names are
 * checked at start-up by resolveTirexOptions; this catches typos and wrong
 * types when the config is read, with the field's path.
 */
import type { TirexInlineMap, TirexRendererOptions } from '../render/tirex/options.js';

type Check = (v: unknown) => string | undefined;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str: Check = (v) => (typeof v === 'string' && v.length > 0 ? undefined : 'a non-empty string');
const int: Check = (v) => (Number.isInteger(v) ? undefined : 'an integer');
const bool: Check = (v) => (typeof v === 'boolean' ? undefined : 'true or false');
/** Values written into a `.conf` or an environment variable: one line each. */
const scalar = (kinds: readonly string[]): Check => (v) =>
  kinds.includes(typeof v) && !/[\n\r]/.test(String(v)) ? undefined : `a one-line ${kinds.join(' or ')}`;
/** Nested: problems as a path (`.key: ...`). */
const scalars = (kinds: readonly string[]): Check => (v) => {
  if (!isObject(v)) return `: an object of key → ${kinds.join(' or ')}`;
  for (const [k, x] of Object.entries(v)) {
    const problem = scalar(kinds)(x);
    if (problem !== undefined) return `.${k}: ${problem}, got ${JSON.stringify(x)?.slice(0, 80)}`;
  }
  return undefined;
};
/** Most map `.conf` files one tirex map may name (tirex setups have a handful). */
const MAX_MAP_CONFIGS = 64;

const MAP_FIELDS: Record<keyof TirexInlineMap, Check> = {
  name: str,
  tiledir: str,
  mapfile: str,
  minz: int,
  maxz: int,
  options: scalars(['string', 'number']),
};

/** Problems as a path and a message: `: an object`, `.procs: an integer, got "x"`, `.map.tiledir: required`. */
function fields(v: unknown, checks: Record<string, Check | ((v: unknown) => string | undefined)>, required: readonly string[], nested: readonly string[] = []): string | undefined {
  if (!isObject(v)) return ': an object';
  for (const key of Object.keys(v)) {
    if (!(key in checks)) return `: no field "${key}" (fields: ${Object.keys(checks).join(', ')})`;
  }
  for (const key of required) if (v[key] === undefined) return `.${key}: required`;
  for (const [key, check] of Object.entries(checks)) {
    if (v[key] === undefined) continue;
    const problem = check(v[key]);
    if (problem === undefined) continue;
    return nested.includes(key) ? `.${key}${problem}` : `.${key}: ${problem}, got ${JSON.stringify(v[key])?.slice(0, 80)}`;
  }
  return undefined;
}

const FIELDS: Record<keyof TirexRendererOptions, Check> = {
  rendererConfig: str,
  backend: str,
  name: str,
  procs: int,
  port: int,
  config: scalars(['string', 'number', 'boolean']),
  mapConfigs: (v) => (Array.isArray(v) && v.length > 0 && v.length <= MAX_MAP_CONFIGS && v.every((f) => str(f) === undefined) ? undefined : `a list of 1 to ${MAX_MAP_CONFIGS} file names`),
  map: (v) => fields(v, MAP_FIELDS, ['tiledir'], ['options']),
  mapName: str,
  syslogFacility: str,
  debug: bool,
  aliveTimeoutMs: int,
  jobTimeoutMs: int,
  hangupGraceMs: int,
  termGraceMs: int,
  keepMetatiles: bool,
  prio: int,
  restartBackoffMs: int,
  maxRestartBackoffMs: int,
};

/**
 * Why a `tirex` object is not valid, as a path below it and a message
 * (`.procs: an integer, got "x"`, `: an object ...`), or undefined.
 */
export function checkTirexInput(v: unknown): string | undefined {
  const problem = fields(v, FIELDS, [], ['config', 'map']);
  if (problem !== undefined) return problem === ': an object' ? ': an object (backend or rendererConfig, and map or mapConfigs)' : problem;
  const o = v as Record<string, unknown>;
  if (o['backend'] === undefined && o['rendererConfig'] === undefined) return ': a "backend" (the program) or a "rendererConfig" (a tirex renderer .conf naming it)';
  if ((o['map'] === undefined) === (o['mapConfigs'] === undefined)) return ': either "map" (name, tiledir, mapfile, ...) or "mapConfigs" (tirex map .conf files), one of the two';
  return undefined;
}
