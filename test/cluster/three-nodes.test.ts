/**
 * Issue 12: three real `mosaicd serve --queue` processes, one private
 * redis-server, one tiles folder. A client of any node hears about tiles
 * that other nodes rendered; a metatile asked on every node renders once.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { exitCodeOf } from '../helpers/processes.js';
import { compileSeedClient, freePortPair, noticesPrinted, requireMono, runSeedClient } from '../helpers/csharp-seed-client.js';
import { listenTo, metatilesOf, pyramidNames, requireCluster, startCluster } from './three-nodes-harness.js';

t.test('a metatile asked on all three nodes at once renders once, and every node notifies its own client of every tile', async (t) => {
  if (!requireCluster(t)) return;
  const { nodes } = await startCluster(t);
  const listeners = await Promise.all(nodes.map((n) => listenTo(t, n)));
  const names = pyramidNames(0, 5); // 1,365 tiles in 24 metatiles
  // The same lines to every node at the same time: each metatile is wanted by three nodes.
  await Promise.all(nodes.map((n) => n.client.request(names)));
  const heard = await Promise.all(listeners.map((l) => l.waitFor(names, 60_000)));
  for (const [i, notices] of heard.entries()) {
    const errors = notices.filter((n) => n.type === 'error');
    t.same(errors, [], `node ${nodes[i]!.name}'s client: ${names.length} tile notices, no error notice`);
  }
  const renders = await Promise.all(nodes.map((n) => n.renders()));
  t.comment(`renders per node: ${nodes.map((n, i) => `${n.name} ${renders[i]}`).join(', ')}`);
  t.equal(renders.reduce((a, b) => a + b, 0), metatilesOf(names), `${metatilesOf(names)} metatiles, each rendered once across the cluster`);
  t.ok(renders.filter((r) => r > 0).length >= 2, 'the work was shared (at least two nodes rendered)');
});

t.test("the seed's C# client on node A hears every notice, done last, for tiles nodes B and C rendered; stop on A leaves B and C running", async (t) => {
  if (!requireCluster(t) || !requireMono(t)) return;
  const port = await freePortPair();
  // The seed's two tiles (one metatile) and one tile of each of 11 more z16 metatiles beside them,
  // so that with one render slot per node, B and C take some of the jobs A accepted.
  const tiles = ['16_58001_25480', '16_58001_25481', ...Array.from({ length: 11 }, (_, i) => `16_${58001 + 8 * (i + 1)}_25480`)];
  const exe = await compileSeedClient(t, { port, lines: [...tiles, 'stop'] });
  const { nodes, tilesDir } = await startCluster(t, { ports: [{ port, callbackPort: port + 1 }] });
  const [a, b, c] = nodes as [typeof nodes[0], typeof nodes[0], typeof nodes[0]];

  const client = runSeedClient(t, exe);
  const printed = await client.untilDone(60_000);
  t.equal(await exitCodeOf(a.child), 0, 'node A drains and exits 0 after stop');
  client.kill();
  const heard = noticesPrinted(printed);
  t.same([...heard].filter((n) => n !== 'done').sort(), [...tiles].sort(), 'one notice for every tile, no error');
  t.equal(heard.at(-1), 'done', 'done is printed last');

  const fromOthers = (await b.renders()) + (await c.renders());
  t.ok(fromOthers >= 1, `nodes B and C rendered ${fromOthers} of the ${metatilesOf(tiles)} metatiles A accepted`);
  t.ok(await b.client.ping(), 'node B still runs after A stopped');
  t.ok(await c.client.ping(), 'node C still runs after A stopped');
  for (const name of tiles) {
    const file = path.join(tilesDir, `${name}.png`);
    t.ok(existsSync(file), `${name}.png is in the shared folder`);
    const { width, height, format } = await sharp(file).metadata();
    t.same([format, width, height], ['png', 256, 256], `${name}.png decodes as a 256×256 PNG`);
  }
});
