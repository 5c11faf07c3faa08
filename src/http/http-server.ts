import { once } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrorCode, ProtocolError, codeOf, messageOf } from '../errors.js';
import type { DaemonStats } from '../daemon-stats.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import { MAX_SUPPORTED_ZOOM } from '../limits.js';
import type { TileCoord } from '../tile/tile-coord.js';
import type { Viewport } from '../tile/viewport.js';
import { HttpClients } from './http-clients.js';
import type { HttpExchange, Route } from './http-exchange.js';
import type { ViewerMap } from './viewer.js';
import { Metrics, type HttpRoute } from './metrics.js';
import { healthRoute, readyRoute } from './routes/health.js';
import { metricsRoute } from './routes/metrics.js';
import { tilesRoute } from './routes/tiles.js';
import { viewportRoute } from './routes/viewport.js';
import { staticRoute, viewerPageRoute } from './routes/viewer.js';
import { StaticAssets } from './static-assets.js';

export { CLIENT_COOKIE, CLIENT_HEADER, HTTP_CLIENT_PREFIX } from './http-clients.js';

/** What the HTTP side needs from the daemon (src/http/daemon-backend.ts builds it from a Daemon). */
export interface HttpBackend {
  /** Validated coordinates (of the default map, or the one named); throws a MosaicError with code BAD_TILE or UNKNOWN_MAP. */
  coord(z: number, x: number, y: number, map?: string): TileCoord;
  /** Interactive priority; coalesces with line requests; resolves when the file is on disk. */
  requestTile(tile: TileCoord, clientId: string, signal: AbortSignal): Promise<unknown>;
  readTile(tile: TileCoord): Promise<Buffer | undefined>;
  statTile(tile: TileCoord): Promise<{ size: number; mtimeMs: number } | undefined>;
  /** Throws BAD_TILE on a viewport outside the grid. */
  setViewport(clientId: string, v: Viewport): void;
  /** The daemon's stats (Daemon.stats()). */
  stats(): DaemonStats;
  ready(): boolean;
  /**
   * Optional: forget a client (its viewport and queued requests). Called for
   * HTTP clients idle longer than `clientIdleMs`, so page loads, each with a
   * new random id, don't pile up viewports in the scheduler.
   */
  forgetClient?(clientId: string): void;
}

export interface HttpServerOptions {
  backend: HttpBackend;
  /** The daemon's metrics; a fresh Metrics when absent. */
  metrics?: Metrics;
  /** 0 picks a free port. */
  port: number;
  /** @default '127.0.0.1' */
  host?: string;
  log?: Logger;
  /** Tile size the viewer lays out (the daemon's --tile-size). @default 256 */
  tileSize?: number;
  /** Highest zoom the viewer offers; found with backend.coord() when absent. */
  maxZoom?: number;
  /** The maps the viewer offers, the default first; absent: the default map alone (tileSize, maxZoom). */
  maps?: readonly ViewerMap[];
  /** `Cache-Control: public, max-age=N` on tiles. Tiles can be re-rendered (`dirty`), so keep it short. @default 60 */
  tileMaxAgeSeconds?: number;
  /** An HTTP client (viewer page) unseen this long is forgotten (backend.forgetClient). @default 600000 */
  clientIdleMs?: number;
  /** At most this many HTTP clients are remembered; the least recently seen is forgotten first. @default 10000 */
  maxClients?: number;
}

/**
 * The HTTP side of mosaicd (off unless --http-port is set): tiles for web
 * maps, a viewer page, viewport hints, Prometheus metrics, health checks.
 * Plain node:http: a few routes do not need a framework. This class only
 * listens, dispatches to the routes (src/http/routes/) and applies what
 * every route shares: the method check, error answers, request metrics.
 */
