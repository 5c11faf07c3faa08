import t from 'tap';
import { existsSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { tempDir } from '../helpers/daemon.js';
import { exitCodeOf, spawnMosaicd } from '../helpers/processes.js';
import { compileSeedClient, requireMono, runSeedClient } from '../helpers/csharp-seed-client.js';

// The C# test program from the end of seeds/001, unchanged: it listens on
// 12346, sends "16_58001_25480\n16_58001_25481\nstop\n" to 12345 and prints
// every notice it hears. It never exits by itself, so the test ends it.
t.test('the seed C# client works unchanged against mosaicd serve', async (t) => {
  if (!requireMono(t)) return;
  const dir = await tempDir(t);
  const exe = await compileSeedClient(t);

  const tilesDir = path.join(dir, 'tiles');
  const daemon = spawnMosaicd(t, ['serve', '--port', '12345', '--tiles-dir', tilesDir, '--log-level', 'warn']);
  await waitForReady(12345);

  const client = runSeedClient(t, exe);
  const printed = await client.untilDone();
  // The listener is left running until the daemon has seen `done` delivered and exited.
  t.equal(await exitCodeOf(daemon), 0, 'the daemon exits 0 after stop');
  client.kill();
  t.match(printed, /受信: 16_58001_25480/);
  t.match(printed, /受信: 16_58001_25481/);
  t.ok(printed.indexOf('受信: done') > printed.lastIndexOf('受信: 16_58001'), 'done is printed last');

  for (const name of ['16_58001_25480', '16_58001_25481']) {
    const file = path.join(tilesDir, `${name}.png`);
    t.ok(existsSync(file), `${name}.png exists`);
    const { width, height } = await sharp(file).metadata();
    t.same([width, height], [256, 256]);
  }
});

async function waitForReady(port: number): Promise<void> {
  const { TileClient } = await import('../../src/client/tile-client.js');
  for (let i = 0; i < 600; i++) {
    try {
      if (await new TileClient({ port }).ping()) return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`daemon did not answer on ${port}`);
}
