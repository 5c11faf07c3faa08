/**
 * Issue 12: the seed's C# client (test/fixtures/csharp/SeedClient.cs, only its
 * port and the string it sends changed) on node A of three, where A renders
 * nothing (`--queue-workers 0`): every notice it hears is for a tile node B or
 * C rendered, and its `stop` drains A alone.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { exitCodeOf } from '../helpers/processes.js';
import { compileSeedClient, freePortPair, noticesPrinted, requireMono, runSeedClient } from '../helpers/csharp-seed-client.js';
import { metatilesOf, requireCluster, startCluster } from './three-nodes-harness.js';

t.test("the seed's C# client on node A hears every notice, done last, for tiles nodes B and C rendered; stop on A leaves B and C running", async (t) => {
  if (!requireCluster(t) || !requireMono(t)) return;
  const port = await freePortPair();
  // The seed's two tiles (one metatile) and one tile of each of 11 more z16 metatiles beside them;
  // A renders nothing (--queue-workers 0), so B and C render every job A accepted.
  const tiles = ['16_58001_25480', '16_58001_25481', ...Array.from({ length: 11 }, (_, i) => `16_${58001 + 8 * (i + 1)}_25480`)];
  const exe = await compileSeedClient(t, { port, lines: [...tiles, 'stop'] });
  const { nodes, tilesDir } = await startCluster(t, { ports: [{ port, callbackPort: port + 1 }], workers: [0] });
  const [a, b, c] = nodes as [typeof nodes[0], typeof nodes[0], typeof nodes[0]];

  const client = runSeedClient(t, exe);
  const printed = await client.untilDone(60_000);
  t.equal(await exitCodeOf(a.child), 0, 'node A drains and exits 0 after stop');
  client.kill();
  const heard = noticesPrinted(printed);
  t.same([...heard].filter((n) => n !== 'done').sort(), [...tiles].sort(), 'one notice for every tile, no error');
  t.equal(heard.at(-1), 'done', 'done is printed last');

  const [rb, rc] = [await b.renders(), await c.renders()];
  t.comment(`renders: B ${rb}, C ${rc}`);
  t.equal(rb + rc, metatilesOf(tiles), `nodes B and C rendered all ${metatilesOf(tiles)} metatiles A accepted, each once`);
  t.ok(await b.client.ping(), 'node B still runs after A stopped');
  t.ok(await c.client.ping(), 'node C still runs after A stopped');
  for (const name of tiles) {
    const file = path.join(tilesDir, `${name}.png`);
    t.ok(existsSync(file), `${name}.png is in the shared folder`);
    const { width, height, format } = await sharp(file).metadata();
    t.same([format, width, height], ['png', 256, 256], `${name}.png decodes as a 256×256 PNG`);
  }
});
