/**
 * `renderer: "tirex"` maps in a real daemon: Debian's tirex Mapnik backend
 * drawing the test style (made at test time from world-atlas) and the
 * example Python backend, asked for as NAME/Z/X/Y over the line protocol,
 * answered by notices and PNGs decoded back; a backend killed mid-job; and
 * start-up refusing a grid the backend cannot serve or a backend that
 * disables itself. The renderer's own faults are covered in test/render/tirex/.
 */
import t from 'tap';
import net from 'node:net';
import { once } from 'node:events';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { Daemon } from '../../src/daemon.js';
import { silentLogger } from '../../src/log.js';
import { metatilePath } from '../../src/render/tirex/metatile-file.js';
import { startDaemon, tempDir } from '../helpers/daemon.js';
import { requireProgram } from '../helpers/processes.js';
import { DEJAVU_DIR, writeTestStyle } from '../fixtures/map-style/make-style.js';
import { EXAMPLE_BACKEND, FAULT_BACKEND, tileColour, until } from '../render/tirex/helpers.js';

const MAPNIK_BACKEND = '/usr/libexec/tirex-backend-mapnik';
const PLUGINS = ['/usr/share/tirex/mapnik/input', '/usr/lib/x86_64-linux-gnu/mapnik/3.1/input'].find((d) => existsSync(d));

async function send(port: number, text: string): Promise<void> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  await once(socket, 'connect');
  socket.end(text);
  await once(socket, 'close');
}

