/**
 * Two builtin maps in one daemon (the default map and "big": 512 px,
 * truecolour, its own metatile), over lines, frames and HTTP: each map's
 * tiles go to its own folder in its own size, notices keep the shape the
 * request used, and an unknown map gets an UNKNOWN_MAP answer on every wire.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { startDaemon } from '../helpers/daemon.js';
import { exchange } from '../hardening/fixtures/lib.js';
import { FramedClient } from '../../src/client/framed-client.js';

const BIG = { name: 'big', tileSize: 512, palette: false, metatile: 2, maxZoom: 6 } as const;

t.test('lines: Z_X_Y stays on the default map, NAME/Z/X/Y goes to the named map, each in its folder and size', async (t) => {
  const h = await startDaemon(t, { maps: [BIG], concurrency: 1 });
  await exchange(h.port, '3_4_2\nbig/3/4/2\n\n');
  const notices = await h.listener!.waitFor(['3_4_2', 'big/3/4/2']);
  t.same(notices.map((n) => n.type), ['tile', 'tile'], 'both tiles are notified, each under the name it was asked by');
  const own = await sharp(path.join(h.tilesDir, '3_4_2.png')).metadata();
  const big = await sharp(path.join(h.tilesDir, 'big', '3_4_2.png')).metadata();
  t.same([own.width, own.isPalette], [256, true], 'the default map: 256 px palette, in the tiles folder itself');
  t.same([big.width, big.isPalette], [512, false], 'map big: 512 px truecolour, under <tiles-dir>/big/');
  t.notOk(existsSync(path.join(h.tilesDir, 'big', '3_0_0.png')), 'map big renders 2×2 metatiles, not the default 8×8');
  t.ok(existsSync(path.join(h.tilesDir, 'big', '3_5_3.png')), 'but the whole 2×2 block of its tile');
  t.same(h.daemon.stats().tiles.maps, { big: { renders: 1, tiles: 4 } }, 'stats count the named map\'s renders');
});

t.test('lines: the same metatile on two maps is two jobs; the same tile twice on one map coalesces', async (t) => {
  const h = await startDaemon(t, { maps: [{ name: 'other' }], metatile: 1, concurrency: 1 });
  await exchange(h.port, '5_1_1\nother/5/1/1\nother/5/1/1\n\n');
  await h.listener!.waitFor(['5_1_1', 'other/5/1/1']);
  const s = h.daemon.scheduler.stats();
  t.equal(s.rendered['5']?.renders, 2, 'one render per map');
  t.equal(s.coalesced, 1, 'the repeated request of map other joined its job');
});

t.test('lines: an unknown map, a zoom past the map\'s max zoom and a map viewport', async (t) => {
  const h = await startDaemon(t, { maps: [BIG], concurrency: 1 });
  await exchange(h.port, 'nosuch/1/0/0\nbig/7/0/0\nviewport nosuch 1 0 0 1 1\nviewport big 2 0 0 3 3\ncancel nosuch/1/0/0\n');
  const [unknown, deep] = await h.listener!.waitFor(['nosuch/1/0/0', 'big/7/0/0']);
  t.match(unknown, { type: 'error', reason: /^unknown map nosuch \(maps: default, big\)/ });
  t.match(deep, { type: 'error', reason: /zoom 7 is above the max zoom 6/ });
  const viewport = await h.listener!.waitFor(['viewport']);
  t.match(viewport[0], { type: 'error', reason: /unknown map nosuch/ }, 'a viewport on an unknown map is refused');
  await exchange(h.port, '1_0_0\n\n');
  await h.listener!.waitFor(['1_0_0']);
  t.same(h.daemon.scheduler.viewportOf('line:127.0.0.1'), { z: 2, minX: 0, minY: 0, maxX: 3, maxY: 3, map: 'big' }, 'the viewport is recorded on map big, and the daemon keeps serving');
});

t.test('frames: render takes "map" (or a NAME/Z/X/Y tile); an unknown map is UNKNOWN_MAP', async (t) => {
  const h = await startDaemon(t, { maps: [BIG], concurrency: 1 });
  const client = await FramedClient.connect({ port: h.port });
  t.teardown(() => client.close());
  const a = await client.request({ command: 'render', tile: '2_1_1', map: 'big' });
  t.equal(a.json.success, true, JSON.stringify(a.json.error));
  t.match(a.json.results[0], { tile: 'big/2/1/1', map: 'big', image_width: 512 });
  const b = await client.request({ command: 'render', tile: 'big/2/1/2' });
  t.match(b.json.results[0], { tile: 'big/2/1/2', image_width: 512 });
  const c = await client.request({ command: 'render', tile: '2_1_1' });
  t.match(c.json.results[0], { tile: '2_1_1', image_width: 256 }, 'no map: the default map, as before');
  t.notOk('map' in c.json.results[0]!, 'and no map field in its answer');
  const d = await client.request({ command: 'render', tile: '2_1_1', map: 'nosuch' });
  t.match(d.json, { success: false, error: { code: 'UNKNOWN_MAP', message: /unknown map nosuch/ } });
  const e = await client.request({ command: 'render', tile: 'big/2/1/1', map: 'other' });
  t.match(e.json, { success: false, error: { code: 'PROTOCOL_ERROR', message: /on map big, but map is "other"/ } });
  const f = await client.request({ command: 'viewport', client_id: 'f1', z: 1, min_x: 0, min_y: 0, max_x: 1, max_y: 1, map: 'big' });
  t.equal(f.json.success, true);
  t.same(h.daemon.scheduler.viewportOf('f1'), { z: 1, minX: 0, minY: 0, maxX: 1, maxY: 1, map: 'big' }, 'a framed viewport on map big');
  const g = await client.request({ command: 'cancel', tile: '2_0_0', map: 'nosuch' });
  t.match(g.json, { success: false, error: { code: 'UNKNOWN_MAP' } }, 'cancel checks the map too');
});

t.test('HTTP: /tiles/NAME/{z}/{x}/{y}.png serves the named map; the old path the default map; an unknown map is a 404', async (t) => {
  const h = await startDaemon(t, { maps: [BIG], httpPort: 0, concurrency: 1 }, { listener: false });
  const base = `http://127.0.0.1:${h.daemon.httpAddress()!.port}`;
  const big = await fetch(`${base}/tiles/big/1/0/0.png`);
  t.equal(big.status, 200);
  t.equal((await sharp(Buffer.from(await big.arrayBuffer())).metadata()).width, 512);
  const own = await fetch(`${base}/tiles/1/0/0.png`);
  t.equal((await sharp(Buffer.from(await own.arrayBuffer())).metadata()).width, 256);
  const unknown = await fetch(`${base}/tiles/nosuch/1/0/0.png`);
  t.equal(unknown.status, 404);
  t.match(await unknown.text(), /UNKNOWN_MAP/);
  const dotted = await fetch(`${base}/tiles/..%2F/1/0/0.png`);
  t.equal(dotted.status, 404, 'a name that is no map name is no map');
  const vp = await fetch(`${base}/viewport`, { method: 'POST', body: JSON.stringify({ client_id: 'c1', z: 1, min_x: 0, min_y: 0, max_x: 1, max_y: 1, map: 'big' }) });
  t.equal(vp.status, 204);
  t.same(h.daemon.scheduler.viewportOf('http:c1'), { z: 1, minX: 0, minY: 0, maxX: 1, maxY: 1, map: 'big' }, 'the viewport is recorded on map big');
  const bad = await fetch(`${base}/viewport`, { method: 'POST', body: JSON.stringify({ z: 1, min_x: 0, min_y: 0, max_x: 1, max_y: 1, map: 'nosuch' }) });
  t.equal(bad.status, 400);
  const metrics = await (await fetch(`${base}/metrics`)).text();
  t.match(metrics, /^mosaicd_map_renders_total\{map="big"\} 1$/m, '/metrics counts renders by map');
  t.match(metrics, /^mosaicd_map_renders_total\{map="default"\} 1$/m);
  const page = await (await fetch(`${base}/`)).text();
  t.match(page, /data-maps="\[\{&quot;name&quot;:&quot;default&quot;/, 'the viewer page lists the maps');
  t.match(page, /&quot;name&quot;:&quot;big&quot;,&quot;tileSize&quot;:512/);
});

