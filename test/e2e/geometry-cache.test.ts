/**
 * The geometry cache through real daemons (bin/mosaicd.js from dist/): the
 * first daemon builds a level and leaves its file in --cache-dir; the next
 * daemons with the same folder (threads, then --isolation process) load it
 * instead of building it (their debug log says so) and write the same tile.
 */
import t, { type Test } from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { OrderedListener, exchange, freePort, spawnDaemon, tempDir, within } from '../hardening/fixtures/lib.js';

const LOADED = /"msg":"geometry level 2 loaded from the geometry cache"/;
const BUILT = /"msg":"geometry level 2 built"/;

/** Starts a daemon on `cacheDir`, renders 2_0_0, stops it gracefully; its tile and its output. */
async function renderWith(t: Test, cacheDir: string, extra: string[] = []): Promise<{ png: Buffer; output: string }> {
  const tilesDir = await tempDir(t);
  const port = await freePort();
  const callbackPort = await freePort();
  const listener = await OrderedListener.listen(callbackPort);
  t.teardown(() => listener.close());
  const child = spawnDaemon(t, [
    'serve', '--port', String(port), '--callback-port', String(callbackPort), '--tiles-dir', tilesDir, '--cache-dir', cacheDir,
    '--no-inference', '--no-journal', '--concurrency', '1', '--log-level', 'debug', ...extra,
  ]);
  await child.waitForOutput('mosaicd listening');
  t.equal(await exchange(port, '2_0_0\n\n'), '\n', 'the tile is done');
  child.proc.kill('SIGTERM');
  const { code } = await within(child.exited, 30_000, 'the daemon stopping');
  t.equal(code, 0, 'a clean stop');
  return { png: readFileSync(path.join(tilesDir, '2_0_0.png')), output: child.output() };
}

t.test('a second daemon on the same --cache-dir loads the level the first one built and writes the same tile', async (t) => {
  const cacheDir = await tempDir(t);
  const first = await renderWith(t, cacheDir);
  t.match(first.output, BUILT, 'the first daemon built level 2');
  const folders = readdirSync(cacheDir);
  t.equal(folders.length, 1, 'one content-key folder');
  t.same(readdirSync(path.join(cacheDir, folders[0]!)), ['level-2.bin'], 'holding the level file');

  const second = await renderWith(t, cacheDir);
  t.match(second.output, LOADED, 'the second daemon loaded it');
  t.notMatch(second.output, BUILT, 'and did not build it');
  t.ok(second.png.equals(first.png), 'the same tile, byte for byte');

  const processes = await renderWith(t, cacheDir, ['--isolation', 'process']);
  t.match(processes.output, LOADED, 'a render process loads it too');
  t.notMatch(processes.output, BUILT);
  t.ok(processes.png.equals(first.png));
  t.notMatch(first.output + second.output + processes.output, /"level":40/, 'no warning');
});
