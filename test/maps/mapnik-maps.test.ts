/**
 * Mapnik maps wired end to end: `style` makes the default map a Mapnik map
 * (rendered in child processes on the worker pool) next to a named builtin
 * map, over lines, frames and HTTP; a style that does not load stops
 * start-up; a datasource failing at render time is an error notice naming
 * the reason; a render process killed mid-job costs nothing but a retry.
 */
import t from 'tap';
import { once } from 'node:events';
import { execFileSync } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { startDaemon } from '../helpers/daemon.js';
import { exchange } from '../hardening/fixtures/lib.js';
import { spawnMosaicd } from '../helpers/processes.js';
import { tempStyle } from '../render/mapnik/helpers.js';
import { OCEAN } from '../fixtures/map-style/make-style.js';
import { FramedClient } from '../../src/client/framed-client.js';
import { Daemon } from '../../src/daemon.js';
import { silentLogger } from '../../src/log.js';

/** The top-left pixel's colour as #rrggbb. */
async function cornerColour(png: Buffer | string): Promise<string> {
  const { data } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return `#${[data[0]!, data[1]!, data[2]!].map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}

/** PIDs of the render worker processes (children of this test process). */
function renderProcesses(): number[] {
  const out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes('render-worker')).map((l) => Number(l.trim().split(/\s+/)[0]));
}

t.test('the default map drawn by Mapnik (style) and a named builtin map, over lines, frames and HTTP', async (t) => {
  const style = await tempStyle(t);
  const h = await startDaemon(t, { style: style.xmlPath, maps: [{ name: 'world' }], httpPort: 0, concurrency: 1 });
  // 3_0_4 and world/3/0/4: the Pacific at the equator, open sea on both maps.
  await exchange(h.port, '16_58001_25480\n3_0_4\nworld/3/0/4\n\n');
  const notices = await h.listener!.waitFor(['16_58001_25480', '3_0_4', 'world/3/0/4']);
  t.same(notices.map((n) => n.type), ['tile', 'tile', 'tile']);
  t.same((await sharp(path.join(h.tilesDir, '16_58001_25480.png')).metadata()).width, 256, 'the seed\'s tile is a 256 px PNG');
  t.equal(await cornerColour(path.join(h.tilesDir, '3_0_4.png')), OCEAN, 'the default map\'s tile is the style\'s (its ocean colour), drawn by Mapnik');
  t.not(await cornerColour(path.join(h.tilesDir, 'world', '3_0_4.png')), OCEAN, 'map world is the builtin map');
  t.equal(h.daemon.stats().render.isolation, 'process', 'the Mapnik map renders in processes');

  const client = await FramedClient.connect({ port: h.port });
  t.teardown(() => client.close());
  const framed = await client.request({ command: 'render', tile: '4_0_8' });
  t.equal(framed.json.success, true, JSON.stringify(framed.json.error));
  t.equal(await cornerColour(framed.images[0]!), OCEAN, 'a framed render of the Mapnik map');
  const res = await fetch(`http://127.0.0.1:${h.daemon.httpAddress()!.port}/tiles/2/0/0.png`);
  t.equal(res.status, 200);
  t.equal((await sharp(Buffer.from(await res.arrayBuffer())).metadata()).width, 256, 'an HTTP tile of the Mapnik map decodes');
  await exchange(h.port, 'nosuch/2/0/0\n');
  const [unknown] = await h.listener!.waitFor(['nosuch/2/0/0']);
  t.match(unknown, { type: 'error', reason: /unknown map nosuch \(maps: default, world\)/ });
});

t.test('a style that does not load stops start-up with one message naming the file and Mapnik\'s error', async (t) => {
  const style = await tempStyle(t);
  const bad = path.join(style.dir, 'bad.xml');
  await writeFile(bad, '<Map srs="epsg:3857"><Layer name="x"><Datasource><Parameter name="type">geojson</Parameter><Parameter name="file">missing.geojson</Parameter></Datasource></Layer></Map>');
  await t.rejects(
    Daemon.start({ port: 0, tilesDir: path.join(style.dir, 'tiles'), style: bad, inference: false, logLevel: 'silent' }, { log: silentLogger() }),
    { code: 'CONFIG_ERROR', message: new RegExp(`Mapnik style ${bad.replace(/[.]/g, '\\.')} does not load: .*missing\\.geojson`) },
  );
  const serve = spawnMosaicd(t, ['serve', '--port', '0', '--no-inference', '--tiles-dir', path.join(style.dir, 'tiles'), '--style', bad]);
  const [code] = await once(serve, 'exit');
  t.not(code, 0, 'mosaicd serve --style exits non-zero');
  t.match(serve.output(), /Mapnik style .*bad\.xml does not load/);
});

t.test('a datasource gone at render time: an error notice naming the reason, and the daemon keeps serving', async (t) => {
  const extra = `<Layer name="late" srs="+proj=merc +a=6378137 +b=6378137 +lat_ts=0.0 +lon_0=0.0 +x_0=0.0 +y_0=0.0 +k=1.0 +units=m +nadgrids=@null +wktext +no_defs +over">
    <StyleName>borders</StyleName>
    <Datasource><Parameter name="type">geojson</Parameter><Parameter name="file">borders.geojson</Parameter><Parameter name="cache_features">false</Parameter></Datasource>
  </Layer>`;
  const style = await tempStyle(t, { extraLayersXml: extra });
  const h = await startDaemon(t, { maps: [{ name: 'osm', style: style.xmlPath }], concurrency: 1 });
  await exchange(h.port, 'osm/1/0/0\n');
  t.match(await h.listener!.waitFor(['osm/1/0/0']), [{ type: 'tile' }], 'renders while the file is there');
  await rm(style.files.borders);
  await exchange(h.port, 'osm/2/0/0\n');
  const [failed] = await h.listener!.waitFor(['osm/2/0/0']);
  t.match(failed, { type: 'error', reason: /Mapnik could not render metatile 2\/0\/0: .*borders\.geojson/ });
  await exchange(h.port, '2_0_0\n');
  t.match(await h.listener!.waitFor(['2_0_0']), [{ type: 'tile' }], 'the builtin default map still renders');
});

t.test('a Mapnik render process killed with SIGKILL mid-job: the job is retried, the daemon keeps serving', async (t) => {
  const style = await tempStyle(t, { resolution: '50m' });
  const h = await startDaemon(t, { maps: [{ name: 'osm', style: style.xmlPath }], concurrency: 1 });
  await exchange(h.port, 'osm/1/0/0\n\n'); // the render process is up and has drawn once
  const before = renderProcesses();
  t.ok(before.length >= 1, `render processes: ${before.join(', ')}`);
  const started = exchange(h.port, 'osm/6/10/20\n');
  await new Promise((r) => setTimeout(r, 300)); // a seam for "mid-job": the z6 metatile takes longer than this
  for (const pid of renderProcesses()) process.kill(pid, 'SIGKILL');
  await started;
  const [n] = await h.listener!.waitFor(['osm/6/10/20'], 120_000);
  t.equal(n!.type, 'tile', `the killed job succeeded on its retry (${JSON.stringify(n)})`);
  await exchange(h.port, 'osm/2/1/1\n');
  t.match(await h.listener!.waitFor(['osm/2/1/1']), [{ type: 'tile' }], 'and the map keeps rendering');
  t.ok((h.daemon.stats().render.replaced ?? 0) >= 0);
});
