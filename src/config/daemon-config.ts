import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import {
  DEFAULT_MAX_ZOOM,
  GRPC_MAX_MESSAGE_BYTES,
  GRPC_STREAM_IN_FLIGHT,
  MAX_CAMERAS,
  IDLE_TIMEOUT_MS,
  INFERENCE_TIMEOUT_MS,
  MAX_RESTART_BACKOFF_MS,
  RECYCLE_AFTER_JOBS,
  RECYCLE_RSS_MB,
  RESTART_BACKOFF_MS,
  MAX_CONNECTIONS,
  MAX_DETECTIONS,
  MAX_FRAME_JSON_BYTES,
  MAX_INPUT_PIXELS,
  MAX_LINE_BYTES,
  MAX_PAYLOAD_BYTES,
  MAX_PENDING_NOTICES,
  MAX_PICKLE_DEPTH,
  MAX_PICKLE_INT_BYTES,
  MAX_PICKLE_ITEMS,
  MAX_PICKLE_MEMO,
  MAX_SUPPORTED_ZOOM,
  RENDER_TIMEOUT_MS,
  STOP_NOTICE_TIMEOUT_MS,
  QUEUE_STALL_MS,
} from '../limits.js';
import { checkMapInputs, type MapInput } from '../maps/map-spec.js';
import { parseQueueUrl, redactQueueUrl } from '../cluster/queue-url.js';
import { DEFAULT_INFERENCE_QUEUE_LIMIT, DEFAULT_QUEUE_LIMITS, type PriorityClass } from '../scheduler/priority.js';

/** Everything the daemon can be told, filled in. Frozen after resolveConfig(). */
export interface DaemonConfig {
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  /** Where completion notices go; undefined = the requesting peer's address when it is loopback. */
  callbackHost: string | undefined;
  /** undefined = request port + 1. */
  callbackPort: number | undefined;
  /** HTTP port (tiles, viewer, /metrics, /healthz); undefined = no HTTP. 0 picks a free port. */
  httpPort: number | undefined;
  callbackMode: 'short' | 'persistent';
  /** gRPC port (mosaicd.v1.Vision, seed 002's MainServer, health); undefined = no gRPC. 0 picks a free port. */
  grpcPort: number | undefined;
  /** undefined = `host`. */
  grpcHost: string | undefined;
  grpcMaxMessageBytes: number;
  grpcStreamInFlight: number;
  /** Cameras whose newest frame is kept for viewers. */
  maxCameras: number;
  tilesDir: string;
  /** The journal's folder (durable requests and notices); undefined = `<tilesDir>/.mosaicd-state`. */
  stateDir: string | undefined;
  /** Journal accepted line tile requests and undelivered notices (off: memory only, lost in a crash). */
  journal: boolean;
  /** Cache root (prepared geometry of the built-in map); undefined = $XDG_CACHE_HOME/mosaicd, else ~/.cache/mosaicd. */
  cacheDir: string | undefined;
  /** Load and store the built-in map's prepared geometry levels in the cache folder (off: built on every start). */
  geometryCache: boolean;
  layout: 'flat' | 'zxy';
  /** A Mapnik style XML: the default map is drawn by Mapnik instead of the builtin renderer. */
  style: string | undefined;
  /** More maps (docs/maps.md): a list, or an object of name → map. Config file only. */
  maps: MapInput[] | Record<string, Omit<MapInput, 'name'>>;
  tileSize: 256 | 512;
  palette: boolean;
  metatile: number;
  maxZoom: number;
  /** Render workers. */
  concurrency: number;
  /** Render workers as threads (shared geometry) or child processes (a native crash takes one job). */
  isolation: 'thread' | 'process';
  /** Replace a render worker after this many metatiles; 0 = never. */
  recycleAfterJobs: number;
  /** Replace a render process past this resident size, MB; 0 = never. */
  recycleRssMb: number;
  /** First delay before replacing a worker that keeps dying, ms (doubles). */
  restartBackoffMs: number;
  maxRestartBackoffMs: number;
  prefetch: boolean;
  queueLimits: Record<PriorityClass, number>;
  inferenceQueueLimit: number;
  maxLineBytes: number;
  maxFrameJsonBytes: number;
  maxPayloadBytes: number;
  maxInputPixels: number;
  /** Caps every detector model's maxDetections (boxes, and pipeline crops, per image). */
  maxDetections: number;
  maxConnections: number;
  maxPendingNotices: number;
  idleTimeoutMs: number;
  renderTimeoutMs: number;
  /** On a graceful stop, how long to keep retrying notices (and `done`) for an absent listener; 0 = forever. */
  stopNoticeTimeoutMs: number;
  inferenceTimeoutMs: number;
  /** When set, admin commands (`stop`, `dirty`, `shutdown`) need it, from any peer. */
  adminToken: string | undefined;
  /** Run the inference engine (off: a tiles-only daemon, smaller and faster to start). */
  inference: boolean;
  modelsDir: string | undefined;
  inferenceWorkers: number;
  intraOpThreads: number;
  maxBatch: number;
  maxBatchDelayMs: number;
  preload: string[];
  /** camera number → model name; `*` is the fallback. */
  cameraModels: Record<string, string>;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Port for Python multiprocessing.connection clients (pickles); undefined = off. 0 picks a free port. */
  mpPort: number | undefined;
  /** multiprocessing authkey (UTF-8); without it only loopback peers may use --mp-port. A secret: never logged. */
  mpAuthkey: string | undefined;
  /** Bounds of one pickle from a multiprocessing client. */
  pickleLimits: PickleLimitsConfig;
  /** `redis://[USER[:PASSWORD]@]HOST:PORT[/DB]`: render work goes on a queue shared by every node on that Redis (src/cluster/); undefined = the in-process scheduler. */
  queue: string | undefined;
  /** `--queue`: a dead node's job moves to another node after about this long, ms. */
  queueStallMs: number;
  /** `--queue`: prefix of every Redis key; nodes with the same URL and prefix share their queues. */
  queuePrefix: string;
  /** `--queue`: renders at once on this node; undefined = `concurrency`; 0 = this node only accepts requests. */
  queueWorkers: number | undefined;
  /** `--queue`'s Redis password (MOSAICD_QUEUE_PASSWORD or the config file; no flag, so it stays out of `ps`); replaces the URL's. Never logged. */
  queuePassword: string | undefined;
}

