/**
 * Mapnik options from a map's config reach the render processes: a
 * truecolour map's tiles decode as RGBA where the default map's are palette
 * PNGs, a 512 px map at scale 2 renders, and `strict` makes Mapnik refuse a
 * style it would otherwise load.
 */
import t from 'tap';
import net from 'node:net';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { Daemon } from '../../src/daemon.js';
import { silentLogger } from '../../src/log.js';
import { mapnikOptionsOf } from '../../src/maps/map-renderer-factory.js';
import { startDaemon } from '../helpers/daemon.js';
import { tempStyle } from '../render/mapnik/helpers.js';
import { DEJAVU_DIR } from '../fixtures/map-style/make-style.js';

async function send(port: number, text: string): Promise<void> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  await once(socket, 'connect');
  socket.end(text);
  await once(socket, 'close');
}

/** PNG colour types (IHDR): 3 indexed, 6 truecolour with alpha. */
const PALETTE = 3, RGBA = 6;
async function colourType(file: string): Promise<number> {
  const png = await readFile(file);
  if (png.toString('latin1', 12, 16) !== 'IHDR') throw new Error(`${file}: not a PNG`);
  return png[25]!;
}

t.test('a map with format "png" gets truecolour RGBA tiles, the style\'s default map palette tiles; a 512 px map at scale 2 renders 512 px tiles', async (t) => {
  const style = await tempStyle(t);
  const h = await startDaemon(t, {
    style: style.xmlPath,
    concurrency: 1,
    maps: [
      { name: 'rgba', style: style.xmlPath, format: 'png', fontsDir: DEJAVU_DIR },
      { name: 'hidpi', style: style.xmlPath, tileSize: 512, metatile: 4, scale: 2, bufferSize: 64 },
    ],
  });
  t.match(mapnikOptionsOf(h.daemon.maps.get('hidpi')), { tileSize: 512, scale: 2, bufferSize: 64, format: 'png256', strict: false }, 'the renderer gets the map\'s options');
  t.same(mapnikOptionsOf(h.daemon.maps.default), { stylePath: style.xmlPath, tileSize: 256, format: 'png256', scale: 1, strict: false }, '--style keeps the renderer\'s defaults');

  await send(h.port, '2_2_1\nrgba/2/2/1\nhidpi/2/2/1\n');
  t.same((await h.listener!.waitFor(['2_2_1', 'rgba/2/2/1', 'hidpi/2/2/1'])).map((n) => n.type), ['tile', 'tile', 'tile']);
  t.equal(await colourType(path.join(h.tilesDir, '2_2_1.png')), PALETTE, 'the default map\'s tile is a palette PNG');
  t.equal(await colourType(path.join(h.tilesDir, 'rgba', '2_2_1.png')), RGBA, 'the truecolour map\'s tile is an RGBA PNG');
  const { info } = await sharp(path.join(h.tilesDir, 'rgba', '2_2_1.png')).raw().toBuffer({ resolveWithObject: true });
  t.same([info.width, info.channels], [256, 4], 'and decodes to 256 px of four channels');
  const hidpi = await sharp(path.join(h.tilesDir, 'hidpi', '2_2_1.png')).metadata();
  t.same([hidpi.width, hidpi.height], [512, 512], 'the scale-2 map\'s tile is 512 px');
});

t.test('strict: true makes a style attribute Mapnik does not know a start-up CONFIG_ERROR; without it the same style loads', async (t) => {
  const style = await tempStyle(t);
  const loose = path.join(style.dir, 'loose.xml');
  await writeFile(loose, (await readFile(style.xmlPath, 'utf8')).replace('<Map ', '<Map no-such-attribute="1" '));
  const start = (strict: boolean) =>
    Daemon.start(
      { port: 0, tilesDir: path.join(style.dir, 'tiles'), maps: [{ name: 'm', style: loose, strict }], inference: false, logLevel: 'silent', concurrency: 1 },
      { log: silentLogger() },
    );
  await t.rejects(start(true), { code: 'CONFIG_ERROR', message: /Mapnik style .*loose\.xml does not load: [\s\S]*attribute 'no-such-attribute'/ });
  const daemon = await start(false);
  t.teardown(() => daemon.destroy());
  t.pass('non-strict (renderd\'s way) loads it');
});
