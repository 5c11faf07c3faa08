/**
 * Debian's own tirex Mapnik backend (/usr/libexec/tirex-backend-mapnik,
 * Mapnik 3.1) behind TirexRenderer, drawing the Mapnik renderer's test style
 * (made at test time from world-atlas): real process, real UDP, real .meta files, PNGs decoded back.
 */
import t from 'tap';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { createTirexRenderer } from '../../../src/render/tirex/tirex-renderer.js';
import { requireProgram } from '../../helpers/processes.js';
import { DEJAVU_DIR, writeTestStyle } from '../../fixtures/map-style/make-style.js';
import { tempDir } from './helpers.js';

const BACKEND = '/usr/libexec/tirex-backend-mapnik';
const PLUGINS = ['/usr/share/tirex/mapnik/input', '/usr/lib/x86_64-linux-gnu/mapnik/3.1/input'].find((d) => existsSync(d));

/** Distinct colours in a decoded tile. */
async function colours(png: Uint8Array): Promise<number> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  const seen = new Set<number>();
  for (let i = 0; i < data.length; i += info.channels) seen.add((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!);
  return seen.size;
}

t.test('Debian\'s tirex Mapnik backend renders a world-atlas style behind TirexRenderer: 8×8 metatiles of 256 px PNGs with land, sea and labels', async (t) => {
  if (!requireProgram(t, BACKEND, 'tirex')) return;
  const dir = tempDir(t);
  const { xmlPath: style } = await writeTestStyle(path.join(dir, 'style')); // the Mapnik renderer's test style (world-atlas, DejaVu labels)
  const tiledir = path.join(dir, 'tiles');
  // A tirex map .conf as /etc/tirex/renderer/mapnik/*.conf has it, moved over unchanged.
  const mapConf = path.join(dir, 'world.conf');
  writeFileSync(mapConf, `name=world\ntiledir=${tiledir}\nmapfile=${style}\nmaxz=8\n`);
  const renderer = await createTirexRenderer({
    rendererConfig: '/etc/tirex/renderer/mapnik.conf', // path, procs=3, port, plugindir, fontdir, fontdir_recurse
    procs: 1,
    port: 0,
    config: PLUGINS === undefined ? {} : { plugindir: PLUGINS, fontdir: DEJAVU_DIR },
    mapConfigs: [mapConf],
  });
  t.teardown(() => renderer.close());
  t.equal(renderer.options.program, BACKEND, 'the program comes from the renderer .conf');

  const world = await renderer.renderMetaTile({ z: 0, x: 0, y: 0, size: 1 });
  t.equal(world.length, 1, 'z0: one tile');
  t.ok((await colours(world[0]!.png)) > 4, 'the world tile is not uniform (sea, land, borders, text)');

  const europe = await renderer.renderMetaTile({ z: 4, x: 8, y: 0, size: 8 });
  t.equal(europe.length, 64, 'z4: a whole 8×8 metatile');
  const meta = await sharp(europe[0]!.png).metadata();
  t.equal(meta.width, 256, '256 px tiles');
  t.equal(meta.format, 'png');
  const counts = await Promise.all(europe.map((tile) => colours(tile.png)));
  t.ok(counts.filter((n) => n > 2).length >= 8, `tiles with coast, borders or labels: ${counts.filter((n) => n > 2).length} of 64`);
  t.ok(counts.some((n) => n === 1), 'and tiles of open sea are one colour');
});

t.test('Debian\'s Mapnik backend with a style that does not load: start-up fails with an error carrying the backend\'s own message', async (t) => {
  if (!requireProgram(t, BACKEND, 'tirex')) return;
  const dir = tempDir(t);
  await t.rejects(
    createTirexRenderer({
      backend: BACKEND,
      config: PLUGINS === undefined ? {} : { plugindir: PLUGINS, fontdir: DEJAVU_DIR },
      map: { name: 'broken', tiledir: path.join(dir, 'tiles'), mapfile: path.join(dir, 'missing.xml') },
    }),
    { code: 'PROCESSING_ERROR', message: /exits before it is ready \(exit code \d+; its last output: .*Cannot load any Mapnik styles/ },
  );
});
