import { ProtocolError, messageOf } from '../../errors.js';
import { parseViewportJson } from '../../protocol/viewport-syntax.js';
import { MAP_NAME } from '../../maps/map-name.js';
import type { HttpBackend } from '../http-server.js';
import { CLIENT_ID, type HttpClients } from '../http-clients.js';
import { exactPath, readBody, type HttpExchange, type Route } from '../http-exchange.js';

/** Largest `POST /viewport` body, bytes (docs/http.md: 4 KiB). */
export const MAX_VIEWPORT_BODY = 4096;

export interface ViewportRouteOptions {
  backend: HttpBackend;
  clients: HttpClients;
}

/** `POST /viewport`: what the client shows, parsed by the viewport parser every wire shares. */
export function viewportRoute(o: ViewportRouteOptions): Route {
  return {
    label: '/viewport',
    allow: 'POST',
    match: exactPath('/viewport'),
    handle: (x) => setViewport(o, x),
  };
}

async function setViewport(o: ViewportRouteOptions, x: HttpExchange): Promise<void> {
  const body = await readBody(x.req, MAX_VIEWPORT_BODY);
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new ProtocolError(`the body is not JSON: ${messageOf(err)}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ProtocolError('the body must be a JSON object');
  const fields = json as Record<string, unknown>;
  const parsed = parseViewportJson(fields);
  if (!parsed.ok) throw new ProtocolError(parsed.reason);
  let given: string | undefined;
  const id = fields['client_id'];
  if (id !== undefined) {
    if (typeof id !== 'string' || !CLIENT_ID.test(id)) {
      throw new ProtocolError('"client_id" must be 1 to 64 letters, digits, "_" or "-"');
    }
    given = id;
  }
  const map = fields['map'];
  if (map !== undefined && map !== null && (typeof map !== 'string' || !MAP_NAME.test(map))) {
    throw new ProtocolError('"map" must be a map name (a letter, then up to 31 letters, digits, "_" or "-")');
  }
  const clientId = o.clients.idOf(x.req, x.query, given);
  const viewport = typeof map === 'string' ? { ...parsed.viewport, map } : parsed.viewport;
  o.backend.setViewport(clientId, viewport); // BAD_TILE, UNKNOWN_MAP → 400 (statusOf)
  o.clients.touch(clientId);
  x.res.setHeader('Cache-Control', 'no-store');
  x.res.writeHead(204).end();
}
