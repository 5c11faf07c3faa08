import { readFileSync } from 'node:fs';
import type { Argv } from 'yargs';
import { ConfigError } from '../errors.js';
import { DEFAULT_CONFIG, parseEnvBoolean, parseEnvNumber, resolveConfig, type DaemonConfig } from '../config/daemon-config.js';

/** Flags shared by every command that talks to a running daemon; resolve them with clientConfigFromArgv. */
export function connectionOptions<T>(y: Argv<T>) {
  return y
    .option('host', { type: 'string', describe: `daemon host (default: --config, MOSAICD_HOST, else ${DEFAULT_CONFIG.host})` })
    .option('port', { type: 'number', describe: `daemon request port (default: --config, MOSAICD_PORT, else ${DEFAULT_CONFIG.port})` })
    .option('config', { type: 'string', describe: 'the JSON config file serve reads: the port, host, admin token and tile settings come from it' });
}

/** The daemon's flags, as data: name → yargs option. Defaults live in DEFAULT_CONFIG, shown in the help. */
export const DAEMON_FLAGS = {
  config: { type: 'string', describe: 'JSON config file with any of the fields below (camelCase)' },
  host: { type: 'string', describe: `address to listen on (default ${DEFAULT_CONFIG.host})` },
  port: { type: 'number', describe: `request port, lines and frames (default ${DEFAULT_CONFIG.port}; 0 = any free port)` },
  'callback-host': { type: 'string', describe: 'completion listener host (default: the requesting peer, if on loopback)' },
  'callback-port': { type: 'number', describe: 'completion listener port (default: request port + 1)' },
  'http-port': { type: 'number', describe: 'HTTP port: tiles, viewer at /, /metrics, /healthz, /readyz (default off; 0 = any free port)' },
  'grpc-port': { type: 'number', describe: 'gRPC port: mosaicd.v1.Vision, MainServer (seed 002), health (default off; 0 = any free port)' },
  'grpc-host': { type: 'string', describe: 'address for the gRPC port (default: --host)' },
  'grpc-max-message-bytes': { type: 'number', describe: `largest gRPC message in or out (default ${DEFAULT_CONFIG.grpcMaxMessageBytes})` },
  'grpc-stream-in-flight': { type: 'number', describe: `frames answered at once per gRPC stream before it stops being read (default ${DEFAULT_CONFIG.grpcStreamInFlight})` },
  'max-cameras': { type: 'number', describe: `cameras whose newest frame is kept for gRPC viewers (default ${DEFAULT_CONFIG.maxCameras})` },
  'callback-mode': { choices: ['short', 'persistent'], describe: 'one connection per notice, or one kept open (default short)' },
  'tiles-dir': { type: 'string', describe: `where tiles are written (default ${DEFAULT_CONFIG.tilesDir})` },
  'state-dir': { type: 'string', describe: 'the journal of accepted line tile requests and undelivered notices, kept across a crash (default: <tiles-dir>/.mosaicd-state)' },
  journal: { type: 'boolean', describe: 'journal requests and notices in --state-dir (default true; --no-journal keeps them in memory only, lost in a crash)' },
  'cache-dir': { type: 'string', describe: 'cache folder: the built-in map\'s prepared geometry, so a start loads it instead of building it (default $XDG_CACHE_HOME/mosaicd, else ~/.cache/mosaicd)' },
  'geometry-cache': { type: 'boolean', describe: 'load and store prepared geometry in --cache-dir (default true; --no-geometry-cache builds it on every start)' },
  layout: { choices: ['flat', 'zxy'], describe: 'tile file layout: Z_X_Y.png or Z/X/Y.png (default flat)' },
  style: { type: 'string', describe: 'Mapnik style XML: the default map is drawn by Mapnik (default: the builtin Natural Earth map); more maps with "maps" in --config (docs/maps.md)' },
  'tile-size': { type: 'number', choices: [256, 512], describe: 'tile size in pixels (default 256)' },
  palette: { type: 'boolean', describe: '8-bit palette PNG like Mapnik png256 (default true; --no-palette for truecolour)' },
  metatile: { type: 'number', describe: 'render N×N tiles at once: 1, 2, 4, 8 or 16 (default 8)' },
  'max-zoom': { type: 'number', describe: `highest zoom rendered (default ${DEFAULT_CONFIG.maxZoom})` },
  concurrency: { type: 'number', describe: `render worker threads (default: cores, here ${DEFAULT_CONFIG.concurrency})` },
  isolation: { choices: ['thread', 'process'], describe: 'built-in renderer workers: threads sharing geometry, or child processes so a native crash fails one job (default thread)' },
  'recycle-after-jobs': { type: 'number', describe: `replace a render worker after this many metatiles (default ${DEFAULT_CONFIG.recycleAfterJobs}; 0 = never)` },
  'recycle-rss-mb': { type: 'number', describe: `replace a render process past this resident size, MB (default ${DEFAULT_CONFIG.recycleRssMb}; 0 = never; processes only)` },
  'restart-backoff-ms': { type: 'number', describe: `first delay before replacing a worker that keeps dying, doubling (default ${DEFAULT_CONFIG.restartBackoffMs})` },
  'max-restart-backoff-ms': { type: 'number', describe: `longest such delay (default ${DEFAULT_CONFIG.maxRestartBackoffMs})` },
  prefetch: { type: 'boolean', describe: 'render the ring around each viewport and the zooms above and below (default false)' },
  'queue-limit': { type: 'array', string: true, describe: 'queued tiles per class, e.g. --queue-limit bulk=100000 visible=1000 (defaults in docs/operations.md)' },
  'camera-model': { type: 'array', string: true, describe: 'camera → model routes, e.g. --camera-model 3=text-direction "*=ocr" (default "*=ocr")' },
  'inference-queue-limit': { type: 'number', describe: `queued inference requests before BUSY (default ${DEFAULT_CONFIG.inferenceQueueLimit})` },
  'admin-token': { type: 'string', describe: 'require this token for stop, dirty, expire, bulk ... force and shutdown from any peer (default: those are accepted from loopback peers only)' },
  inference: { type: 'boolean', describe: 'run the inference engine (default true; --no-inference for a tiles-only daemon)' },
  'models-dir': { type: 'string', describe: 'model repository (default: the models/ folder shipped with mosaicd)' },
  'inference-workers': { type: 'number', describe: `inference worker threads (default ${DEFAULT_CONFIG.inferenceWorkers})` },
  'intra-op-threads': { type: 'number', describe: `ONNX Runtime threads per worker (default ${DEFAULT_CONFIG.intraOpThreads})` },
  'max-batch': { type: 'number', describe: `recognition crops batched across requests (default ${DEFAULT_CONFIG.maxBatch}; 1 = off)` },
  'max-batch-delay-ms': { type: 'number', describe: `longest wait to fill a batch (default ${DEFAULT_CONFIG.maxBatchDelayMs} ms)` },
  preload: { type: 'array', string: true, describe: 'models to load at start (readiness waits for them)' },
  'max-line-bytes': { type: 'number', describe: `longest request line (default ${DEFAULT_CONFIG.maxLineBytes})` },
  'max-frame-json-bytes': { type: 'number', describe: `largest framed JSON (default ${DEFAULT_CONFIG.maxFrameJsonBytes})` },
  'max-payload-bytes': { type: 'number', describe: `largest framed image payload (default ${DEFAULT_CONFIG.maxPayloadBytes})` },
  'max-input-pixels': { type: 'number', describe: `largest decoded image (default ${DEFAULT_CONFIG.maxInputPixels})` },
  'max-detections': { type: 'number', describe: `most boxes a detector returns per image (default ${DEFAULT_CONFIG.maxDetections})` },
  'max-connections': { type: 'number', describe: `simultaneous connections (default ${DEFAULT_CONFIG.maxConnections})` },
  'max-pending-notices': { type: 'number', describe: `notices kept for an absent listener (default ${DEFAULT_CONFIG.maxPendingNotices})` },
  'idle-timeout-ms': { type: 'number', describe: `close a connection that completes no request and gets no answer for this long; bytes of an unfinished line or frame do not count (default ${DEFAULT_CONFIG.idleTimeoutMs}; 0 = never)` },
  'stop-notice-timeout-ms': { type: 'number', describe: `on stop, keep retrying notices for an absent listener this long, 0 = forever (default ${DEFAULT_CONFIG.stopNoticeTimeoutMs})` },
  'render-timeout-ms': { type: 'number', describe: `fail a render past this (default ${DEFAULT_CONFIG.renderTimeoutMs})` },
  'inference-timeout-ms': { type: 'number', describe: `fail an inference past this (default ${DEFAULT_CONFIG.inferenceTimeoutMs})` },
  'mp-port': { type: 'number', describe: 'port for Python multiprocessing.connection clients sending pickles (default off; 0 = any free port); on --host' },
  'mp-authkey': { type: 'string', describe: 'multiprocessing authkey for --mp-port (default none: then only loopback peers may connect)' },
  'pickle-limit': { type: 'array', string: true, describe: 'bounds of one pickle on --mp-port, e.g. --pickle-limit depth=100 items=100000 memo=10000 intBytes=64' },
  queue: { type: 'string', describe: 'redis://[USER[:PASSWORD]@]HOST:PORT[/DB]: share render work with every node on that Redis (BullMQ; docs/scale-out.md); the password better in MOSAICD_QUEUE_PASSWORD (a flag shows in ps). Default off: the in-process scheduler' },
  'queue-stall-ms': { type: 'number', describe: `with --queue: a killed node's job moves to another node after about this long (default ${DEFAULT_CONFIG.queueStallMs})` },
  'queue-prefix': { type: 'string', describe: `with --queue: prefix of the Redis keys; nodes sharing URL and prefix share queues (default ${DEFAULT_CONFIG.queuePrefix})` },
  'queue-workers': { type: 'number', describe: 'with --queue: renders at once on this node (default: --concurrency; 0 = this node accepts requests and renders nothing)' },
  'log-level': { choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], describe: 'log level (default info)' },
} as const;

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** `key=value` pairs (from a flag or a comma-separated variable) → an object; numbers where asked. */
function pairs(flag: string, items: readonly string[], numeric: boolean, variable?: string): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    const example = flag === 'queue-limit' ? 'bulk=100000' : flag === 'pickle-limit' ? 'depth=100' : '3=text-direction';
    if (eq <= 0) throw new ConfigError(`${variable ?? `--${flag}`} takes key=value pairs, e.g. ${example}; got ${JSON.stringify(item)}`);
    const key = item.slice(0, eq);
    const value = item.slice(eq + 1);
    out[key] = !numeric ? value : variable ? parseEnvNumber(`${variable} (${key})`, value) : Number(value);
  }
  return out;
}

