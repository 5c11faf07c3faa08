import t from 'tap';
import http from 'node:http';
import { once } from 'node:events';
import sharp from 'sharp';
import { startHttpDaemon } from './fixtures/harness.js';

/** Tiles at zoom 2 are one 4×4 metatile: the first request renders them all. */
t.test('a tile is rendered on first GET and served as a 256×256 PNG with cache headers', async (t) => {
  const h = await startHttpDaemon(t);
  const res = await fetch(`${h.base}/tiles/2/1/1.png`);
  t.equal(res.status, 200);
  t.equal(res.headers.get('content-type'), 'image/png');
  t.match(res.headers.get('etag'), /^"[0-9a-f]+-[0-9a-f]+"$/);
  t.ok(Date.parse(res.headers.get('last-modified') ?? ''), 'Last-Modified is an HTTP date');
  t.match(res.headers.get('cache-control'), /max-age=\d+/);
  const png = Buffer.from(await res.arrayBuffer());
  t.equal(Number(res.headers.get('content-length')), png.byteLength);
  const meta = await sharp(png).metadata();
  t.equal(meta.format, 'png');
  t.equal(meta.width, 256);
  t.equal(meta.height, 256);
  t.same(await h.daemon.store.read(h.daemon.tiles.coord(2, 1, 1)), png, 'the bytes of the file on disk');

  const etag = res.headers.get('etag')!;
  const again = await fetch(`${h.base}/tiles/2/1/1.png`, { headers: { 'If-None-Match': etag } });
  t.equal(again.status, 304, 'If-None-Match: the same tile is not sent again');
  t.equal(again.headers.get('etag'), etag);
  t.equal((await again.arrayBuffer()).byteLength, 0);

  const other = await fetch(`${h.base}/tiles/2/1/1.png`, { headers: { 'If-None-Match': '"0-0", W/"nope"' } });
  t.equal(other.status, 200, 'a stale ETag gets the tile');
  await other.arrayBuffer();

  const since = await fetch(`${h.base}/tiles/2/1/1.png`, { headers: { 'If-Modified-Since': res.headers.get('last-modified')! } });
  t.equal(since.status, 304, 'If-Modified-Since: not modified');
  const before = await fetch(`${h.base}/tiles/2/1/1.png`, { headers: { 'If-Modified-Since': 'Thu, 01 Jan 1970 00:00:00 GMT' } });
  t.equal(before.status, 200, 'modified since 1970');
  await before.arrayBuffer();

  const head = await fetch(`${h.base}/tiles/2/1/1.png`, { method: 'HEAD' });
  t.equal(head.status, 200);
  t.equal(head.headers.get('content-length'), String(png.byteLength));
  t.equal(head.headers.get('etag'), etag);
  t.equal((await head.arrayBuffer()).byteLength, 0, 'HEAD has no body');
});

t.test('HEAD of a tile that is not on disk renders it too', async (t) => {
  const h = await startHttpDaemon(t);
  const head = await fetch(`${h.base}/tiles/3/4/2.png`, { method: 'HEAD' });
  t.equal(head.status, 200);
  const st = await h.daemon.store.stat(h.daemon.tiles.coord(3, 4, 2));
  t.ok(st, 'the tile is on disk');
  t.equal(head.headers.get('content-length'), String(st!.size));
});

t.test('bad coordinates: 400 when not integers, 404 when outside the grid or above max zoom', async (t) => {
  const h = await startHttpDaemon(t, { maxZoom: 10 });
  const cases: Array<[string, number, string]> = [
    ['/tiles/a/1/1.png', 400, 'PROTOCOL_ERROR'],
    ['/tiles/1.5/0/0.png', 400, 'PROTOCOL_ERROR'],
    ['/tiles/2/1/1e3.png', 400, 'PROTOCOL_ERROR'],
    ['/tiles/2/%31/1.png', 400, 'PROTOCOL_ERROR'],
    ['/tiles/2/4/0.png', 404, 'BAD_TILE'],
    ['/tiles/2/0/-1.png', 404, 'BAD_TILE'],
    ['/tiles/11/0/0.png', 404, 'BAD_TILE'],
    ['/tiles/99999999999999999999/0/0.png', 404, 'BAD_TILE'],
  ];
  for (const [path, status, code] of cases) {
    const res = await fetch(h.base + path);
    t.equal(res.status, status, path);
    t.match(res.headers.get('content-type'), /^application\/json/);
    const body = (await res.json()) as { code: string; message: string };
    t.equal(body.code, code, `${path}: ${body.message}`);
    t.type(body.message, 'string');
  }
  const nope = await fetch(`${h.base}/tiles/2/1/1.jpg`);
  t.equal(nope.status, 404, 'other suffixes are not a route');
  await nope.arrayBuffer();
  const post = await fetch(`${h.base}/tiles/2/1/1.png`, { method: 'POST' });
  t.equal(post.status, 405);
  t.equal(post.headers.get('allow'), 'GET, HEAD');
  await post.arrayBuffer();
});

