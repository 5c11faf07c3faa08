import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ErrorCode } from '../errors.js';
import { PRIORITY_CLASSES } from '../scheduler/priority.js';
import type { DaemonStats } from '../daemon-stats.js';
import { TIREX_RESTART_REASONS, type TirexRendererStats } from '../render/tirex/tirex-renderer.js';

/** Seconds; a metatile render takes milliseconds at low zoom and up to seconds for a dense 8×8 block. */
const RENDER_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Seconds; OCR on one camera image is tens to hundreds of milliseconds. */
const INFERENCE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The route label of an HTTP request (a fixed set, never the raw path). */
export type HttpRoute = '/tiles/{z}/{x}/{y}.png' | '/viewport' | '/metrics' | '/healthz' | '/readyz' | '/' | '/static' | 'other';

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

/**
 * The daemon's Prometheus metrics, in a Registry of their own (never the
 * global one, so two daemons in one process, as in the tests, don't clash).
 *
 * Two kinds of source:
 * - events, pushed by the daemon as they happen: observeRender(),
 *   observeInference(), countError(), countHttpRequest();
 * - the daemon's stats() (a typed DaemonStats), read at scrape time by
 *   scrape(): queue lengths, running renders, notices, connections,
 *   inference lane. Totals in stats() (notices sent, tiles answered from
 *   disk, ...) are exposed as counters set to the daemon's own running total.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly #renderSeconds: Histogram<'zoom'>;
  readonly #mapRenders: Counter;
  readonly #tilesRendered: Counter<'zoom'>;
  readonly #inferenceRequests: Counter<'model' | 'outcome'>;
  readonly #inferenceSeconds: Histogram<'model'>;
  readonly #errors: Counter<'code'>;
  readonly #httpRequests: Counter<'route' | 'status'>;
  readonly #grpcCalls: Counter<'method' | 'code'>;
  readonly #grpcInFlight: Gauge<'method'>;

  readonly #ready: Gauge;
  readonly #queueLength: Gauge<'class'>;
  /** With --queue: render jobs queued across the cluster, by class (no samples without --queue). */
  readonly #clusterQueueLength: Gauge<'class'>;
  /** tirex maps (no samples without one), by map: gauges and the renderer's own running totals. */
  readonly #tirexGauges: ReadonlyArray<{ gauge: Gauge<'map'>; get: (m: TirexRendererStats) => number }>;
  readonly #tirexMetatiles: Counter<'map' | 'outcome'>;
  readonly #tirexRestarts: Counter<'map' | 'reason'>;
  /** Gauges set from stats() at scrape time. */
  readonly #fromStats: ReadonlyArray<{ gauge: Gauge; get: StatsField }>;
  /** Running totals kept by the daemon itself (stats()), exposed as counters. */
  readonly #totals: ReadonlyArray<{ counter: Counter; get: StatsField }>;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });

    this.#renderSeconds = new Histogram({
      name: 'mosaicd_render_seconds',
      help: 'Time to render one metatile (all its tiles), by zoom',
      labelNames: ['zoom'],
      buckets: RENDER_BUCKETS,
      registers,
    });
    this.#tilesRendered = new Counter({
      name: 'mosaicd_tiles_rendered_total',
      help: 'Tiles rendered and written to disk, by zoom',
      labelNames: ['zoom'],
      registers,
    });
    this.#mapRenders = new Counter({
      name: 'mosaicd_map_renders_total',
      help: 'Metatiles rendered, by map (the default map is "default")',
      labelNames: ['map'],
      registers,
    });
    this.#inferenceRequests = new Counter({
      name: 'mosaicd_inference_requests_total',
      help: 'Inference requests finished, by model and outcome (ok or error)',
      labelNames: ['model', 'outcome'],
      registers,
    });
    this.#inferenceSeconds = new Histogram({
      name: 'mosaicd_inference_seconds',
      help: 'Time from accepting an inference request to its answer (queue wait included), by model',
      labelNames: ['model'],
      buckets: INFERENCE_BUCKETS,
      registers,
    });
    this.#errors = new Counter({
      name: 'mosaicd_errors_total',
      help: 'Errors reported to clients, by error code (docs/errors.md)',
      labelNames: ['code'],
      registers,
    });
    // Every code is listed from the start, so a dashboard sees 0 rather than no series.
    for (const code of KNOWN_CODES) this.#errors.inc({ code }, 0);
    this.#httpRequests = new Counter({
      name: 'mosaicd_http_requests_total',
      help: 'HTTP requests answered, by route and status code',
      labelNames: ['route', 'status'],
      registers,
    });

    this.#grpcCalls = new Counter({
      name: 'mosaicd_grpc_calls_total',
      help: 'gRPC calls ended, by method and status code (CANCELLED also counts calls gRPC itself ended, e.g. a message over --grpc-max-message-bytes)',
      labelNames: ['method', 'code'],
      registers,
    });
    this.#grpcInFlight = new Gauge({ name: 'mosaicd_grpc_calls_in_flight', help: 'gRPC calls open now, by method', labelNames: ['method'], registers });

    const gauge = <L extends string = string>(name: string, help: string, labelNames: L[] = []) =>
      new Gauge<L>({ name, help, labelNames, registers });
    // Every field is read through DaemonStats: renaming one there fails to compile here.
    const fromStats = (name: string, help: string, get: StatsField) => ({ gauge: gauge(name, help), get });
    this.#ready = gauge('mosaicd_ready', '1 when the daemon is ready (readyz), else 0');
    this.#queueLength = gauge('mosaicd_queue_length', 'Tile requests waiting to render, by priority class', ['class']);
    for (const cls of PRIORITY_CLASSES) this.#queueLength.set({ class: cls }, 0);
    this.#clusterQueueLength = gauge('mosaicd_cluster_queue_length', 'With --queue: metatile render jobs queued on the shared queue across every node, by priority class', ['class']);
    this.#fromStats = [
      fromStats('mosaicd_uptime_seconds', 'Seconds since the daemon started', (s) => s.uptime_s),
      fromStats('mosaicd_connections', 'Open connections on the request port (lines and frames)', (s) => s.connections),
      fromStats('mosaicd_queued_jobs', 'Metatile render jobs waiting (requests of one metatile share a job)', (s) => s.tiles.queuedJobs),
      fromStats('mosaicd_renders_running', 'Metatile renders running now', (s) => s.tiles.running),
      fromStats('mosaicd_render_workers', 'Render worker threads', (s) => s.render.workers),
      fromStats('mosaicd_render_workers_busy', 'Render worker threads drawing now', (s) => s.render.busy),
      fromStats('mosaicd_notices_pending', 'Completion notices waiting to be delivered', (s) => s.notices.pending),
      // `inference` is null in a tiles-only daemon: its gauges read 0.
      fromStats('mosaicd_inference_queue_length', 'Inference requests waiting in the inference lane', (s) => (s.inference ? s.inference.queued : 0)),
      fromStats('mosaicd_inference_running', 'Inference requests running now', (s) => (s.inference ? s.inference.running : 0)),
    ];

    const tirexGauge = (name: string, help: string, get: (m: TirexRendererStats) => number) => ({ gauge: gauge(name, help, ['map']), get });
    this.#tirexGauges = [
      tirexGauge('mosaicd_tirex_backends', 'tirex backend processes configured (procs), by map', (m) => m.procs),
      tirexGauge('mosaicd_tirex_backends_alive', 'tirex backend processes running now, by map', (m) => m.alive),
      tirexGauge('mosaicd_tirex_renders_running', 'Metatiles a tirex backend is drawing now, by map', (m) => m.running),
      tirexGauge('mosaicd_tirex_queue_length', 'Metatiles waiting for a free tirex backend process, by map', (m) => m.queued),
      tirexGauge('mosaicd_tirex_disabled', '1 when the map\'s tirex renderer is disabled (exit code 10, a program that cannot start), else 0', (m) => (m.disabled ? 1 : 0)),
    ];
    this.#tirexMetatiles = new Counter({
      name: 'mosaicd_tirex_metatiles_total',
      help: 'Metatiles a tirex backend finished, by map and outcome (rendered, failed, timeout)',
      labelNames: ['map', 'outcome'],
      registers,
    });
    this.#tirexRestarts = new Counter({
      name: 'mosaicd_tirex_backend_restarts_total',
      help: 'tirex backend processes replaced, by map and reason (exited, silent, timeout, diedBeforeReady)',
      labelNames: ['map', 'reason'],
      registers,
    });

    const total = (name: string, help: string, get: StatsField) => ({ counter: new Counter({ name, help, registers }), get });
    this.#totals = [
      total('mosaicd_notices_sent_total', 'Completion notices delivered', (s) => s.notices.sent),
      total('mosaicd_notices_retried_total', 'Completion notices sent again after a failed attempt', (s) => s.notices.retried),
      total('mosaicd_notice_failed_attempts_total', 'Failed attempts to deliver a completion notice', (s) => s.notices.failedAttempts),
      total('mosaicd_tile_requests_cached_total', 'Tile requests answered from disk without rendering', (s) => s.tiles.cached),
      total('mosaicd_tile_requests_coalesced_total', 'Tile requests that joined a render already queued or running', (s) => s.tiles.coalesced),
      total('mosaicd_tile_requests_cancelled_total', 'Queued tile requests withdrawn (cancel, client gone, shutdown)', (s) => s.tiles.cancelled),
      total('mosaicd_tile_requests_busy_total', 'Tile requests refused because their class queue was full', (s) => s.tiles.rejectedBusy),
      total('mosaicd_render_failures_total', 'Metatile renders that failed', (s) => s.tiles.failed),
      total('mosaicd_render_workers_replaced_total', 'Render workers replaced after a crash or timeout', (s) => s.render.replaced),
      total('mosaicd_inference_busy_total', 'Inference requests refused because the lane was full', (s) => s.inference?.rejectedBusy),
    ];
  }

  /** One metatile rendered: `tiles` tiles at zoom `z` in `seconds`, of `map` (a configured name, so a bounded label set). */
  observeRender(z: number, seconds: number, tiles: number, map = 'default'): void {
    const zoom = String(z);
    this.#renderSeconds.observe({ zoom }, seconds);
    this.#tilesRendered.inc({ zoom }, tiles);
    this.#mapRenders.inc({ map });
  }

  /** One inference request finished (ok) or failed, after `seconds`. */
  observeInference(model: string, seconds: number, ok: boolean): void {
    this.#inferenceRequests.inc({ model, outcome: ok ? 'ok' : 'error' });
    this.#inferenceSeconds.observe({ model }, seconds);
  }

  /** An error reported to a client. Codes outside docs/errors.md count as `OTHER` (bounded labels). */
  countError(code: string): void {
    this.#errors.inc({ code: KNOWN_CODES.has(code) ? code : 'OTHER' });
  }

  /** An HTTP request answered (the HttpServer calls this). */
  countHttpRequest(route: HttpRoute, status: number): void {
    this.#httpRequests.inc({ route, status: String(status) });
  }

  /** A gRPC call began (the gRPC server's interceptor calls this). */
  grpcCallStarted(method: string): void {
    this.#grpcInFlight.inc({ method });
  }

  /** A gRPC call ended with status `code` (a name such as OK). */
  grpcCallFinished(method: string, code: string): void {
    this.#grpcCalls.inc({ method, code });
    this.#grpcInFlight.dec({ method });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * The exposition text. `stats` is the daemon's stats() (Daemon.stats());
   * a field that is missing or not a finite number leaves its metric as it was.
   */
  async scrape(stats?: DaemonStats, ready?: boolean): Promise<string> {
    if (stats) this.#applyStats(stats);
    if (ready !== undefined) this.#ready.set(ready ? 1 : 0);
    return this.registry.metrics();
  }

  #applyStats(s: DaemonStats): void {
    for (const { gauge, get } of this.#fromStats) {
      const v = read(s, get);
      if (v !== undefined) gauge.set(v);
    }
    for (const cls of PRIORITY_CLASSES) {
      const v = read(s, (x) => x.tiles.queued[cls]);
      if (v !== undefined) this.#queueLength.set({ class: cls }, v);
      const c = s.cluster ? read(s, (x) => x.cluster?.queued[cls]) : undefined;
      if (c !== undefined) this.#clusterQueueLength.set({ class: cls }, c);
    }
    for (const { counter, get } of this.#totals) {
      const v = read(s, get);
      if (v === undefined || v < 0) continue;
      counter.reset();
      counter.inc(v);
    }
    this.#applyTirex(s);
  }

  /** Per tirex map: gauges, and the renderer's running totals as counters (set, as #totals are). */
  #applyTirex(s: DaemonStats): void {
    const maps = typeof s.tirex === 'object' && s.tirex !== null ? Object.keys(s.tirex) : [];
    if (maps.length === 0) return;
    this.#tirexMetatiles.reset();
    this.#tirexRestarts.reset();
    for (const map of maps) {
      const of = (get: (m: TirexRendererStats) => number) => read(s, (x) => get(x.tirex![map]!));
      for (const { gauge, get } of this.#tirexGauges) {
        const v = of(get);
        if (v !== undefined) gauge.set({ map }, v);
      }
      const outcomes = { rendered: of((m) => m.rendered), failed: of((m) => m.failed), timeout: of((m) => m.timedOut) };
      for (const [outcome, v] of Object.entries(outcomes)) if (v !== undefined && v >= 0) this.#tirexMetatiles.inc({ map, outcome }, v);
      for (const reason of TIREX_RESTART_REASONS) {
        const v = of((m) => m.restartReasons[reason]);
        if (v !== undefined && v >= 0) this.#tirexRestarts.inc({ map, reason }, v);
      }
    }
  }
}

/** One number of DaemonStats; undefined for "not there" (inference off). */
type StatsField = (s: DaemonStats) => number | undefined;

/**
 * A field's value, or undefined when it is not a finite number. Stats cross
 * a process boundary in tests and may arrive partial: a scrape must not fail
 * because one branch of the object is missing.
 */
function read(s: DaemonStats, get: StatsField): number | undefined {
  let v: unknown;
  try {
    v = get(s);
  } catch {
    return undefined;
  }
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}