export class HttpServer {
  readonly metrics: Metrics;
  readonly #backend: HttpBackend;
  readonly #log: Logger;
  readonly #port: number;
  readonly #host: string;
  readonly #viewer: { tileSize: number; maxZoom: number | undefined; maps: readonly ViewerMap[] | undefined };
  readonly #server: http.Server;
  readonly #assets = new StaticAssets();
  readonly #clients: HttpClients;
  /** First match wins. */
  readonly #routes: readonly Route[];
  #listening: Promise<AddressInfo> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: HttpServerOptions) {
    const backend = options.backend;
    this.#backend = backend;
    this.#log = options.log ?? silentLogger();
    this.#port = options.port;
    this.#host = options.host ?? '127.0.0.1';
    this.#viewer = { tileSize: options.tileSize ?? 256, maxZoom: options.maxZoom, maps: options.maps };
    this.metrics = options.metrics ?? new Metrics();
    this.#clients = new HttpClients({
      idleMs: options.clientIdleMs ?? 10 * 60_000,
      max: options.maxClients ?? 10_000,
      forget: backend.forgetClient ? (id) => backend.forgetClient?.(id) : undefined,
      log: this.#log,
    });
    this.#routes = [
      tilesRoute({ backend, clients: this.#clients, maxAgeSeconds: options.tileMaxAgeSeconds ?? 60 }),
      viewerPageRoute(this.#assets),
      viewportRoute({ backend, clients: this.#clients }),
      metricsRoute(this.metrics, backend),
      healthRoute(),
      readyRoute(() => backend.ready()),
      staticRoute(this.#assets),
    ];
    this.#server = http.createServer((req, res) => this.#handle(req, res));
  }

  /** Loads the viewer assets and starts listening. Resolves with the bound address. */
  listen(): Promise<AddressInfo> {
    if (this.#closing) return Promise.reject(new Error('the HTTP server is closed'));
    this.#listening ??= (async () => {
      const maxZoom = this.#viewer.maxZoom ?? this.#probeMaxZoom();
      const tileSize = this.#viewer.tileSize;
      await this.#assets.load({ maxZoom, tileSize, maps: this.#viewer.maps ?? [{ name: 'default', tileSize, minZoom: 0, maxZoom }] });
      this.#server.listen({ port: this.#port, host: this.#host });
      await once(this.#server, 'listening'); // rejects on 'error' (EADDRINUSE, EACCES)
      this.#server.on('error', (err) => this.#log.error({ err: messageOf(err) }, 'HTTP server error'));
      this.#clients.startSweeping();
      const addr = this.address();
      this.#log.info({ host: addr.address, port: addr.port }, 'HTTP listening');
      return addr;
    })();
    return this.#listening;
  }

  address(): AddressInfo {
    const addr = this.#server.address();
    if (addr === null || typeof addr === 'string') throw new Error('the HTTP server is not listening');
    return addr;
  }

  /** Stops listening and destroys every connection (idle keep-alive ones and requests still waiting). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#clients.stopSweeping();
      await this.#listening?.catch(() => undefined);
      if (!this.#server.listening) return;
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      this.#server.closeAllConnections();
      await closed;
    })();
    return this.#closing;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const method = req.method ?? 'GET';
    const x: HttpExchange = { req, res, path, query: new URLSearchParams(q < 0 ? '' : url.slice(q + 1)), head: method === 'HEAD' };
    let label: HttpRoute = 'other';
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.once('close', () => {
      // 499 (nginx's "client closed request"): the client left before an answer was sent.
      this.metrics.countHttpRequest(label, res.headersSent ? res.statusCode : 499);
    });

    for (const route of this.#routes) {
      const params = route.match(path);
      if (params === undefined) continue;
      label = route.label;
      if (!route.allow.split(', ').includes(method)) {
        res.setHeader('Allow', route.allow);
        this.#error(x, 405, new ProtocolError(`${method} is not allowed on ${route.label} (allowed: ${route.allow})`));
        return;
      }
      Promise.resolve()
        .then(() => route.handle(x, params))
        .catch((err: unknown) => this.#fail(x, err, route.label));
      return;
    }
    // Not counted in mosaicd_errors_total (scanners, favicons); mosaicd_http_requests_total{route="other"} has them.
    this.#error(x, 404, new ProtocolError(`no such page: ${path.slice(0, 100)}`), false);
  }

  /** The highest z for which backend.coord(z, 0, 0) is valid (the daemon's max zoom). */
  #probeMaxZoom(): number {
    let max = 0;
    for (let z = 0; z <= MAX_SUPPORTED_ZOOM; z++) {
      try {
        this.#backend.coord(z, 0, 0);
        max = z;
      } catch {
        break;
      }
    }
    return max;
  }

  #fail(x: HttpExchange, err: unknown, route: HttpRoute): void {
    const res = x.res;
    if (res.destroyed) return; // the client left; a cancelled render owes nobody an answer
    const code = codeOf(err);
    const status = statusOf(code, route);
    if (status >= 500 && code === ErrorCode.PROCESSING_ERROR) {
      this.#log.error({ err: messageOf(err), route }, 'HTTP request failed');
    }
    if (code === ErrorCode.BUSY) res.setHeader('Retry-After', '1');
    else if (code === ErrorCode.SHUTTING_DOWN) res.setHeader('Retry-After', '5');
    if (code === ErrorCode.TOO_LARGE) res.setHeader('Connection', 'close');
    this.#error(x, status, err);
  }

  /** `{code, message}` as JSON, counted in mosaicd_errors_total unless `count` is false. */
  #error(x: HttpExchange, status: number, err: unknown, count = true): void {
    const res = x.res;
    const code = codeOf(err);
    if (count) this.metrics.countError(code);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    for (const h of ['ETag', 'Last-Modified', 'Content-Encoding', 'Vary']) res.removeHeader(h);
    const body = `${JSON.stringify({ code, message: messageOf(err) })}\n`;
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Length', Buffer.byteLength(body));
    res.writeHead(status).end(x.head ? undefined : body);
  }
}

/** HTTP status for an error code (docs/http.md). */
export function statusOf(code: string, route?: HttpRoute): number {
  switch (code) {
    case ErrorCode.PROTOCOL_ERROR:
      return 400;
    case ErrorCode.BAD_TILE:
    case ErrorCode.UNKNOWN_MAP:
      // A tile outside the grid (or of no map) does not exist; a viewport outside it is a bad request body.
      return route === '/viewport' ? 400 : 404;
    case ErrorCode.UNAUTHORIZED:
      return 403;
    case ErrorCode.TOO_LARGE:
      return 413;
    case ErrorCode.BUSY:
    case ErrorCode.SHUTTING_DOWN:
    case ErrorCode.CANCELLED:
      return 503;
    case ErrorCode.TIMEOUT:
      return 504;
    default:
      return 500;
  }
}