/** Width, distinct colours and the top-left pixel of a PNG file. */
async function look(file: string): Promise<{ width: number; colours: number; corner: number[] }> {
  const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const seen = new Set<number>();
  for (let i = 0; i < data.length; i += 3) seen.add((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!);
  return { width: info.width, colours: seen.size, corner: [data[0]!, data[1]!, data[2]!] };
}

t.test('tirex maps in the daemon: NAME/Z/X/Y from Debian\'s Mapnik backend and from the example Python backend, each answered by a notice and a PNG that decodes', async (t) => {
  if (!requireProgram(t, MAPNIK_BACKEND, 'tirex') || !requireProgram(t, 'python3', 'python3')) return;
  const dir = await tempDir(t, 'mosaicd-tirex-maps-');
  const { xmlPath } = await writeTestStyle(path.join(dir, 'style'));
  const h = await startDaemon(t, {
    concurrency: 2,
    maps: [
      {
        name: 'world',
        renderer: 'tirex',
        maxZoom: 6,
        tirex: {
          backend: MAPNIK_BACKEND,
          config: PLUGINS === undefined ? { fontdir: DEJAVU_DIR } : { plugindir: PLUGINS, fontdir: DEJAVU_DIR },
          map: { tiledir: path.join(dir, 'meta-world'), mapfile: xmlPath, maxz: 8 },
        },
      },
      { name: 'mine', renderer: 'tirex', tirex: { backend: EXAMPLE_BACKEND, procs: 2, map: { tiledir: path.join(dir, 'meta-mine'), maxz: 10 } } },
    ],
  });
  t.match(h.daemon.maps.get('world'), { renderer: 'tirex', metatile: 8, tileSize: 256, minZoom: 0, maxZoom: 6 }, 'the grid follows the backend (8×8 of 256 px); maxZoom as set');
  t.match(h.daemon.maps.get('mine'), { maxZoom: 10 }, 'maxZoom defaults to the tirex map\'s maxz');

  await send(h.port, 'world/0/0/0\nworld/4/8/5\nmine/5/9/17\n');
  const notices = await h.listener!.waitFor(['world/0/0/0', 'world/4/8/5', 'mine/5/9/17']);
  t.same(notices.map((n) => n.type), ['tile', 'tile', 'tile'], JSON.stringify(notices));
  const z0 = await look(path.join(h.tilesDir, 'world', '0_0_0.png'));
  t.equal(z0.width, 256);
  t.ok(z0.colours > 4, `the world tile has sea, land, borders and labels (${z0.colours} colours)`);
  t.ok((await look(path.join(h.tilesDir, 'world', '4_8_5.png'))).colours > 1, 'a z4 tile of Europe is not one flat colour');
  const mine = await look(path.join(h.tilesDir, 'mine', '5_9_17.png'));
  t.same(mine.corner, tileColour(5, 9, 17), 'the example backend\'s tile has its own colour');
  t.notOk(existsSync(metatilePath(path.join(dir, 'meta-mine'), 5, 8, 16)), 'the .meta file is deleted once cut into tiles');

  await send(h.port, 'world/7/0/0\n');
  const [tooDeep] = await h.listener!.waitFor(['world/7/0/0']);
  t.match(tooDeep, { type: 'error', reason: /above the max zoom 6/ }, 'a zoom past the map\'s is an error notice');
});

t.test('a tirex backend killed (SIGKILL) mid-job: that tile is retried on its replacement, and the daemon keeps serving', async (t) => {
  if (!requireProgram(t, 'python3', 'python3')) return;
  const dir = await tempDir(t, 'mosaicd-tirex-maps-');
  const tiledir = path.join(dir, 'meta');
  const h = await startDaemon(t, {
    concurrency: 1,
    maps: [{ name: 'slow', renderer: 'tirex', tirex: { backend: FAULT_BACKEND, config: { fault: 'slow', slow_ms: 300 }, map: { tiledir } } }],
  });
  await send(h.port, 'slow/3/1/2\n');
  // The fault backend touches rendering.<pid> as it starts drawing: the seam for "mid-job".
  const marker = await until(() => (existsSync(tiledir) ? readdirSync(tiledir).find((f) => f.startsWith('rendering.')) : undefined));
  const pid = Number(marker.split('.')[1]);
  process.kill(pid, 'SIGKILL');
  const [retried] = await h.listener!.waitFor(['slow/3/1/2']);
  t.equal(retried!.type, 'tile', `the killed job came back from the replacement (${JSON.stringify(retried)})`);
  t.equal((await look(path.join(h.tilesDir, 'slow', '3_1_2.png'))).width, 256, 'and its PNG decodes');
  t.ok(readdirSync(tiledir).some((f) => f.startsWith('rendering.') && f !== marker), 'a new backend process drew it');

  await send(h.port, 'slow/2/0/0\n1_0_0\n');
  t.same((await h.listener!.waitFor(['slow/2/0/0', '1_0_0'])).map((n) => n.type), ['tile', 'tile'], 'the tirex map and the default map keep rendering');
});

t.test('start-up refuses a tirex map whose grid its backend cannot serve, with one message naming the map and the field', async (t) => {
  const dir = await tempDir(t, 'mosaicd-tirex-maps-');
  const maps = [{ name: 'mine', renderer: 'tirex' as const, metatile: 4, tirex: { backend: EXAMPLE_BACKEND, map: { tiledir: path.join(dir, 'meta') } } }];
  await t.rejects(
    Daemon.start({ port: 0, tilesDir: path.join(dir, 'tiles'), maps, inference: false, logLevel: 'silent' }, { log: silentLogger() }),
    { code: 'CONFIG_ERROR', message: 'maps: map "mine": metatile 4, but its tirex backend draws 8×8 metatiles (metarowscols): set "metatile": 8' },
  );
  t.notOk(existsSync(path.join(dir, 'meta')), 'no backend was started');
});

t.test('a tirex backend that disables itself (exit code 10) stops start-up with CONFIG_ERROR naming the map and the backend\'s message', async (t) => {
  if (!requireProgram(t, 'python3', 'python3')) return;
  const dir = await tempDir(t, 'mosaicd-tirex-maps-');
  const maps = [{ name: 'locked', renderer: 'tirex' as const, tirex: { backend: FAULT_BACKEND, config: { fault: 'disable' }, map: { tiledir: path.join(dir, 'meta') } } }];
  await t.rejects(
    Daemon.start({ port: 0, tilesDir: path.join(dir, 'tiles'), maps, inference: false, logLevel: 'silent' }, { log: silentLogger() }),
    { code: 'CONFIG_ERROR', message: /^map "locked": tirex backend fault_backend\.py .* exited with code 10 .*licence key missing/ },
  );
});