t.test('POST /viewport records the viewport for the client; bad bodies are 400', async (t) => {
  const h = await startHttpDaemon(t);
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${h.base}/viewport`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

  const ok = await post({ client_id: 'page-1', z: 3, min_x: 1, min_y: 2, max_x: 4, max_y: 5 });
  t.equal(ok.status, 204);
  t.same(h.daemon.scheduler.viewportOf('http:page-1'), { z: 3, minX: 1, minY: 2, maxX: 4, maxY: 5 });

  const byHeader = await post({ z: 1, min_x: 0, min_y: 0, max_x: 1, max_y: 1 }, { 'x-mosaicd-client': 'page-2' });
  t.equal(byHeader.status, 204, 'the client id may come from the header');
  t.same(h.daemon.scheduler.viewportOf('http:page-2'), { z: 1, minX: 0, minY: 0, maxX: 1, maxY: 1 });

  const byCookie = await post({ z: 0, min_x: 0, min_y: 0, max_x: 0, max_y: 0 }, { cookie: 'a=b; mosaicd_client=page-3' });
  t.equal(byCookie.status, 204, 'or from the cookie');
  t.ok(h.daemon.scheduler.viewportOf('http:page-3'));

  const bad: Array<[unknown, string]> = [
    ['{nope', 'PROTOCOL_ERROR'],
    [[1, 2], 'PROTOCOL_ERROR'],
    [{ client_id: 'x', z: 1, min_x: 0, min_y: 0, max_x: 1 }, 'PROTOCOL_ERROR'],
    [{ client_id: 'x', z: 1.5, min_x: 0, min_y: 0, max_x: 1, max_y: 1 }, 'PROTOCOL_ERROR'],
    [{ client_id: 'not ok!', z: 1, min_x: 0, min_y: 0, max_x: 1, max_y: 1 }, 'PROTOCOL_ERROR'],
    [{ client_id: 'x', z: 1, min_x: 0, min_y: 0, max_x: 2, max_y: 1 }, 'BAD_TILE'],
    [{ client_id: 'x', z: 1, min_x: 1, min_y: 0, max_x: 0, max_y: 1 }, 'BAD_TILE'],
  ];
  for (const [body, code] of bad) {
    const res = await post(body);
    t.equal(res.status, 400, JSON.stringify(body));
    t.equal(((await res.json()) as { code: string }).code, code);
  }
  const big = await post({ client_id: 'x', pad: 'x'.repeat(10_000), z: 0, min_x: 0, min_y: 0, max_x: 0, max_y: 0 });
  t.equal(big.status, 413);
  t.equal(((await big.json()) as { code: string }).code, 'TOO_LARGE');

  const get = await fetch(`${h.base}/viewport`);
  t.equal(get.status, 405);
  t.equal(get.headers.get('allow'), 'POST');
  await get.arrayBuffer();
});

t.test('/metrics: Prometheus text with the daemon gauges and a render histogram sample', async (t) => {
  const h = await startHttpDaemon(t);
  const tile = await fetch(`${h.base}/tiles/2/3/1.png`);
  t.equal(tile.status, 200);
  await tile.arrayBuffer();
  await (await fetch(`${h.base}/tiles/9/0/600.png`)).arrayBuffer(); // a 404 (BAD_TILE)

  const res = await fetch(`${h.base}/metrics`);
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  for (const name of [
    'mosaicd_queue_length',
    'mosaicd_renders_running',
    'mosaicd_notices_pending',
    'mosaicd_notices_sent_total',
    'mosaicd_notices_retried_total',
    'mosaicd_connections',
    'mosaicd_inference_queue_length',
    'mosaicd_render_seconds',
    'mosaicd_tiles_rendered_total',
    'mosaicd_inference_requests_total',
    'mosaicd_inference_seconds',
    'mosaicd_errors_total',
    'mosaicd_http_requests_total',
    'process_cpu_seconds_total',
    'nodejs_eventloop_lag_seconds',
  ]) {
    t.match(text, new RegExp(`^# TYPE ${name} `, 'm'), `${name} is exposed`);
  }
  t.match(text, /^mosaicd_queue_length\{class="visible"\} 0$/m);
  t.match(text, /^mosaicd_queue_length\{class="bulk"\} 0$/m);
  t.match(text, /^mosaicd_render_seconds_count\{zoom="2"\} 1$/m, 'one metatile rendered at zoom 2');
  t.match(text, /^mosaicd_render_seconds_bucket\{le="\+Inf",zoom="2"\} 1$/m);
  t.match(text, /^mosaicd_tiles_rendered_total\{zoom="2"\} 16$/m, 'its 4×4 tiles');
  t.match(text, /^mosaicd_errors_total\{code="BAD_TILE"\} 1$/m);
  t.match(text, /^mosaicd_http_requests_total\{route="\/tiles\/\{z\}\/\{x\}\/\{y\}\.png",status="200"\} 1$/m);
  t.match(text, /^mosaicd_http_requests_total\{route="\/tiles\/\{z\}\/\{x\}\/\{y\}\.png",status="404"\} 1$/m);
  t.match(text, /^mosaicd_ready 1$/m);
  t.match(text, /^mosaicd_render_workers 2$/m, 'from stats(): the harness runs 2 workers');

  const second = await (await fetch(`${h.base}/metrics`)).text();
  t.match(second, /^mosaicd_http_requests_total\{route="\/metrics",status="200"\} 1$/m, 'scrapes are counted too');
});