/** Flags whose config field is an object built from key=value pairs. */
const PAIR_FLAGS: Record<string, { field: keyof DaemonConfig; numeric: boolean }> = {
  'queue-limit': { field: 'queueLimits', numeric: true },
  'camera-model': { field: 'cameraModels', numeric: false },
  'pickle-limit': { field: 'pickleLimits', numeric: true },
};

/** Secrets with no flag (a flag's value shows in `ps`): the environment or the config file only. */
const ENV_ONLY: Record<string, keyof DaemonConfig> = {
  MOSAICD_QUEUE_PASSWORD: 'queuePassword',
};

/**
 * The config fields that can come from the environment as MOSAICD_<SNAKE_CASE>.
 * Each variable is parsed strictly and validated on its own, so an error names it.
 */
function fromEnv(env: NodeJS.ProcessEnv): Partial<DaemonConfig> {
  const out: Record<string, unknown> = {};
  for (const flag of Object.keys(DAEMON_FLAGS)) {
    if (flag === 'config') continue;
    const name = `MOSAICD_${flag.replace(/-/g, '_').toUpperCase()}`;
    const raw = env[name];
    if (raw === undefined) continue;
    const spec = DAEMON_FLAGS[flag as keyof typeof DAEMON_FLAGS] as { type?: string };
    const pair = PAIR_FLAGS[flag];
    const field = pair ? pair.field : camel(flag);
    out[field] = pair
      ? pairs(flag, raw.split(',').filter(Boolean), pair.numeric, name)
      : spec.type === 'number' || flag === 'tile-size' ? parseEnvNumber(name, raw)
      : spec.type === 'boolean' ? parseEnvBoolean(name, raw)
      : spec.type === 'array' ? raw.split(',').filter(Boolean)
      : raw;
    resolveConfig({ [field]: out[field] }, `environment variable ${name}`);
  }
  for (const [name, field] of Object.entries(ENV_ONLY)) {
    const raw = env[name];
    if (raw === undefined) continue;
    out[field] = raw;
    resolveConfig({ [field]: raw }, `environment variable ${name}`);
  }
  return out as Partial<DaemonConfig>;
}

function fromFile(path: string): Partial<DaemonConfig> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('the root must be an object');
    return parsed as Partial<DaemonConfig>;
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Precedence: flags > environment (MOSAICD_*) > config file > defaults. Validated and frozen. */
export function configFromArgv(argv: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): Readonly<DaemonConfig> {
  const flags: Record<string, unknown> = {};
  for (const flag of Object.keys(DAEMON_FLAGS)) {
    if (flag === 'config') continue;
    if (argv[flag] === undefined) continue;
    const pair = PAIR_FLAGS[flag];
    if (pair) flags[pair.field] = pairs(flag, argv[flag] as string[], pair.numeric);
    else flags[camel(flag)] = argv[flag];
  }
  const file = typeof argv.config === 'string' ? fromFile(argv.config) : {};
  resolveConfig(file, `config file ${String(argv.config)}`);
  const envConfig = fromEnv(env);
  return resolveConfig({ ...file, ...envConfig, ...flags }, 'flags');
}
