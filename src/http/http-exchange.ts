import type { IncomingMessage, ServerResponse } from 'node:http';
import { TooLargeError } from '../errors.js';
import type { HttpRoute } from './metrics.js';

/** One HTTP request as a route sees it (the server parsed the URL once). */
export interface HttpExchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** The URL path, without the query. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** A HEAD request: headers as for GET, no body. */
  readonly head: boolean;
}

/**
 * One route of the HTTP server. The server finds the first route whose
 * match() gives params, checks the method against `allow`, runs handle()
 * and turns what it throws into an error answer (http-server.ts).
 */
export interface Route {
  /** The metrics label (never the raw path). */
  readonly label: HttpRoute;
  /** Methods accepted, as in the Allow header: `GET, HEAD`. */
  readonly allow: string;
  /** The path's parameters when the path is this route's, else undefined. */
  match(path: string): readonly string[] | undefined;
  handle(x: HttpExchange, params: readonly string[]): void | Promise<void>;
}

/** A route for exactly one path. */
export function exactPath(path: string): (p: string) => readonly string[] | undefined {
  return (p) => (p === path ? [] : undefined);
}

/** A short text answer, never cached. */
export function sendText(x: HttpExchange, status: number, text: string): void {
  x.res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  x.res.setHeader('Cache-Control', 'no-store');
  x.res.setHeader('Content-Length', Buffer.byteLength(text));
  x.res.writeHead(status).end(x.head ? undefined : text);
}

/** RFC 9110 §13.2.2: If-None-Match wins over If-Modified-Since. */
export function notModified(req: IncomingMessage, etag: string, mtimeMs: number | undefined): boolean {
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
export function acceptsGzip(req: IncomingMessage): boolean {
  const ae = req.headers['accept-encoding'];
  if (typeof ae !== 'string') return false;
  return ae.split(',').some((item) => {
    const [name = '', ...params] = item.split(';').map((s) => s.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    return (name === 'gzip' || name === '*') && (q === undefined || Number(q.slice(2)) > 0);
  });
}

/** The request body, refused with TOO_LARGE past `limit` bytes (declared or received). */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
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
