/**
 * The options of a tirex map (docs/tirex.md), checked once at start-up.
 * They can point at existing tirex files (a renderer `.conf` and map
 * `.conf`s, moved over unchanged) or give the same keys inline.
 */
import path from 'node:path';
import { ConfigError } from '../../errors.js';
import { MAX_RESTART_BACKOFF_MS, MAX_SUPPORTED_ZOOM, MAX_TIREX_PROCS, RENDER_TIMEOUT_MS, RESTART_BACKOFF_MS, TIREX_ALIVE_TIMEOUT_MS } from '../../limits.js';
import { readConf } from './conf-file.js';

/** tirex's HUP → TERM → KILL ladder for a silent backend (tirex-backend-manager's $HANGUP_TIMEOUT, $TERM_TIMEOUT). */
export const DEFAULT_HANGUP_GRACE_MS = 15_000;
export const DEFAULT_TERM_GRACE_MS = 5_000;
/** tirex's metatiles: 8×8 tiles of 256 px unless a map `.conf` says `metarowscols` / `tilesize`. */
export const TIREX_METATILE_SIZE = 8;
export const TIREX_TILE_SIZE = 256;
/** Exit code by which a backend asks its manager to disable the renderer (tirex's $EXIT_CODE_DISABLE). */
export const EXIT_CODE_DISABLE = 10;

/** Keys of a renderer `.conf` the manager uses itself; every other key goes to the backend as TIREX_BACKEND_CFG_<key>. */
const MANAGER_KEYS = new Set(['name', 'path', 'port', 'procs', 'syslog_facility', 'debug']);
const SYSLOG_FACILITIES = /^(daemon|syslog|user|local[0-7])$/;
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** One map as given inline: mosaicd writes its `.conf` for the backend. */
export interface TirexInlineMap {
  readonly name: string;
  /** The backend writes its `.meta` files here (and must be able to create folders in it). */
  readonly tiledir: string;
  /** The style the backend loads (Mapnik backend: the XML). */
  readonly mapfile?: string;
  readonly minz?: number;
  readonly maxz?: number;
  /** Further map keys for the backend (e.g. `tilesize`, `metarowscols`, `scalefactor`, `buffersize`). */
  readonly options?: Readonly<Record<string, string | number>>;
}

export interface TirexRendererOptions {
  /** A tirex renderer `.conf` (e.g. /etc/tirex/renderer/mapnik.conf): path, procs, port, syslog_facility, debug and the backend's own keys. */
  readonly rendererConfig?: string;
  /** The backend program (`path`); overrides the renderer `.conf`. */
  readonly backend?: string;
  /** TIREX_BACKEND_NAME (`name`); default the renderer `.conf`'s, else the program's file name. */
  readonly name?: string;
  /** Backend processes (`procs`); default the renderer `.conf`'s, else 1. */
  readonly procs?: number;
  /** First UDP port on 127.0.0.1 (process i listens on port + i); default a free port chosen at each start. */
  readonly port?: number;
  /** TIREX_BACKEND_CFG_<key> (plugindir, fontdir, fontdir_recurse, ...), on top of the renderer `.conf`'s keys. */
  readonly config?: Readonly<Record<string, string | number | boolean>>;
  /** tirex map `.conf` files given to the backend (TIREX_BACKEND_MAP_CONFIGS). */
  readonly mapConfigs?: readonly string[];
  /** Or the map inline (instead of mapConfigs). */
  readonly map?: TirexInlineMap;
  /** The tirex map this mosaicd map renders, when mapConfigs names several. */
  readonly mapName?: string;
  readonly syslogFacility?: string;
  /** Sets TIREX_BACKEND_DEBUG: the backends then log to stderr too, which mosaicd logs at debug level. */
  readonly debug?: boolean;
  readonly aliveTimeoutMs?: number;
  /** A render past this fails with TIMEOUT and its process is replaced. */
  readonly jobTimeoutMs?: number;
  readonly hangupGraceMs?: number;
  readonly termGraceMs?: number;
  /** Keep the `.meta` files the backend wrote (mod_tile can serve them); default: delete once cut into tiles. */
  readonly keepMetatiles?: boolean;
  /** The `prio` sent in each request (backends may log it; none is known to use it). */
  readonly prio?: number;
  /** Replacing a process that died young: at once the first time, then this, doubling (the daemon's --restart-backoff-ms). */
  readonly restartBackoffMs?: number;
  /** ... up to this (the daemon's --max-restart-backoff-ms). */
  readonly maxRestartBackoffMs?: number;
}

/** The tirex map a renderer draws, as the backend will see it. */
export interface TirexMap {
  readonly name: string;
  readonly tiledir: string;
  readonly minz: number;
  readonly maxz: number;
  /** Tile side in pixels (`tilesize`, Debian's Mapnik backend). */
  readonly tileSize: number;
  /** Tiles per metatile side (`metarowscols`); the mosaicd map's `metatile` must equal it. */
  readonly metaSize: number;
}