export interface PickleLimitsConfig {
  depth: number;
  items: number;
  memo: number;
  intBytes: number;
}

export const DEFAULT_PICKLE_LIMITS: Readonly<PickleLimitsConfig> = Object.freeze({
  depth: MAX_PICKLE_DEPTH,
  items: MAX_PICKLE_ITEMS,
  memo: MAX_PICKLE_MEMO,
  intBytes: MAX_PICKLE_INT_BYTES,
});

export const DEFAULT_CONFIG: Readonly<DaemonConfig> = Object.freeze({
  host: '127.0.0.1',
  port: 12345,
  callbackHost: undefined,
  callbackPort: undefined,
  httpPort: undefined,
  callbackMode: 'short',
  grpcPort: undefined,
  grpcHost: undefined,
  grpcMaxMessageBytes: GRPC_MAX_MESSAGE_BYTES,
  grpcStreamInFlight: GRPC_STREAM_IN_FLIGHT,
  maxCameras: MAX_CAMERAS,
  tilesDir: './tiles',
  stateDir: undefined,
  journal: true,
  cacheDir: undefined,
  geometryCache: true,
  layout: 'flat',
  style: undefined,
  maps: [],
  tileSize: 256,
  palette: true,
  metatile: 8,
  maxZoom: DEFAULT_MAX_ZOOM,
  concurrency: os.availableParallelism(),
  isolation: 'thread',
  recycleAfterJobs: RECYCLE_AFTER_JOBS,
  recycleRssMb: RECYCLE_RSS_MB,
  restartBackoffMs: RESTART_BACKOFF_MS,
  maxRestartBackoffMs: MAX_RESTART_BACKOFF_MS,
  prefetch: false,
  queueLimits: { ...DEFAULT_QUEUE_LIMITS },
  inferenceQueueLimit: DEFAULT_INFERENCE_QUEUE_LIMIT,
  maxLineBytes: MAX_LINE_BYTES,
  maxFrameJsonBytes: MAX_FRAME_JSON_BYTES,
  maxPayloadBytes: MAX_PAYLOAD_BYTES,
  maxInputPixels: MAX_INPUT_PIXELS,
  maxDetections: MAX_DETECTIONS,
  maxConnections: MAX_CONNECTIONS,
  maxPendingNotices: MAX_PENDING_NOTICES,
  idleTimeoutMs: IDLE_TIMEOUT_MS,
  renderTimeoutMs: RENDER_TIMEOUT_MS,
  stopNoticeTimeoutMs: STOP_NOTICE_TIMEOUT_MS,
  inferenceTimeoutMs: INFERENCE_TIMEOUT_MS,
  adminToken: undefined,
  inference: true,
  modelsDir: undefined,
  // Measured on 2 cores (see the inference bench): one worker per core with one
  // ORT thread each gave the best throughput; batching recognition crops on
  // CPU costs the same per crop, so it is off unless asked for.
  inferenceWorkers: Math.max(1, Math.min(4, os.availableParallelism())),
  intraOpThreads: 1,
  maxBatch: 1,
  maxBatchDelayMs: 50,
  preload: [],
  cameraModels: { '*': 'ocr' },
  logLevel: 'info',
  mpPort: undefined,
  mpAuthkey: undefined,
  pickleLimits: { ...DEFAULT_PICKLE_LIMITS },
  queue: undefined,
  queueStallMs: QUEUE_STALL_MS,
  queuePrefix: 'mosaicd',
  queueWorkers: undefined,
  queuePassword: undefined,
});

