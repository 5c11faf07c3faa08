import { codeOf } from '../errors.js';
import type { DaemonStats } from '../daemon-stats.js';
import type { FramedRequest } from '../protocol/framed-request.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import type { TileApi } from '../service/tile-api.js';
import type { TileStore } from '../store/tile-store.js';
import type { MetaTile } from '../tile/tile-coord.js';
import type { FramedRequestHandler } from '../transport/framed-session.js';
import type { HttpBackend } from './http-server.js';
import type { Metrics } from './metrics.js';

/** The parts of a Daemon the HTTP side uses. */
export interface DaemonPieces {
  tiles: Pick<TileApi, 'coord' | 'request' | 'setViewport'>;
  store: Pick<TileStore, 'read' | 'stat'>;
  /** For forgetting idle HTTP clients (their viewports); optional. */
  scheduler?: Pick<Scheduler, 'forgetClient'>;
  stats: () => DaemonStats;
  ready: () => boolean;
}

/**
 * The HttpBackend of a daemon. Tile requests run at `interactive` priority
 * (the scheduler raises them to `visible` when they are inside the client's
 * viewport) and coalesce with line and framed requests for the same metatile.
 */
export function daemonBackend(d: DaemonPieces): HttpBackend {
  const scheduler = d.scheduler;
  return {
    coord: (z, x, y, map) => d.tiles.coord(z, x, y, map),
    requestTile: (tile, clientId, signal) => d.tiles.request(tile, { cls: 'interactive', clientId, signal }),
    readTile: (tile) => d.store.read(tile),
    statTile: (tile) => d.store.stat(tile),
    setViewport: (clientId, v) => d.tiles.setViewport(clientId, v),
    stats: () => d.stats(),
    ready: () => d.ready(),
    ...(scheduler ? { forgetClient: (clientId: string) => scheduler.forgetClient(clientId) } : {}),
  };
}

/**
 * Feeds `mosaicd_render_seconds`, `mosaicd_tiles_rendered_total` and
 * `mosaicd_map_renders_total` from the
 * scheduler's `rendered` event (one per metatile). Returns the unsubscribe.
 */
export function observeRenders(
  scheduler: Pick<Scheduler, 'on' | 'off'>,
  metrics: Pick<Metrics, 'observeRender'>,
): () => void {
  const onRendered = (meta: MetaTile, ms: number) => metrics.observeRender(meta.z, ms / 1000, meta.size * meta.size, meta.map);
  scheduler.on('rendered', onRendered);
  return () => void scheduler.off('rendered', onRendered);
}

/**
 * Wraps the framed request handler: every error answered counts in
 * `mosaicd_errors_total`, and each `process` request of a known model feeds
 * `mosaicd_inference_requests_total` / `mosaicd_inference_seconds` (model
 * names from clients are not used as labels unless the engine has them).
 */
export function instrumentFramed(
  handle: FramedRequestHandler,
  metrics: Pick<Metrics, 'observeInference' | 'countError'>,
  model: { modelFor(camera: number, requested: string | undefined): string; known(name: string): boolean },
): FramedRequestHandler {
  return async (request: FramedRequest, ctx) => {
    const started = performance.now();
    const name = request.type === 'process' ? model.modelFor(request.cameraNumber, request.model) : undefined;
    const observe = (ok: boolean) => {
      if (name !== undefined && model.known(name)) metrics.observeInference(name, (performance.now() - started) / 1000, ok);
    };
    try {
      const reply = await handle(request, ctx);
      observe(true);
      return reply;
    } catch (err) {
      observe(false);
      metrics.countError(codeOf(err));
      throw err;
    }
  };
}