export interface ResolvedTirexOptions {
  readonly rendererName: string;
  readonly program: string;
  readonly procs: number;
  readonly basePort: number | undefined;
  /** TIREX_BACKEND_CFG_ keys and values. */
  readonly cfg: ReadonlyMap<string, string>;
  readonly syslogFacility: string;
  readonly debug: boolean;
  /** Existing map `.conf` files, or empty when `inlineMap` is written by the renderer. */
  readonly mapConfigs: readonly string[];
  readonly inlineMap: ReadonlyMap<string, string> | undefined;
  readonly map: TirexMap;
  readonly aliveTimeoutMs: number;
  readonly jobTimeoutMs: number;
  readonly hangupGraceMs: number;
  readonly termGraceMs: number;
  readonly keepMetatiles: boolean;
  readonly prio: number;
  readonly restartBackoffMs: number;
  readonly maxRestartBackoffMs: number;
}

function intIn(v: unknown, min: number, max: number, what: string): number {
  if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) v = Number(v);
  if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) {
    throw new ConfigError(`tirex ${what} must be an integer from ${min} to ${max}, not ${JSON.stringify(v)}`);
  }
  return v as number;
}

function mapFrom(entries: ReadonlyMap<string, string>, where: string): TirexMap {
  const name = entries.get('name');
  const tiledir = entries.get('tiledir');
  if (name === undefined || !NAME.test(name)) throw new ConfigError(`${where}: a tirex map needs a name (letters, digits, . _ -), got ${JSON.stringify(name)}`);
  if (tiledir === undefined || tiledir === '') throw new ConfigError(`${where}: tirex map "${name}" needs a tiledir`);
  const minz = intIn(entries.get('minz') ?? 0, 0, MAX_SUPPORTED_ZOOM, `map "${name}" minz`);
  const maxz = intIn(entries.get('maxz') ?? 17, minz, MAX_SUPPORTED_ZOOM, `map "${name}" maxz`);
  const tileSize = intIn(entries.get('tilesize') ?? TIREX_TILE_SIZE, 64, 1024, `map "${name}" tilesize`);
  const metaSize = intIn(entries.get('metarowscols') ?? TIREX_METATILE_SIZE, 1, 16, `map "${name}" metarowscols`);
  return { name, tiledir: path.resolve(tiledir), minz, maxz, tileSize, metaSize };
}

function inlineEntries(m: TirexInlineMap): Map<string, string> {
  if (typeof m !== 'object' || m === null) throw new ConfigError('tirex map: an object with name and tiledir');
  if (typeof m.tiledir !== 'string' || m.tiledir === '') throw new ConfigError(`tirex map ${JSON.stringify(m.name)} needs a tiledir`);
  const out = new Map<string, string>([
    ['name', String(m.name)],
    ['tiledir', path.resolve(String(m.tiledir))],
  ]);
  if (m.mapfile !== undefined) out.set('mapfile', path.resolve(String(m.mapfile)));
  if (m.minz !== undefined) out.set('minz', String(m.minz));
  if (m.maxz !== undefined) out.set('maxz', String(m.maxz));
  for (const [k, v] of Object.entries(m.options ?? {})) {
    if (out.has(k)) throw new ConfigError(`tirex map "${m.name}": "${k}" is set twice (field and options)`);
    out.set(k, String(v));
  }
  for (const [k, v] of out) {
    if (!/^[a-z0-9_]+$/.test(k) || /[\n\r]/.test(v)) throw new ConfigError(`tirex map "${m.name}" option ${JSON.stringify(k)}: a plain key and a one-line value`);
  }
  return out;
}

