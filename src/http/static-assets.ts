import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { gzipSync } from 'node:zlib';
import { ProtocolError } from '../errors.js';
import { acceptsGzip, notModified, type HttpExchange } from './http-exchange.js';
import { VIEWER_CSS, VIEWER_JS, viewerHtml, type ViewerSettings } from './viewer.js';

interface StaticAsset {
  readonly body: Buffer;
  readonly gzip: Buffer;
  readonly type: string;
  readonly etag: string;
}

/**
 * The viewer's files, built once in memory (page, script, style, Leaflet),
 * each with its gzip form and an ETag, served by path.
 */
export class StaticAssets {
  readonly #assets = new Map<string, StaticAsset>();

  /** Loads Leaflet from node_modules and renders the page for this tile size and max zoom. */
  async load(viewer: ViewerSettings): Promise<void> {
    const require = createRequire(import.meta.url);
    const [leafletJs, leafletCss] = await Promise.all([
      readFile(require.resolve('leaflet/dist/leaflet.js')),
      readFile(require.resolve('leaflet/dist/leaflet.css')),
    ]);
    this.#add('/', 'text/html; charset=utf-8', viewerHtml(viewer));
    this.#add('/static/viewer.js', 'text/javascript; charset=utf-8', VIEWER_JS);
    this.#add('/static/viewer.css', 'text/css; charset=utf-8', VIEWER_CSS);
    this.#add('/static/leaflet.js', 'text/javascript; charset=utf-8', leafletJs);
    this.#add('/static/leaflet.css', 'text/css; charset=utf-8', leafletCss);
  }

  has(path: string): boolean {
    return this.#assets.has(path);
  }

  /** Answers with the asset at `path`: 304 on a matching ETag, gzip when accepted. */
  serve(x: HttpExchange, path: string): void {
    const { req, res } = x;
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
    res.writeHead(200).end(x.head ? undefined : body);
  }

  #add(path: string, type: string, body: Buffer | string): void {
    const buf = typeof body === 'string' ? Buffer.from(body) : body;
    const etag = `"${createHash('sha1').update(buf).digest('base64url').slice(0, 22)}"`;
    this.#assets.set(path, { body: buf, gzip: gzipSync(buf), type, etag });
  }
}
