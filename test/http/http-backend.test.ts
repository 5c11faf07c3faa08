import t from 'tap';
import http from 'node:http';
import { once } from 'node:events';
import { BadTileError, BusyError, CancelledError, ProcessingError, ShuttingDownError, TimeoutError } from '../../src/errors.js';
import { HttpServer } from '../../src/http/http-server.js';
import type { TileCoord } from '../../src/tile/tile-coord.js';
import { startFakeHttp } from './fixtures/harness.js';

/** Errors the scheduler gives are answered with their HTTP status, a JSON body and, when worth retrying, Retry-After. */
t.test('render errors map to HTTP statuses', async (t) => {
  const cases: Array<[Error, number, string, string | null]> = [
    [new BusyError('the interactive queue is full'), 503, 'BUSY', '1'],
    [new ShuttingDownError(), 503, 'SHUTTING_DOWN', '5'],
    [new ProcessingError('render failed: boom'), 500, 'PROCESSING_ERROR', null],
    [new Error('something unexpected'), 500, 'PROCESSING_ERROR', null],
    [new TimeoutError('render ran past 30000 ms'), 504, 'TIMEOUT', null],
    [new CancelledError('client x went away'), 503, 'CANCELLED', null],
  ];
  let next: Error = cases[0]![0];
  const { base } = await startFakeHttp(t, { requestTile: async () => Promise.reject(next) });
  for (const [err, status, code, retryAfter] of cases) {
    next = err;
    const res = await fetch(`${base}/tiles/1/0/0.png`);
    t.equal(res.status, status, code);
    t.equal(res.headers.get('retry-after'), retryAfter, `${code}: Retry-After`);
    t.equal(res.headers.get('cache-control'), 'no-store');
    t.same(await res.json(), { code, message: err.message });
  }
});

t.test('BAD_TILE from coord() is 404; a tile that is still missing after its render is 500', async (t) => {
  const { base } = await startFakeHttp(t, {
    coord: (z, x, y) => {
      if (z > 3) throw new BadTileError(`zoom ${z} is above the max zoom 3`);
      return { z, x, y };
    },
  });
  const res = await fetch(`${base}/tiles/4/0/0.png`);
  t.equal(res.status, 404);
  t.same(await res.json(), { code: 'BAD_TILE', message: 'zoom 4 is above the max zoom 3' });
  const lost = await fetch(`${base}/tiles/1/0/0.png`);
  t.equal(lost.status, 500);
  t.equal(((await lost.json()) as { code: string }).code, 'PROCESSING_ERROR');
});

t.test('a client that disconnects while its tile waits aborts the request signal', async (t) => {
  let signal: AbortSignal | undefined;
  let asked!: () => void;
  const requested = new Promise<void>((r) => (asked = r));
  const { port } = await startFakeHttp(t, {
    requestTile: (_tile, _client, s) => {
      signal = s;
      asked();
      return new Promise((_, reject) => s.addEventListener('abort', () => reject(new CancelledError('the requester went away'))));
    },
  });
  const req = http.get({ host: '127.0.0.1', port, path: '/tiles/2/1/1.png' });
  req.on('error', () => undefined);
  await requested;
  t.equal(signal?.aborted, false, 'not aborted while the client waits');
  req.destroy();
  if (!signal!.aborted) await once(signal!, 'abort');
  t.equal(signal!.aborted, true, 'aborted once the client went away');
});

t.test('tile requests carry the client id from ?c=, the header or the cookie, else the peer address', async (t) => {
  const seen: string[] = [];
  const stored = new Map<string, Buffer>();
  const key = (tile: TileCoord) => `${tile.z}/${tile.x}/${tile.y}`;
  const { base } = await startFakeHttp(t, {
    statTile: async (tile) => (stored.has(key(tile)) ? { size: 3, mtimeMs: 1_700_000_000_000 } : undefined),
    readTile: async (tile) => stored.get(key(tile)),
    requestTile: async (tile, clientId) => {
      seen.push(clientId);
      stored.set(key(tile), Buffer.from('png'));
    },
  });
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(base + path, { headers });
    t.equal(res.status, 200, path);
    t.equal(await res.text(), 'png');
  };
  await get('/tiles/3/0/0.png?c=page-a');
  await get('/tiles/3/0/1.png', { 'x-mosaicd-client': 'page-b' });
  await get('/tiles/3/0/2.png', { cookie: 'theme=dark; mosaicd_client=page-c' });
  await get('/tiles/3/0/3.png?c=bad%20id', { 'x-mosaicd-client': 'page-d' });
  await get('/tiles/3/0/4.png');
  await get('/tiles/3/0/4.png?c=page-e');
  t.same(seen, ['http:page-a', 'http:page-b', 'http:page-c', 'http:page-d', 'http:addr:127.0.0.1'], 'a tile on disk is not requested again');
});

t.test('HTTP clients beyond maxClients are forgotten, least recently seen first', async (t) => {
  const forgotten: string[] = [];
  const viewports: string[] = [];
  const { base } = await startFakeHttp(
    t,
    { setViewport: (id) => void viewports.push(id), forgetClient: (id) => void forgotten.push(id) },
    { maxClients: 2 },
  );
  const post = async (client: string) => {
    const res = await fetch(`${base}/viewport`, { method: 'POST', body: JSON.stringify({ client_id: client, z: 0, min_x: 0, min_y: 0, max_x: 0, max_y: 0 }) });
    t.equal(res.status, 204);
  };
  await post('one');
  await post('two');
  await post('one');
  t.same(forgotten, []);
  await post('three');
  t.same(forgotten, ['http:two'], 'two was seen least recently');
  t.same(viewports, ['http:one', 'http:two', 'http:one', 'http:three']);
});

t.test('the viewer finds the max zoom with coord() when not told', async (t) => {
  const { base } = await startFakeHttp(
    t,
    {
      coord: (z, x, y) => {
        if (z > 12) throw new BadTileError('too deep');
        return { z, x, y };
      },
    },
    { maxZoom: undefined, tileSize: 512 },
  );
  const html = await (await fetch(`${base}/`)).text();
  t.match(html, /data-max-zoom="12"/);
  t.match(html, /data-tile-size="512"/);
});

t.test('unknown paths are 404 JSON; a failing stats() is a 500 on /metrics', async (t) => {
  const { base } = await startFakeHttp(t, {
    stats: () => {
      throw new Error('stats broke');
    },
  });
  const res = await fetch(`${base}/nope`);
  t.equal(res.status, 404);
  t.equal(((await res.json()) as { code: string }).code, 'PROTOCOL_ERROR');
  const metrics = await fetch(`${base}/metrics`);
  t.equal(metrics.status, 500);
  t.same(await metrics.json(), { code: 'PROCESSING_ERROR', message: 'stats broke' });
});

t.test('listen() rejects when the port is taken; close() before or after is harmless', async (t) => {
  const { port } = await startFakeHttp(t, {});
  const backend = { coord: () => ({ z: 0, x: 0, y: 0 }) } as never;
  const second = new HttpServer({ backend, port, maxZoom: 1 });
  await t.rejects(second.listen(), { code: 'EADDRINUSE' });
  await second.close();
  const never = new HttpServer({ backend, port: 0, maxZoom: 1 });
  await never.close();
  await t.rejects(never.listen(), /closed/);
});
