/**
 * The seed's C# client, unchanged but for its port (12345 is the seed test's;
 * this one runs beside it), against `mosaicd serve --style STYLE.xml`: it
 * hears its notices and `done`, and the tiles are real PNGs of the style.
 */
import t from 'tap';
import path from 'node:path';
import sharp from 'sharp';
import { tempDir } from '../helpers/daemon.js';
import { exitCodeOf, spawnMosaicd } from '../helpers/processes.js';
import { compileSeedClient, freePortPair, requireMono, runSeedClient } from '../helpers/csharp-seed-client.js';
import { tempStyle } from '../render/mapnik/helpers.js';
import { LAND } from '../fixtures/map-style/make-style.js';
import { TileClient } from '../../src/client/tile-client.js';

t.test('the seed C# client against mosaicd serve --style: its notices, done, and PNGs of the style', async (t) => {
  if (!requireMono(t)) return;
  const dir = await tempDir(t);
  const style = await tempStyle(t);
  const port = await freePortPair();
  const exe = await compileSeedClient(t, { port });

  const tilesDir = path.join(dir, 'tiles');
  const daemon = spawnMosaicd(t, ['serve', '--port', String(port), '--tiles-dir', tilesDir, '--style', style.xmlPath, '--no-inference', '--concurrency', '1', '--log-level', 'warn']);
  for (let i = 0; ; i++) {
    try {
      if (await new TileClient({ port }).ping()) break;
    } catch {
      if (i > 600) throw new Error(`the daemon did not answer on ${port}: ${daemon.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const client = runSeedClient(t, exe);
  const printed = await client.untilDone();
  t.equal(await exitCodeOf(daemon), 0, 'the daemon exits 0 after stop');
  client.kill();
  t.match(printed, /受信: 16_58001_25480/);
  t.match(printed, /受信: 16_58001_25481/);
  t.ok(printed.indexOf('受信: done') > printed.lastIndexOf('受信: 16_58001'), 'done is printed last');
  for (const name of ['16_58001_25480', '16_58001_25481']) {
    const { data, info } = await sharp(path.join(tilesDir, `${name}.png`)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    t.same([info.width, info.height], [256, 256], `${name}.png is a 256×256 PNG`);
    // Central Japan at z16: the style's land colour fills most of it.
    const land = [1, 3, 5].map((i) => parseInt(LAND.slice(i, i + 2), 16));
    let landPixels = 0;
    for (let i = 0; i < data.length; i += 3) if (data[i] === land[0] && data[i + 1] === land[1] && data[i + 2] === land[2]) landPixels++;
    t.ok(landPixels > (256 * 256) / 2, `${name}: ${landPixels} pixels of the style's land colour ${LAND}`);
  }
});
