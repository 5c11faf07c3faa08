import type { IncomingMessage } from 'node:http';
import { messageOf } from '../errors.js';
import type { Logger } from '../log.js';

/** Client ids from the page, header or cookie: short, URL- and label-safe. */
export const CLIENT_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** Prefix of HTTP client ids in the scheduler, apart from line and framed clients. */
export const HTTP_CLIENT_PREFIX = 'http:';
export const CLIENT_HEADER = 'x-mosaicd-client';
export const CLIENT_COOKIE = 'mosaicd_client';

export interface HttpClientsOptions {
  /** A client unseen this long is forgotten. */
  idleMs: number;
  /** At most this many are remembered; the least recently seen is forgotten first. */
  max: number;
  /** Forgets a client in the daemon (its viewport and queued requests). */
  forget: ((clientId: string) => void) | undefined;
  log: Logger;
}

/**
 * Who an HTTP request is (docs/http.md "Client id"), and the clients seen
 * lately: page loads each bring a new random id, so ids unseen for a while,
 * or beyond `max`, are forgotten in the daemon, except while one of their
 * tile requests is in flight.
 */
export class HttpClients {
  readonly #o: HttpClientsOptions;
  /** Client id → last seen (ms), least recently seen first. */
  readonly #seen = new Map<string, number>();
  /** Client id → tile requests in progress (never forgotten while > 0). */
  readonly #inFlight = new Map<string, number>();
  #sweep: NodeJS.Timeout | undefined;

  constructor(options: HttpClientsOptions) {
    this.#o = options;
  }

  /**
   * The scheduler client id of a request: `http:` + the id from the body,
   * `?c=`, the X-Mosaicd-Client header or the mosaicd_client cookie (first
   * valid one wins); `http:addr:<peer address>` when there is none.
   */
  idOf(req: IncomingMessage, query: URLSearchParams, given: string | undefined): string {
    const candidates = [given, query.get('c') ?? undefined, headerValue(req, CLIENT_HEADER), cookieValue(req, CLIENT_COOKIE)];
    const id = candidates.find((c): c is string => c !== undefined && CLIENT_ID.test(c));
    return id !== undefined ? `${HTTP_CLIENT_PREFIX}${id}` : `${HTTP_CLIENT_PREFIX}addr:${req.socket.remoteAddress ?? 'unknown'}`;
  }

  /** Keeps the client from being forgotten until the returned release is called (which also counts as seeing it). */
  hold(clientId: string): () => void {
    this.#inFlight.set(clientId, (this.#inFlight.get(clientId) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.#inFlight.get(clientId) ?? 1) - 1;
      if (n > 0) this.#inFlight.set(clientId, n);
      else this.#inFlight.delete(clientId);
      this.touch(clientId);
    };
  }

  touch(clientId: string): void {
    this.#seen.delete(clientId);
    this.#seen.set(clientId, Date.now());
    if (this.#seen.size > this.#o.max) this.forgetIdle();
  }

  /** Sweeps for idle clients every half idle period (1 s to 60 s). */
  startSweeping(): void {
    const every = Math.max(1000, Math.min(60_000, this.#o.idleMs / 2));
    this.#sweep ??= setInterval(() => this.forgetIdle(), every).unref();
  }

  stopSweeping(): void {
    clearInterval(this.#sweep);
  }

  /** Forgets clients unseen for idleMs, and the least recently seen beyond max. */
  forgetIdle(): void {
    const cutoff = Date.now() - this.#o.idleMs;
    let excess = this.#seen.size - this.#o.max;
    for (const [id, seen] of this.#seen) {
      if (seen > cutoff && excess <= 0) break; // oldest first: the rest are newer
      if (this.#inFlight.has(id)) continue;
      this.#seen.delete(id);
      excess--;
      try {
        this.#o.forget?.(id);
      } catch (err) {
        this.#o.log.warn({ err: messageOf(err), clientId: id }, 'forgetClient failed');
      }
    }
  }
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
