import t from 'tap';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { requireRedis, startRedis } from '../helpers/redis-server.js';
import { tempDir } from '../helpers/daemon.js';
import { rendersOf, startNode } from './fixtures.js';

t.test('a tile asked on node A (no render workers) is rendered by node B and its notice reaches A\'s listener', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t);
  const tilesDir = await tempDir(t);
  const a = await startNode(t, redis, tilesDir, { queueWorkers: 0 });
  const b = await startNode(t, redis, tilesDir);
  const notices = a.listener.waitFor(['3_5_2'], 20_000);
  await a.client.request(['3_5_2']);
  const [n] = await notices;
  t.equal(n?.type, 'tile', 'A\'s listener hears 3_5_2');
  t.equal(rendersOf(a), 0, 'A rendered nothing');
  t.equal(rendersOf(b), 1, 'B rendered the metatile');
  const meta = await sharp(await readFile(path.join(tilesDir, '3_5_2.png'))).metadata();
  t.equal(meta.width, 256, 'the tile on the shared store is a real 256 px PNG');
  const stats = a.daemon.stats().cluster;
  t.same(Object.keys(stats?.queued ?? {}), ['visible', 'interactive', 'prefetch', 'dirty', 'bulk'], 'stats show the cluster queue per class');
  t.equal(stats?.redis, 'ready', 'and the connection to redis');
  const text = await a.daemon.metrics.scrape(a.daemon.stats());
  t.match(text, /mosaicd_cluster_queue_length\{class="bulk"\} 0/, '/metrics has the cluster queue length per class');
});

t.test('the same metatile asked on two nodes at once renders once, and both listeners hear their tile', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t);
  const tilesDir = await tempDir(t);
  const a = await startNode(t, redis, tilesDir);
  const b = await startNode(t, redis, tilesDir);
  const heardA = a.listener.waitFor(['4_0_0'], 20_000);
  const heardB = b.listener.waitFor(['4_7_7'], 20_000);
  await Promise.all([a.client.request(['4_0_0']), b.client.request(['4_7_7'])]);
  t.equal((await heardA)[0]?.type, 'tile', 'A hears 4_0_0');
  t.equal((await heardB)[0]?.type, 'tile', 'B hears 4_7_7');
  t.equal(rendersOf(a) + rendersOf(b), 1, `one render in the whole cluster (A ${rendersOf(a)}, B ${rendersOf(b)})`);
});

t.test('stop on node A drains A only: its accepted tiles are rendered (by B) and announced, then `done`; B keeps serving', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t);
  const tilesDir = await tempDir(t);
  const a = await startNode(t, redis, tilesDir, { queueWorkers: 0 });
  const b = await startNode(t, redis, tilesDir);
  const names = ['3_0_0', '4_15_0', '5_0_31'];
  const heard = a.listener.waitFor(names, 30_000);
  await a.client.request(names);
  const done = a.listener.waitForDone(30_000);
  await a.daemon.stop();
  t.same((await heard).map((n) => n.type), ['tile', 'tile', 'tile'], 'every tile A accepted is announced');
  await done;
  t.pass('A sent done and stopped');
  const again = b.listener.waitFor(['2_0_0'], 30_000);
  await b.client.request(['2_0_0']);
  t.equal((await again)[0]?.type, 'tile', 'B still renders and announces');
});