/** Checks and fills in the options; reads the renderer and map `.conf` files named. Throws ConfigError. */
export function resolveTirexOptions(o: TirexRendererOptions): ResolvedTirexOptions {
  const rconf = o.rendererConfig === undefined ? new Map<string, string>() : readConf(o.rendererConfig);
  const program = o.backend ?? rconf.get('path');
  if (program === undefined || program === '') throw new ConfigError('a tirex map needs its backend program (backend, or path in the rendererConfig)');
  const rendererName = o.name ?? rconf.get('name') ?? path.basename(program);
  if (!NAME.test(rendererName)) throw new ConfigError(`tirex renderer name ${JSON.stringify(rendererName)}: letters, digits, . _ - (at most 64)`);
  const procs = intIn(o.procs ?? rconf.get('procs') ?? 1, 1, MAX_TIREX_PROCS, 'procs (MAX_TIREX_PROCS)');
  const portIn = o.port ?? (rconf.has('port') ? Number(rconf.get('port')) : undefined);
  const basePort = portIn === undefined || portIn === 0 ? undefined : intIn(portIn, 1024, 65535 - procs + 1, 'port');
  const syslogFacility = o.syslogFacility ?? rconf.get('syslog_facility') ?? 'daemon';
  if (!SYSLOG_FACILITIES.test(syslogFacility)) throw new ConfigError(`tirex syslog facility must be daemon, syslog, user or local0-7, not ${JSON.stringify(syslogFacility)}`);
  const debug = o.debug ?? (rconf.has('debug') && rconf.get('debug') !== '0');

  const cfg = new Map<string, string>();
  for (const [k, v] of rconf) if (!MANAGER_KEYS.has(k)) cfg.set(k, v);
  for (const [k, v] of Object.entries(o.config ?? {})) {
    if (!/^[A-Za-z0-9_]+$/.test(k)) throw new ConfigError(`tirex renderer config key ${JSON.stringify(k)}: letters, digits and _ only`);
    cfg.set(k, typeof v === 'boolean' ? (v ? '1' : '0') : String(v));
  }

  if ((o.mapConfigs === undefined || o.mapConfigs.length === 0) === (o.map === undefined)) {
    throw new ConfigError('a tirex map needs either mapConfigs (tirex map .conf files) or map (name, tiledir, mapfile, ...), not both');
  }
  let map: TirexMap;
  let inlineMap: Map<string, string> | undefined;
  const mapConfigs = (o.mapConfigs ?? []).map((f) => path.resolve(f));
  if (o.map !== undefined) {
    inlineMap = inlineEntries(o.map);
    map = mapFrom(inlineMap, 'map');
  } else {
    const maps = mapConfigs.map((f) => mapFrom(readConf(f), f));
    const wanted = o.mapName ?? (maps.length === 1 ? maps[0]!.name : undefined);
    if (wanted === undefined) throw new ConfigError(`tirex mapConfigs name ${maps.length} maps (${maps.map((m) => m.name).join(', ')}): say which with mapName`);
    const found = maps.find((m) => m.name === wanted);
    if (found === undefined) throw new ConfigError(`tirex mapName "${wanted}" is not in mapConfigs (${maps.map((m) => m.name).join(', ')})`);
    map = found;
  }

  const aliveTimeoutMs = intIn(o.aliveTimeoutMs ?? TIREX_ALIVE_TIMEOUT_MS, 1000, 86_400_000, 'aliveTimeoutMs');
  return Object.freeze({
    rendererName,
    program: path.resolve(program),
    procs,
    basePort,
    cfg,
    syslogFacility,
    debug,
    mapConfigs,
    inlineMap,
    map,
    aliveTimeoutMs,
    jobTimeoutMs: intIn(o.jobTimeoutMs ?? RENDER_TIMEOUT_MS, 100, 86_400_000, 'jobTimeoutMs'),
    hangupGraceMs: intIn(o.hangupGraceMs ?? DEFAULT_HANGUP_GRACE_MS, 0, 600_000, 'hangupGraceMs'),
    termGraceMs: intIn(o.termGraceMs ?? DEFAULT_TERM_GRACE_MS, 0, 600_000, 'termGraceMs'),
    keepMetatiles: o.keepMetatiles ?? false,
    prio: intIn(o.prio ?? 1, 0, 1000, 'prio'),
    restartBackoffMs: intIn(o.restartBackoffMs ?? RESTART_BACKOFF_MS, 1, 3_600_000, 'restartBackoffMs'),
    maxRestartBackoffMs: intIn(o.maxRestartBackoffMs ?? MAX_RESTART_BACKOFF_MS, 1, 3_600_000, 'maxRestartBackoffMs'),
  });
}

/**
 * TIREX_BACKEND_ALIVE_TIMEOUT in seconds: tirex tells its backends 20 s less
 * than it waits itself; short test timeouts get half instead.
 */
export function backendAliveSeconds(aliveTimeoutMs: number): number {
  const s = Math.floor(aliveTimeoutMs / 1000);
  return s > 40 ? s - 20 : Math.max(1, Math.floor(s / 2));
}

/**
 * Why a mosaicd map's grid does not fit its tirex map (the backend decides
 * the metatile and tile size), or undefined. For the map set to call at
 * start-up and turn into a ConfigError.
 */
export function tirexGridProblem(spec: { readonly name: string; readonly metatile: number; readonly tileSize: number; readonly maxZoom: number }, map: TirexMap): string | undefined {
  if (spec.metatile !== map.metaSize) return `map "${spec.name}": metatile ${spec.metatile}, but its tirex backend draws ${map.metaSize}×${map.metaSize} metatiles (metarowscols): set "metatile": ${map.metaSize}`;
  if (spec.tileSize !== map.tileSize) return `map "${spec.name}": tileSize ${spec.tileSize}, but its tirex backend draws ${map.tileSize} px tiles (tilesize)`;
  if (spec.maxZoom > map.maxz) return `map "${spec.name}": maxZoom ${spec.maxZoom} is above its tirex map's maxz ${map.maxz}`;
  return undefined;
}
