/**
 * The seed's C# client, unchanged but for its port (12345 is the seed test's;
 * this one runs beside it), against `mosaicd serve --style STYLE.xml`: it
 * hears its notices and `done`, and the tiles are real PNGs of the style.
 */
import t from 'tap';
import net from 'node:net';
import { once } from 'node:events';
import { spawn, spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { tempDir } from '../helpers/daemon.js';
import { ROOT, exitCodeOf, requireProgram, spawnMosaicd, waitForOutput } from '../helpers/processes.js';
import { tempStyle } from '../render/mapnik/helpers.js';
import { LAND } from '../fixtures/map-style/make-style.js';
import { TileClient } from '../../src/client/tile-client.js';

/** A port P with P + 1 free too (the client listens on port + 1). */
async function freePortPair(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const a = net.createServer().listen({ host: '127.0.0.1', port: 0 });
    await once(a, 'listening');
    const port = (a.address() as net.AddressInfo).port;
    const b = net.createServer().listen({ host: '127.0.0.1', port: port + 1 });
    const ok = await Promise.race([once(b, 'listening').then(() => true), once(b, 'error').then(() => false)]);
    await Promise.all([new Promise((r) => a.close(r)), ok ? new Promise((r) => b.close(r)) : Promise.resolve()]);
    if (ok && port < 65534) return port;
  }
  throw new Error('no free port pair');
}

t.test('the seed C# client against mosaicd serve --style: its notices, done, and PNGs of the style', async (t) => {
  if (!requireProgram(t, 'mcs', 'mono-mcs') || !requireProgram(t, 'mono', 'mono-runtime')) return;
  const dir = await tempDir(t);
  const style = await tempStyle(t);
  const port = await freePortPair();
  const source = (await readFile(path.join(ROOT, 'test/fixtures/csharp/SeedClient.cs'), 'utf8')).replace('static int port = 12345;', `static int port = ${port};`);
  await writeFile(path.join(dir, 'SeedClient.cs'), source);
  const exe = path.join(dir, 'SeedClient.exe');
  const build = spawnSync('mcs', ['-out:' + exe, path.join(dir, 'SeedClient.cs')], { encoding: 'utf8' });
  t.equal(build.status, 0, `mcs compiles the seed client\n${build.stdout}${build.stderr}`);

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
  const client = spawn('mono', [exe], { env: { ...process.env, LANG: 'C.UTF-8' } });
  t.teardown(() => client.kill('SIGKILL'));
  const printed = await waitForOutput(client.stdout, '受信: done', 120_000);
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
