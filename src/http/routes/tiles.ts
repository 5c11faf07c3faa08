import { ProcessingError, ProtocolError, UnknownMapError } from '../../errors.js';
import { MAP_NAME } from '../../maps/map-name.js';
import type { HttpBackend } from '../http-server.js';
import type { HttpClients } from '../http-clients.js';
import { notModified, type HttpExchange, type Route } from '../http-exchange.js';

// `/tiles/{z}/{x}/{y}.png` (the default map) or `/tiles/NAME/{z}/{x}/{y}.png`; params: [map or '', z, x, y].
const TILE_PATH = /^\/tiles\/(?:([^/]+)\/)?([^/]+)\/([^/]+)\/([^/]+)\.png$/;
const INTEGER = /^-?\d{1,20}$/;

export interface TilesRouteOptions {
  backend: HttpBackend;
  clients: HttpClients;
  /** `Cache-Control: public, max-age=N`. */
  maxAgeSeconds: number;
}

/**
 * `/tiles/{z}/{x}/{y}.png` (the default map) and `/tiles/NAME/{z}/{x}/{y}.png`
 * (map NAME; an unknown map is a 404): the tile from disk, rendered first when it is
 * missing (interactive priority, withdrawn if the client leaves), with
 * ETag / Last-Modified revalidation.
 */
export function tilesRoute(o: TilesRouteOptions): Route {
  return {
    label: '/tiles/{z}/{x}/{y}.png',
    allow: 'GET, HEAD',
    match: (path) => TILE_PATH.exec(path)?.slice(1).map((p) => p ?? ''),
    handle: (x, params) => serveTile(o, x, params),
  };
}

async function serveTile(o: TilesRouteOptions, x: HttpExchange, params: readonly string[]): Promise<void> {
  const { req, res } = x;
  const [map, ...parts] = params;
  if (!parts.every((p) => INTEGER.test(p))) {
    throw new ProtocolError(`tile coordinates must be integers: /tiles/${params.filter(Boolean).join('/').slice(0, 80)}.png`);
  }
  if (map && !MAP_NAME.test(map)) throw new UnknownMapError(`no map is named ${JSON.stringify(map.slice(0, 32))}`);
  const b = o.backend;
  const tile = b.coord(Number(parts[0]), Number(parts[1]), Number(parts[2]), map || undefined);
  let st = await b.statTile(tile);
  if (st === undefined) {
    if (res.destroyed) return; // gone already: don't queue a render for nobody
    const clientId = o.clients.idOf(req, x.query, undefined);
    const gone = new AbortController();
    const onClose = () => {
      if (!res.writableEnded) gone.abort();
    };
    res.once('close', onClose);
    const release = o.clients.hold(clientId);
    try {
      await b.requestTile(tile, clientId, gone.signal);
    } finally {
      res.off('close', onClose);
      release();
    }
    if (res.destroyed) return; // the client left while the tile rendered
    st = await b.statTile(tile);
    if (st === undefined) throw new ProcessingError(`tile ${tile.z}/${tile.x}/${tile.y} was rendered but is not on disk`);
  }

  const etag = `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
  res.setHeader('ETag', etag);
  res.setHeader('Last-Modified', new Date(st.mtimeMs).toUTCString());
  res.setHeader('Cache-Control', `public, max-age=${o.maxAgeSeconds}`);
  // Tiles are public images: let maps on other origins draw them on a canvas (OpenLayers, MapLibre).
  res.setHeader('Access-Control-Allow-Origin', '*');
  if (notModified(req, etag, st.mtimeMs)) {
    res.writeHead(304).end();
    return;
  }
  res.setHeader('Content-Type', 'image/png');
  if (x.head) {
    res.setHeader('Content-Length', st.size);
    res.writeHead(200).end();
    return;
  }
  const png = await b.readTile(tile);
  if (png === undefined) throw new ProcessingError(`tile ${tile.z}/${tile.x}/${tile.y} disappeared from disk`);
  res.setHeader('Content-Length', png.byteLength);
  res.writeHead(200).end(png);
}
