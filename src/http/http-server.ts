import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { ErrorCode, ProcessingError, ProtocolError, TooLargeError, codeOf, messageOf } from '../errors.js';
import type { DaemonStats } from '../daemon-stats.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import { MAX_SUPPORTED_ZOOM } from '../limits.js';
import type { TileCoord } from '../tile/tile-coord.js';
import type { Viewport } from '../tile/viewport.js';
import { parseViewportJson } from '../protocol/viewport-syntax.js';
import { Metrics, type HttpRoute } from './metrics.js';
import { VIEWER_CSS, VIEWER_JS, viewerHtml } from './viewer.js';

/** What the HTTP side needs from the daemon (src/http/daemon-backend.ts builds it from a Daemon). */
export interface HttpBackend {
  /** Validated coordinates; throws a MosaicError with code BAD_TILE. */
  coord(z: number, x: number, y: number): TileCoord;
  /** Interactive priority; coalesces with line requests; resolves when the file is on disk. */
  requestTile(tile: TileCoord, clientId: string, signal: AbortSignal): Promise<unknown>;
  readTile(tile: TileCoord): Promise<Buffer | undefined>;
  statTile(tile: TileCoord): Promise<{ size: number; mtimeMs: number } | undefined>;
  /** Throws BAD_TILE on a viewport outside the grid. */
  setViewport(clientId: string, v: Viewport): void;
  /** The daemon's stats object (Daemon.stats()). */
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
  /** `Cache-Control: public, max-age=N` on tiles. Tiles can be re-rendered (`dirty`), so keep it short. @default 60 */
  tileMaxAgeSeconds?: number;
  /** An HTTP client (viewer page) unseen this long is forgotten (backend.forgetClient). @default 600000 */
  clientIdleMs?: number;
  /** At most this many HTTP clients are remembered; the least recently seen is forgotten first. @default 10000 */
  maxClients?: number;
}

/** Client ids from the page, header or cookie: short, URL- and label-safe. */
const CLIENT_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** Prefix of HTTP client ids in the scheduler, apart from line and framed clients. */
export const HTTP_CLIENT_PREFIX = 'http:';
export const CLIENT_HEADER = 'x-mosaicd-client';
export const CLIENT_COOKIE = 'mosaicd_client';

const TILE_PATH = /^\/tiles\/([^/]+)\/([^/]+)\/([^/]+)\.png$/;
const INTEGER = /^-?\d{1,20}$/;
const MAX_VIEWPORT_BODY = 4096;

interface StaticAsset {
  readonly body: Buffer;
  readonly gzip: Buffer;
  readonly type: string;
  readonly etag: string;
}

/**
 * The HTTP side of mosaicd (off unless --http-port is set): tiles for web
 * maps, a viewer page, viewport hints, Prometheus metrics, health checks.
 * Plain node:http: six routes do not need a framework.
 */
