import t from 'tap';
import { createRequire } from 'node:module';
import { startDaemon } from '../helpers/daemon.js';

t.test('without --queue the daemon loads neither BullMQ nor ioredis, and its stats have no cluster part', async (t) => {
  const h = await startDaemon(t);
  const heard = h.listener!.waitFor(['2_1_1'], 30_000);
  await h.client.request(['2_1_1']);
  t.equal((await heard)[0]?.type, 'tile', 'a tile renders as ever');
  const loaded = Object.keys(createRequire(import.meta.url).cache).filter((k) => /[/\\]node_modules[/\\](bullmq|ioredis)[/\\]/.test(k));
  t.same(loaded, [], 'no bullmq or ioredis module in the module cache');
  t.equal(h.daemon.stats().cluster, undefined);
  t.equal(h.daemon.scheduler.constructor.name, 'TileScheduler', 'the in-process engine');
});