type Check = (value: unknown) => string | undefined;

const int = (min: number, max: number): Check => (v) =>
  Number.isInteger(v) && (v as number) >= min && (v as number) <= max ? undefined : `an integer from ${min} to ${max}`;
const oneOf = (...values: unknown[]): Check => (v) =>
  values.includes(v) ? undefined : `one of ${values.map((x) => JSON.stringify(x)).join(', ')}`;
const str: Check = (v) => (typeof v === 'string' && v.length > 0 ? undefined : 'a non-empty string');
const optStr: Check = (v) => (v === undefined ? undefined : str(v));
const bool: Check = (v) => (typeof v === 'boolean' ? undefined : 'true or false');

const CHECKS: Record<keyof DaemonConfig, Check> = {
  host: str,
  port: int(0, 65535),
  callbackHost: optStr,
  callbackPort: (v) => (v === undefined ? undefined : int(1, 65535)(v)),
  httpPort: (v) => (v === undefined ? undefined : int(0, 65535)(v)),
  callbackMode: oneOf('short', 'persistent'),
  grpcPort: (v) => (v === undefined ? undefined : int(0, 65535)(v)),
  grpcHost: optStr,
  grpcMaxMessageBytes: int(1024, 2 * 1024 * 1024 * 1024 - 1),
  grpcStreamInFlight: int(1, 100_000),
  maxCameras: int(1, 1_000_000),
  tilesDir: str,
  stateDir: optStr,
  journal: bool,
  cacheDir: optStr,
  geometryCache: bool,
  layout: oneOf('flat', 'zxy'),
  style: optStr,
  maps: (v) => {
    const problem = checkMapInputs(v);
    return problem === undefined ? undefined : `a list of maps (docs/maps.md): ${problem}`;
  },
  tileSize: oneOf(256, 512),
  palette: bool,
  metatile: oneOf(1, 2, 4, 8, 16),
  maxZoom: int(0, MAX_SUPPORTED_ZOOM),
  concurrency: int(1, 256),
  isolation: oneOf('thread', 'process'),
  recycleAfterJobs: int(0, 1_000_000_000),
  recycleRssMb: int(0, 1024 * 1024),
  restartBackoffMs: int(1, 3600 * 1000),
  maxRestartBackoffMs: int(1, 24 * 3600 * 1000),
  prefetch: bool,
  queueLimits: (v) => {
    if (typeof v !== 'object' || v === null) return 'an object of class → limit';
    for (const [k, n] of Object.entries(v)) {
      if (!(k in DEFAULT_QUEUE_LIMITS)) return `keys among ${Object.keys(DEFAULT_QUEUE_LIMITS).join(', ')} (got ${k})`;
      if (int(1, 10_000_000)(n)) return `${k}: an integer from 1 to 10000000`;
    }
    return undefined;
  },
  inferenceQueueLimit: int(1, 1_000_000),
  maxLineBytes: int(16, 16 * 1024 * 1024),
  maxFrameJsonBytes: int(64, 1024 * 1024 * 1024),
  maxPayloadBytes: int(1, 2 * 1024 * 1024 * 1024),
  maxInputPixels: int(1, 1_000_000_000),
  maxDetections: int(1, 100_000),
  maxConnections: int(1, 1_000_000),
  maxPendingNotices: int(1, 100_000_000),
  idleTimeoutMs: int(0, 24 * 3600 * 1000),
  renderTimeoutMs: int(1, 24 * 3600 * 1000),
  stopNoticeTimeoutMs: int(0, 7 * 24 * 3600 * 1000),
  inferenceTimeoutMs: int(1, 24 * 3600 * 1000),
  adminToken: optStr,
  inference: bool,
  modelsDir: optStr,
  inferenceWorkers: int(1, 64),
  intraOpThreads: int(0, 64),
  maxBatch: int(1, 256),
  maxBatchDelayMs: int(0, 10_000),
  preload: (v) => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? undefined : 'an array of model names'),
  cameraModels: (v) =>
    typeof v === 'object' && v !== null && Object.entries(v).every(([k, x]) => (k === '*' || /^\d+$/.test(k)) && typeof x === 'string' && x !== '')
      ? undefined
      : 'an object of camera number (or "*") → model name',
  logLevel: oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
  mpPort: (v) => (v === undefined ? undefined : int(0, 65535)(v)),
  mpAuthkey: optStr,
  pickleLimits: (v) => {
    if (typeof v !== 'object' || v === null) return 'an object of depth, items, memo, intBytes';
    for (const [k, n] of Object.entries(v)) {
      if (!(k in DEFAULT_PICKLE_LIMITS)) return `keys among ${Object.keys(DEFAULT_PICKLE_LIMITS).join(', ')} (got ${k})`;
      if (int(1, 100_000_000)(n)) return `${k}: an integer from 1 to 100000000`;
    }
    return undefined;
  },
  queue: (v) => {
    if (v === undefined) return undefined;
    if (typeof v !== 'string') return 'redis://HOST:PORT or redis://HOST:PORT/DB';
    try {
      parseQueueUrl(v);
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  },
  queueStallMs: int(100, 3600 * 1000),
  queueWorkers: (v) => (v === undefined ? undefined : int(0, 256)(v)),
  queuePrefix: (v) => (typeof v === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(v) ? undefined : 'letters, digits, _ . - (1 to 64)'),
  queuePassword: optStr,
};