t.test('/healthz and /readyz; readyz is 503 once the daemon stops', async (t) => {
  const h = await startHttpDaemon(t);
  const health = await fetch(`${h.base}/healthz`);
  t.equal(health.status, 200);
  t.equal(await health.text(), 'ok\n');
  const ready = await fetch(`${h.base}/readyz`);
  t.equal(ready.status, 200);
  await ready.arrayBuffer();
  const head = await fetch(`${h.base}/healthz`, { method: 'HEAD' });
  t.equal(head.status, 200);

  await h.daemon.destroy(); // (a graceful stop() would wait for a completion listener that this harness has not)
  const notReady = await fetch(`${h.base}/readyz`);
  t.equal(notReady.status, 503);
  await notReady.arrayBuffer();
  t.equal((await fetch(`${h.base}/healthz`)).status, 200, 'still alive');
  const late = await fetch(`${h.base}/tiles/4/1/1.png`);
  t.equal(late.status, 503, 'a tile that would need a render: the daemon takes no new work');
  t.equal(late.headers.get('retry-after'), '5');
  t.equal(((await late.json()) as { code: string }).code, 'SHUTTING_DOWN');
});

t.test('the viewer page and its static files', async (t) => {
  const h = await startHttpDaemon(t, { maxZoom: 7 });
  const page = await fetch(`${h.base}/`);
  t.equal(page.status, 200);
  t.match(page.headers.get('content-type'), /^text\/html/);
  t.match(page.headers.get('content-security-policy'), /default-src 'self'/);
  const html = await page.text();
  t.match(html, /<div id="map">/);
  t.match(html, /data-max-zoom="7"/);
  t.match(html, /src="\/static\/leaflet\.js"/);
  t.notMatch(html, /https?:\/\//, 'nothing from a CDN');

  const js = await fetch(`${h.base}/static/leaflet.js`);
  t.equal(js.status, 200);
  t.match(js.headers.get('content-type'), /^text\/javascript/);
  t.match(await js.text(), /Leaflet/);
  t.equal(js.headers.get('content-encoding'), 'gzip', 'fetch asks for gzip and gets it');
  const etag = js.headers.get('etag')!;
  const cached = await fetch(`${h.base}/static/leaflet.js`, { headers: { 'if-none-match': etag } });
  t.equal(cached.status, 304);
  for (const path of ['/static/leaflet.css', '/static/viewer.js', '/static/viewer.css']) {
    const res = await fetch(h.base + path);
    t.equal(res.status, 200, path);
    await res.arrayBuffer();
  }
  const plain = await rawGet(h.http.address().port, '/static/viewer.css');
  t.equal(plain.status, 200);
  t.equal(plain.headers['content-encoding'], undefined, 'no gzip unless asked for');
  t.match(plain.body, /#map/);
  const missing = await fetch(`${h.base}/static/../package.json`);
  t.equal(missing.status, 404);
  await missing.arrayBuffer();
  const unknown = await fetch(`${h.base}/static/leaflet.js.map`);
  t.equal(unknown.status, 404);
  await unknown.arrayBuffer();
});

t.test('close() stops listening and ends keep-alive connections; it is idempotent', async (t) => {
  const h = await startHttpDaemon(t);
  const port = h.http.address().port;
  const agent = new http.Agent({ keepAlive: true });
  t.teardown(() => agent.destroy());
  const first = await rawGet(port, '/healthz', agent);
  t.equal(first.status, 200);
  const sockets = Object.values(agent.freeSockets).flat();
  t.equal(sockets.length, 1, 'one idle keep-alive socket');
  const closed = once(sockets[0]!, 'close');
  await Promise.all([h.http.close(), h.http.close()]);
  await closed;
  await h.http.close();
  await t.rejects(rawGet(port, '/healthz'), { code: 'ECONNREFUSED' });
});

function rawGet(port: number, path: string, agent?: http.Agent): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, ...(agent ? { agent } : {}) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}
