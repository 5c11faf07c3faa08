/**
 * kill -9 of a real daemon (bin/mosaicd.js from dist/) while it renders a
 * seed on two workers, then a restart on the same tiles folder: every tile
 * file decodes as a whole PNG (writes are temp file + rename), and the
 * temporary files the killed process left behind are removed at start-up.
 */
import t from 'tap';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { connect, exchange, freePort, spawnDaemon, tempDir, waitUntil, within } from './fixtures/lib.js';

const isTemp = (name: string) => name.endsWith('.tmp');
const isTile = (name: string) => /^\d+_\d+_\d+\.png$/.test(name);

t.test('kill -9 during a busy render: on restart no tile is truncated and no temporary file remains', async (t) => {
  const dir = await tempDir(t);
  const callbackPort = await freePort();
  const args = (port: number) => ['serve', '--port', String(port), '--callback-port', String(callbackPort), '--tiles-dir', dir, '--no-inference', '--concurrency', '2', '--log-level', 'info'];

  const port = await freePort();
  const first = spawnDaemon(t, args(port));
  await first.waitForOutput('mosaicd listening');
  // Seed zoom 5 (1,024 tiles, 16 metatiles of 64) at bulk priority on one connection.
  // z5 draws from the 50m data: z6 and deeper would add the 10m build to both starts.
  const seed = await connect(port);
  t.teardown(() => seed.destroy());
  let lines = '';
  for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) lines += `bulk 5_${x}_${y}\n`;
  seed.write(lines);
  await waitUntil('a few metatiles on disk', async () => (await readdir(dir)).filter(isTile).length >= 192, 60_000, 5);

  // A leftover of the process about to die, in case the kill lands between writes.
  const planted = `.5_0_0.png.mosaicd-${first.proc.pid}-999999-deadbeef.tmp`;
  await writeFile(path.join(dir, planted), Buffer.from('\x89PNG half a tile'));
  first.proc.kill('SIGKILL');
  const { signal } = await within(first.exited, 10_000, 'the daemon dying');
  t.equal(signal, 'SIGKILL');
  const afterKill = await readdir(dir);
  const leftovers = afterKill.filter(isTemp);
  t.ok(leftovers.includes(planted));
  t.comment(`killed with ${afterKill.filter(isTile).length} tiles on disk and ${leftovers.length} temporary files (${leftovers.length - 1} left by the kill itself)`);

  const port2 = await freePort();
  const second = spawnDaemon(t, args(port2));
  await second.waitForOutput('mosaicd listening');
  const removed = /"removed":(\d+)[^\n]*removed temporary tile files left by an earlier crash/.exec(second.output());
  t.ok(removed, 'the restart reports the clean-up');
  t.equal(Number(removed?.[1]), leftovers.length, `it removed all ${leftovers.length}`);
  const now = await readdir(dir);
  t.same(now.filter(isTemp), [], 'no temporary file remains');

  const tiles = now.filter(isTile);
  let decoded = 0;
  for (const name of tiles) {
    const bytes = await readFile(path.join(dir, name));
    const { info } = await sharp(bytes, { failOn: 'truncated' }).raw().toBuffer({ resolveWithObject: true });
    if (info.width === 256 && info.height === 256) decoded++;
    else t.fail(`${name} is ${info.width}×${info.height}`);
  }
  t.equal(decoded, tiles.length, `all ${tiles.length} tiles decode as whole 256×256 PNGs`);

  // The restarted daemon serves, from the same folder.
  t.equal(await exchange(port2, 'ping\n'), 'pong\n');
  t.equal(await exchange(port2, '4_15_15\n\n'), '\n', 'and renders (a tile the seed did not cover)');
});