/** What callers may pass: any subset, with per-class queue limits as a subset too. */
export type DaemonConfigInput = Partial<Omit<DaemonConfig, 'queueLimits' | 'pickleLimits'>> & {
  queueLimits?: Partial<Record<PriorityClass, number>>;
  pickleLimits?: Partial<PickleLimitsConfig>;
};

/**
 * Fills defaults, validates every field once (the message names the field,
 * what it expects and what it got) and freezes the result.
 */
export function resolveConfig(input: DaemonConfigInput, source = 'options'): Readonly<DaemonConfig> {
  const merged: Record<string, unknown> = { ...DEFAULT_CONFIG };
  for (const [key, value] of Object.entries(input)) {
    if (!(key in CHECKS)) throw new ConfigError(`${source}: unknown field "${key}"`);
    if (value === undefined) continue;
    merged[key] =
      key === 'queueLimits' ? { ...DEFAULT_QUEUE_LIMITS, ...(value as object) }
      : key === 'pickleLimits' ? { ...DEFAULT_PICKLE_LIMITS, ...(value as object) }
      : value;
  }
  for (const [key, check] of Object.entries(CHECKS)) {
    const problem = check(merged[key]);
    if (problem) {
      throw new ConfigError(`${source}: "${key}" must be ${problem}; got ${shownValue(key, merged[key])}`);
    }
  }
  return Object.freeze(merged as unknown as DaemonConfig);
}

/** A field's value as an error message may echo it: secrets hidden, a queue URL's password too. */
function shownValue(key: string, value: unknown): string {
  if (key === 'queuePassword' || key === 'adminToken' || key === 'mpAuthkey') return value === undefined ? 'nothing' : '"***"';
  if (key === 'queue' && typeof value === 'string') return JSON.stringify(redactQueueUrl(value));
  return JSON.stringify(value);
}

/** The folder of the journal: --state-dir, else `.mosaicd-state` inside the tiles folder. */
export function stateDirOf(config: Pick<DaemonConfig, 'stateDir' | 'tilesDir'>): string {
  return config.stateDir ?? path.join(config.tilesDir, '.mosaicd-state');
}

/** The geometry cache's root: --cache-dir, else $XDG_CACHE_HOME/mosaicd, else ~/.cache/mosaicd; undefined with --no-geometry-cache. */
export function geometryCacheDirOf(config: Pick<DaemonConfig, 'cacheDir' | 'geometryCache'>, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (!config.geometryCache) return undefined;
  if (config.cacheDir !== undefined) return config.cacheDir;
  const xdg = env['XDG_CACHE_HOME'];
  // The XDG spec: a relative value is invalid and ignored.
  return path.join(xdg !== undefined && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.cache'), 'mosaicd');
}

/**
 * A `MOSAICD_*` boolean: `true`/`false` or `1`/`0` (any case). Anything else
 * is refused, naming the variable: `MOSAICD_PREFETCH=yes` must not quietly mean false.
 */
export function parseEnvBoolean(name: string, raw: string): boolean {
  const value = raw.trim().toLowerCase();
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new ConfigError(`environment variable ${name} must be true, false, 1 or 0; got ${JSON.stringify(raw)}`);
}

/** A `MOSAICD_*` number: decimal digits only, so `""`, `0x10` or `1e3` cannot become 0 or a surprise. */
export function parseEnvNumber(name: string, raw: string): number {
  const value = raw.trim();
  if (!/^-?\d+(\.\d+)?$/.test(value)) {
    throw new ConfigError(`environment variable ${name} must be a number; got ${JSON.stringify(raw)}`);
  }
  return Number(value);
}
