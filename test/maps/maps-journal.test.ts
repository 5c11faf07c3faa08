/**
 * Accepted tile requests of a named map survive kill -9 like the default
 * map's: restarted on the same folders, the queued `NAME/Z/X/Y` requests
 * render on their map (into its folder) and are announced under that name.
 */
import t from 'tap';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { freePort, OrderedListener, tempDir, waitUntil } from '../hardening/fixtures/lib.js';
import { kill9, send, serve, stats } from '../durability/fixtures.js';

// 24 tiles of map big at z10, each in its own 2×2 metatile: one render each, on one worker.
const TILES = Array.from({ length: 24 }, (_, i) => `big/10/${536 + 2 * (i % 6)}/${336 + 2 * Math.floor(i / 6)}`);

t.test('tiles of a named map queued at a kill -9 are rendered on that map and announced as NAME/Z/X/Y after the restart', async (t) => {
  const dir = await tempDir(t);
  const config = path.join(dir, 'config.json');
  await writeFile(config, JSON.stringify({ maps: [{ name: 'big', tileSize: 512, metatile: 2 }] }));
  const s = { dir: path.join(dir, 'tiles'), callbackPort: await freePort(), extra: ['--config', config, '--state-dir', path.join(dir, 'state')] };
  const listener = await OrderedListener.listen(s.callbackPort);
  t.teardown(() => listener.close());

  const port1 = await freePort();
  const first = await serve(t, s, port1);
  await send(port1, TILES.map((n) => `${n}\n`).join(''));
  await waitUntil('tiles queued', async () => ((await stats(port1)).tiles.queued['interactive']! > 0 ? true : undefined), 60_000, 20);
  await kill9(first);

  const port2 = await freePort();
  const second = await serve(t, s, port2);
  t.match(second.output(), /journal: resuming/, 'the restart re-queues tiles from the journal');
  t.notMatch(second.output(), /does not parse|no longer valid/, 'every map tile record is taken back');
  await listener.until('every tile announced', (lines) => TILES.every((n) => lines.includes(n)), 120_000);
  for (const name of TILES) {
    const [, z, x, y] = name.split('/');
    const meta = await sharp(path.join(s.dir, 'big', `${z}_${x}_${y}.png`)).metadata();
    t.equal(meta.width, 512, `${name} is a 512 px tile in <tiles-dir>/big`);
  }
  await send(port2, 'stop\n');
  t.equal((await second.exited).code, 0);
});