export class HttpServer {
  readonly #o: Required<Pick<HttpServerOptions, 'port' | 'host' | 'tileMaxAgeSeconds' | 'clientIdleMs' | 'maxClients' | 'tileSize'>> & {
    backend: HttpBackend;
    log: Logger;
    maxZoom: number | undefined;
  };
  readonly metrics: Metrics;
  readonly #server: http.Server;
  readonly #assets = new Map<string, StaticAsset>();
  /** HTTP client id → last seen (ms), least recently seen first. */
  readonly #clients = new Map<string, number>();
  /** HTTP client id → tile requests in progress (never forgotten while > 0). */
  readonly #inFlight = new Map<string, number>();
  #sweep: NodeJS.Timeout | undefined;
  #listening: Promise<AddressInfo> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: HttpServerOptions) {
    this.#o = {
      backend: options.backend,
      log: options.log ?? silentLogger(),
      port: options.port,
      host: options.host ?? '127.0.0.1',
      tileSize: options.tileSize ?? 256,
      maxZoom: options.maxZoom,
      tileMaxAgeSeconds: options.tileMaxAgeSeconds ?? 60,
      clientIdleMs: options.clientIdleMs ?? 10 * 60_000,
      maxClients: options.maxClients ?? 10_000,
    };
    this.metrics = options.metrics ?? new Metrics();
    this.#server = http.createServer((req, res) => this.#handle(req, res));
  }

  /** Loads the viewer assets and starts listening. Resolves with the bound address. */
  listen(): Promise<AddressInfo> {
    if (this.#closing) return Promise.reject(new Error('the HTTP server is closed'));
    this.#listening ??= (async () => {
      await this.#loadAssets();
      this.#server.listen({ port: this.#o.port, host: this.#o.host });
      await once(this.#server, 'listening'); // rejects on 'error' (EADDRINUSE, EACCES)
      this.#server.on('error', (err) => this.#o.log.error({ err: messageOf(err) }, 'HTTP server error'));
      const every = Math.max(1000, Math.min(60_000, this.#o.clientIdleMs / 2));
      this.#sweep = setInterval(() => this.#forgetIdleClients(), every).unref();
      const addr = this.address();
      this.#o.log.info({ host: addr.address, port: addr.port }, 'HTTP listening');
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
      clearInterval(this.#sweep);
      await this.#listening?.catch(() => undefined);
      if (!this.#server.listening) return;
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      this.#server.closeAllConnections();
      await closed;
    })();
    return this.#closing;
  }

  // ---- routing ---------------------------------------------------------

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
    const method = req.method ?? 'GET';
    const head = method === 'HEAD';
    let route: HttpRoute = 'other';
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.once('close', () => {
      // 499 (nginx's "client closed request"): the client left before an answer was sent.
      this.metrics.countHttpRequest(route, res.headersSent ? res.statusCode : 499);
    });

    const run = (r: HttpRoute, allowed: string, fn: () => void | Promise<void>): void => {
      route = r;
      if (!allowed.split(', ').includes(method)) {
        res.setHeader('Allow', allowed);
        this.#error(res, 405, new ProtocolError(`${method} is not allowed on ${r} (allowed: ${allowed})`), head);
        return;
      }
      Promise.resolve()
        .then(fn)
        .catch((err: unknown) => this.#fail(res, err, head, r));
    };

    const tile = TILE_PATH.exec(path);
    if (tile) return run('/tiles/{z}/{x}/{y}.png', 'GET, HEAD', () => this.#tile(req, res, query, tile, head));
    switch (path) {
      case '/':
        return run('/', 'GET, HEAD', () => this.#asset(req, res, '/', head));
      case '/viewport':
        return run('/viewport', 'POST', () => this.#viewport(req, res, query));
      case '/metrics':
        return run('/metrics', 'GET, HEAD', () => this.#metrics(res, head));
      case '/healthz':
        return run('/healthz', 'GET, HEAD', () => this.#text(res, 200, 'ok\n', head));
      case '/readyz':
        return run('/readyz', 'GET, HEAD', () =>
          this.#o.backend.ready() ? this.#text(res, 200, 'ready\n', head) : this.#text(res, 503, 'not ready\n', head),
        );
    }
    if (path.startsWith('/static/') && this.#assets.has(path)) {
      return run('/static', 'GET, HEAD', () => this.#asset(req, res, path, head));
    }
    // Not counted in mosaicd_errors_total (scanners, favicons); mosaicd_http_requests_total{route="other"} has them.
    this.#error(res, 404, new ProtocolError(`no such page: ${path.slice(0, 100)}`), head, false);
  }

  // ---- tiles -------------------------------------------------------------

  async #tile(req: IncomingMessage, res: ServerResponse, query: URLSearchParams, m: RegExpExecArray, head: boolean): Promise<void> {
    const parts = [m[1]!, m[2]!, m[3]!];
    if (!parts.every((p) => INTEGER.test(p))) {
      throw new ProtocolError(`tile coordinates must be integers: /tiles/${parts.join('/').slice(0, 80)}.png`);
    }
    const b = this.#o.backend;
    const tile = b.coord(Number(parts[0]), Number(parts[1]), Number(parts[2]));
    let st = await b.statTile(tile);
    if (st === undefined) {
      if (res.destroyed) return; // gone already: don't queue a render for nobody
      const clientId = this.#clientOf(req, query, undefined);
      const gone = new AbortController();
      const onClose = () => {
        if (!res.writableEnded) gone.abort();
      };
      res.once('close', onClose);
      this.#inFlight.set(clientId, (this.#inFlight.get(clientId) ?? 0) + 1);
      try {
        await b.requestTile(tile, clientId, gone.signal);
      } finally {
        res.off('close', onClose);
        const n = (this.#inFlight.get(clientId) ?? 1) - 1;
        if (n > 0) this.#inFlight.set(clientId, n);
        else this.#inFlight.delete(clientId);
        this.#touch(clientId);
      }
      if (res.destroyed) return; // the client left while the tile rendered
      st = await b.statTile(tile);
      if (st === undefined) throw new ProcessingError(`tile ${tile.z}/${tile.x}/${tile.y} was rendered but is not on disk`);
    }

    const etag = `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
    res.setHeader('ETag', etag);
    res.setHeader('Last-Modified', new Date(st.mtimeMs).toUTCString());
    res.setHeader('Cache-Control', `public, max-age=${this.#o.tileMaxAgeSeconds}`);
    // Tiles are public images: let maps on other origins draw them on a canvas (OpenLayers, MapLibre).
    res.setHeader('Access-Control-Allow-Origin', '*');
    if (notModified(req, etag, st.mtimeMs)) {
      res.writeHead(304).end();
      return;
    }
    res.setHeader('Content-Type', 'image/png');
    if (head) {
      res.setHeader('Content-Length', st.size);
      res.writeHead(200).end();
      return;
    }
    const png = await b.readTile(tile);
    if (png === undefined) throw new ProcessingError(`tile ${tile.z}/${tile.x}/${tile.y} disappeared from disk`);
    res.setHeader('Content-Length', png.byteLength);
    res.writeHead(200).end(png);
  }

  // ---- viewport ------------------------------------------------------------

  async #viewport(req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
    const body = await readBody(req, MAX_VIEWPORT_BODY);
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch (err) {
      throw new ProtocolError(`the body is not JSON: ${messageOf(err)}`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ProtocolError('the body must be a JSON object');
    const o = json as Record<string, unknown>;
    const parsed = parseViewportJson(o);
    if (!parsed.ok) throw new ProtocolError(parsed.reason);
    let given: string | undefined;
    if (o['client_id'] !== undefined) {
      if (typeof o['client_id'] !== 'string' || !CLIENT_ID.test(o['client_id'])) {
        throw new ProtocolError('"client_id" must be 1 to 64 letters, digits, "_" or "-"');
      }
      given = o['client_id'];
    }
    const clientId = this.#clientOf(req, query, given);
    this.#o.backend.setViewport(clientId, parsed.viewport); // BAD_TILE → 400 (statusOf)
    this.#touch(clientId);
    res.setHeader('Cache-Control', 'no-store');
    res.writeHead(204).end();
  }

  /**
   * The scheduler client id of a request: `http:` + the id from the body,
   * `?c=`, the X-Mosaicd-Client header or the mosaicd_client cookie (first
   * valid one wins); `http:addr:<peer address>` when there is none.
   */
  #clientOf(req: IncomingMessage, query: URLSearchParams, given: string | undefined): string {
    const candidates = [given, query.get('c') ?? undefined, headerValue(req, CLIENT_HEADER), cookieValue(req, CLIENT_COOKIE)];
    const id = candidates.find((c): c is string => c !== undefined && CLIENT_ID.test(c));
    return id !== undefined ? `${HTTP_CLIENT_PREFIX}${id}` : `${HTTP_CLIENT_PREFIX}addr:${req.socket.remoteAddress ?? 'unknown'}`;
  }

  #touch(clientId: string): void {
    this.#clients.delete(clientId);
    this.#clients.set(clientId, Date.now());
    if (this.#clients.size > this.#o.maxClients) this.#forgetIdleClients();
  }

  /** Forgets clients unseen for clientIdleMs, and the least recently seen beyond maxClients. */
  #forgetIdleClients(): void {
    const cutoff = Date.now() - this.#o.clientIdleMs;
    let excess = this.#clients.size - this.#o.maxClients;
    for (const [id, seen] of this.#clients) {
      if (seen > cutoff && excess <= 0) break; // oldest first: the rest are newer
      if (this.#inFlight.has(id)) continue;
      this.#clients.delete(id);
      excess--;
      try {
        this.#o.backend.forgetClient?.(id);
      } catch (err) {
        this.#o.log.warn({ err: messageOf(err), clientId: id }, 'forgetClient failed');
      }
    }
  }

  // ---- metrics, static files ----------------------------------------------

  async #metrics(res: ServerResponse, head: boolean): Promise<void> {
    const b = this.#o.backend;
    const text = await this.metrics.scrape(b.stats(), b.ready());
    res.setHeader('Content-Type', this.metrics.contentType);
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Length', Buffer.byteLength(text));
    res.writeHead(200).end(head ? undefined : text);
  }

  #asset(req: IncomingMessage, res: ServerResponse, path: string, head: boolean): void {
    const a = this.#assets.get(path);
    if (!a) throw new ProtocolError(`no such page: ${path}`);
    res.setHeader('ETag', a.etag);
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('Vary', 'Accept-Encoding');
    if (path === '/') {
      res.setHeader('Content-Security-Policy', "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'");
    }
    if (notModified(req, a.etag, undefined)) {
      res.writeHead(304).end();
      return;
    }
    const gzip = acceptsGzip(req);
    const body = gzip ? a.gzip : a.body;
    res.setHeader('Content-Type', a.type);
    res.setHeader('Content-Length', body.byteLength);
    if (gzip) res.setHeader('Content-Encoding', 'gzip');
    res.writeHead(200).end(head ? undefined : body);
  }

  async #loadAssets(): Promise<void> {
    const require = createRequire(import.meta.url);
    const [leafletJs, leafletCss] = await Promise.all([
      readFile(require.resolve('leaflet/dist/leaflet.js')),
      readFile(require.resolve('leaflet/dist/leaflet.css')),
    ]);
    const maxZoom = this.#o.maxZoom ?? this.#probeMaxZoom();
    const add = (path: string, type: string, body: Buffer | string) => {
      const buf = typeof body === 'string' ? Buffer.from(body) : body;
      const etag = `"${createHash('sha1').update(buf).digest('base64url').slice(0, 22)}"`;
      this.#assets.set(path, { body: buf, gzip: gzipSync(buf), type, etag });
    };
    add('/', 'text/html; charset=utf-8', viewerHtml({ maxZoom, tileSize: this.#o.tileSize }));
    add('/static/viewer.js', 'text/javascript; charset=utf-8', VIEWER_JS);
    add('/static/viewer.css', 'text/css; charset=utf-8', VIEWER_CSS);
    add('/static/leaflet.js', 'text/javascript; charset=utf-8', leafletJs);
    add('/static/leaflet.css', 'text/css; charset=utf-8', leafletCss);
  }

  /** The highest z for which backend.coord(z, 0, 0) is valid (the daemon's max zoom). */
  #probeMaxZoom(): number {
    let max = 0;
    for (let z = 0; z <= MAX_SUPPORTED_ZOOM; z++) {
      try {
        this.#o.backend.coord(z, 0, 0);
        max = z;
      } catch {
        break;
      }
    }
    return max;
  }

  // ---- answers ---------------------------------------------------------------

  #text(res: ServerResponse, status: number, text: string, head: boolean): void {
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Length', Buffer.byteLength(text));
    res.writeHead(status).end(head ? undefined : text);
  }

  #fail(res: ServerResponse, err: unknown, head: boolean, route: HttpRoute): void {
    if (res.destroyed) return; // the client left; a cancelled render owes nobody an answer
    const code = codeOf(err);
    const status = statusOf(code, route);
    if (status >= 500 && code === ErrorCode.PROCESSING_ERROR) {
      this.#o.log.error({ err: messageOf(err), route }, 'HTTP request failed');
    }
    if (code === ErrorCode.BUSY) res.setHeader('Retry-After', '1');
    else if (code === ErrorCode.SHUTTING_DOWN) res.setHeader('Retry-After', '5');
    if (code === ErrorCode.TOO_LARGE) res.setHeader('Connection', 'close');
    this.#error(res, status, err, head);
  }

  /** `{code, message}` as JSON, counted in mosaicd_errors_total unless `count` is false. */
  #error(res: ServerResponse, status: number, err: unknown, head: boolean, count = true): void {
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
    res.writeHead(status).end(head ? undefined : body);
  }
}

/** HTTP status for an error code (docs/http.md). */
export function statusOf(code: string, route?: HttpRoute): number {
  switch (code) {
    case ErrorCode.PROTOCOL_ERROR:
      return 400;
    case ErrorCode.BAD_TILE:
      // A tile outside the grid does not exist; a viewport outside it is a bad request body.
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

/** RFC 9110 §13.2.2: If-None-Match wins over If-Modified-Since. */
function notModified(req: IncomingMessage, etag: string, mtimeMs: number | undefined): boolean {
  const inm = req.headers['if-none-match'];
  if (inm !== undefined) {
    if (inm.trim() === '*') return true;
    const bare = etag.replace(/^W\//, '');
    return inm.split(',').some((t) => t.trim().replace(/^W\//, '') === bare);
  }
  const ims = req.headers['if-modified-since'];
  if (ims !== undefined && mtimeMs !== undefined) {
    const since = Date.parse(ims);
    // HTTP dates have whole seconds.
    return Number.isFinite(since) && Math.floor(mtimeMs / 1000) * 1000 <= since;
  }
  return false;
}

/** True when Accept-Encoding lists gzip (or `*`) with a non-zero q. */
function acceptsGzip(req: IncomingMessage): boolean {
  const ae = req.headers['accept-encoding'];
  if (typeof ae !== 'string') return false;
  return ae.split(',').some((item) => {
    const [name = '', ...params] = item.split(';').map((s) => s.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    return (name === 'gzip' || name === '*') && (q === undefined || Number(q.slice(2)) > 0);
  });
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v.trim() : undefined;
}

function cookieValue(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new TooLargeError(`the body is over ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > limit) throw new TooLargeError(`the body is over ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
