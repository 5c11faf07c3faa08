import t from 'tap';
import { Queue } from 'bullmq';
import { requireRedis, startRedis } from '../helpers/redis-server.js';
import { tempDir } from '../helpers/daemon.js';
import { startNode } from './fixtures.js';
import { ErrorCode } from '../../src/errors.js';
import type { TileOutcome } from '../../src/scheduler/scheduler.js';

/** Polls a condition every 50 ms (a bound on the wait, not a speed assertion). */
async function until(what: string, fn: () => boolean | Promise<boolean>, limitMs = 15_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

t.test('a tile that becomes visible on node B raises the job node A queued at bulk, and it renders before the bulk work', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t);
  const tilesDir = await tempDir(t);
  // A and B accept only: nothing renders until C starts, so the queue order is what we look at.
  const a = await startNode(t, redis, tilesDir, { queueWorkers: 0 });
  const b = await startNode(t, redis, tilesDir, { queueWorkers: 0 });
  const order: string[] = [];
  const track = (name: string, p: Promise<TileOutcome>) => p.then(() => order.push(name));
  const bulk: Promise<unknown>[] = [];
  // Ten metatiles at z5 (8×8 tiles each) queued as bulk on A, then the one holding 5_17_17 (the eleventh).
  for (let i = 0; i < 10; i++) {
    const x = (i % 4) * 8;
    const y = Math.floor(i / 4) * 8;
    bulk.push(track(`bulk ${x},${y}`, a.daemon.tiles.request(a.daemon.tiles.coord(5, x, y), { cls: 'bulk' })));
  }
  const target = a.daemon.tiles.coord(5, 17, 17);
  bulk.push(track('bulk 17,17', a.daemon.tiles.request(target, { cls: 'bulk' })));
  await until('the eleven jobs are queued', () => redis.cli('zcard', 'mosaicd:tiles:prioritized') === '11');
  t.equal(redis.cli('hget', 'mosaicd:tiles:z5x16y16s8', 'priority'), '5', 'queued at bulk (5)');

  // B's client looks at 5_17_17 and asks for it: the request joins A's job and raises it.
  b.daemon.tiles.setViewport('viewer', { z: 5, minX: 16, minY: 16, maxX: 18, maxY: 18 });
  const visible = track('visible', b.daemon.tiles.request(b.daemon.tiles.coord(5, 17, 17), { cls: 'interactive', clientId: 'viewer' }));
  await until('the job is raised to visible (1)', () => redis.cli('hget', 'mosaicd:tiles:z5x16y16s8', 'priority') === '1');
  t.equal(redis.cli('zcard', 'mosaicd:tiles:prioritized'), '11', 'still eleven jobs: B joined A\'s job');

  await startNode(t, redis, tilesDir, { queueWorkers: 1 });
  await Promise.all([visible, ...bulk]);
  t.same(order.slice(0, 2).sort(), ['bulk 17,17', 'visible'], `the raised job rendered first, answering B's visible request and A's bulk one (order: ${order.slice(0, 3).join(', ')} ...)`);
});

t.test('cancel on node A withdraws its request and removes the waiting job from the shared queue', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t);
  const tilesDir = await tempDir(t);
  const a = await startNode(t, redis, tilesDir, { queueWorkers: 0 });
  const p = a.daemon.tiles.request(a.daemon.tiles.coord(4, 9, 9), { cls: 'interactive', clientId: 'c1' });
  await until('the job is queued', () => redis.cli('exists', 'mosaicd:tiles:z4x8y8s8') === '1');
  t.equal(a.daemon.tiles.cancel({ z: 4, x: 9, y: 9 }, 'c1'), 1, 'one request withdrawn');
  await t.rejects(p, { code: ErrorCode.CANCELLED }, 'the request settles CANCELLED');
  await until('the job is gone from redis', () => redis.cli('exists', 'mosaicd:tiles:z4x8y8s8') === '0');
  t.equal(redis.cli('zcard', 'mosaicd:tiles:prioritized'), '0', 'nothing left queued');
});

t.test('a job two nodes want stays queued until both withdraw', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t);
  const tilesDir = await tempDir(t);
  const a = await startNode(t, redis, tilesDir, { queueWorkers: 0 });
  const b = await startNode(t, redis, tilesDir, { queueWorkers: 0 });
  const pa = a.daemon.tiles.request(a.daemon.tiles.coord(4, 1, 1), { cls: 'interactive', clientId: 'ca' });
  const pb = b.daemon.tiles.request(b.daemon.tiles.coord(4, 2, 2), { cls: 'interactive', clientId: 'cb' });
  await until('both nodes want the job', () => redis.cli('scard', 'mosaicd:mosaicd-wants:tiles/z4x0y0s8') === '2');
  a.daemon.tiles.cancel({ z: 4, x: 1, y: 1 }, 'ca');
  await t.rejects(pa, { code: ErrorCode.CANCELLED });
  await until('A has left', () => redis.cli('scard', 'mosaicd:mosaicd-wants:tiles/z4x0y0s8') === '1');
  t.equal(redis.cli('exists', 'mosaicd:tiles:z4x0y0s8'), '1', 'the job is still queued for B');
  b.daemon.tiles.cancel({ z: 4, x: 2, y: 2 }, 'cb');
  await t.rejects(pb, { code: ErrorCode.CANCELLED });
  await until('the job is gone', () => redis.cli('exists', 'mosaicd:tiles:z4x0y0s8') === '0');
});

t.test('a malformed job payload in redis fails that job with PROTOCOL_ERROR and the worker keeps rendering', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t);
  const tilesDir = await tempDir(t);
  const a = await startNode(t, redis, tilesDir, { queueWorkers: 1 });
  const { installClientFactory } = await import('../../src/cluster/connection.js');
  installClientFactory();
  const q = new Queue('tiles', { connection: { host: '127.0.0.1', port: redis.port }, prefix: 'mosaicd' });
  t.teardown(() => q.close());
  const bad = [
    { v: 1, map: null, z: 99, x: 0, y: 0, size: 8, force: false },
    { v: 1, map: '../../etc', z: 1, x: 0, y: 0, size: 2, force: false },
    { v: 1, map: null, z: 3, x: 3, y: 0, size: 8, force: false, extra: 'x' },
    'just a string',
  ];
  for (const [i, data] of bad.entries()) await q.add('render', data, { jobId: `bad${i}`, priority: 1 });
  await until('all four failed', async () => (await q.getFailedCount()) === 4);
  for (let i = 0; i < bad.length; i++) {
    const job = await q.getJob(`bad${i}`);
    t.match(job?.failedReason, /^PROTOCOL_ERROR: bad job payload/, `bad${i}: ${job?.failedReason}`);
  }
  const ok = await a.daemon.tiles.request(a.daemon.tiles.coord(2, 1, 1), { cls: 'interactive' });
  t.equal(ok.cached, false, 'the same worker then renders a good job');
  t.equal(a.daemon.stats().cluster?.renders, 1, 'one render on this node');
});

t.test('queue limits hold cluster-wide: bulk jobs queued on node B make node A answer BUSY for a new bulk metatile', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t);
  const tilesDir = await tempDir(t);
  const a = await startNode(t, redis, tilesDir, { queueWorkers: 0, queueLimits: { bulk: 3 } });
  const b = await startNode(t, redis, tilesDir, { queueWorkers: 0 });
  const queued = [0, 8, 16].map((x) => b.daemon.tiles.request(b.daemon.tiles.coord(5, x, 0), { cls: 'bulk', clientId: 'seed' }).catch(() => 'withdrawn'));
  await until('B\'s three jobs are queued', () => redis.cli('zcard', 'mosaicd:tiles:prioritized') === '3');
  await until('A counts them', () => a.daemon.tiles.isFull('bulk'));
  await t.rejects(a.daemon.tiles.request(a.daemon.tiles.coord(5, 24, 0), { cls: 'bulk' }), { code: ErrorCode.BUSY }, 'A refuses a fourth bulk metatile');
  t.equal(a.daemon.tiles.isFull('interactive'), false, 'other classes are not affected');
  t.equal(a.daemon.stats().cluster?.queued.bulk, 3, 'A\'s stats show the cluster\'s three bulk jobs');
  b.daemon.tiles.forgetClient('seed');
  await Promise.all(queued);
  await until('the jobs are withdrawn and A has room again', () => !a.daemon.tiles.isFull('bulk'));
});

t.test('a job removed from redis while the node waiting for it drains is queued again, and the drain ends once it is rendered', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t);
  const tilesDir = await tempDir(t);
  const a = await startNode(t, redis, tilesDir, { queueWorkers: 0 });
  const asked = a.daemon.tiles.request(a.daemon.tiles.coord(3, 1, 1), { cls: 'interactive' });
  await until('the job is queued', () => redis.cli('exists', 'mosaicd:tiles:z3x0y0s8') === '1');
  const draining = a.daemon.stop();
  const { installClientFactory } = await import('../../src/cluster/connection.js');
  installClientFactory();
  const q = new Queue('tiles', { connection: { host: '127.0.0.1', port: redis.port }, prefix: 'mosaicd' });
  t.teardown(() => q.close());
  await q.remove('z3x0y0s8');
  await until('A queued it again', () => redis.cli('exists', 'mosaicd:tiles:z3x0y0s8') === '1');
  await startNode(t, redis, tilesDir, { queueWorkers: 1 });
  const outcome = await asked;
  t.equal(outcome.cached, false, 'the request is answered by a render');
  let timer: NodeJS.Timeout | undefined;
  const drained = await Promise.race([draining.then(() => true), new Promise<false>((r) => (timer = setTimeout(() => r(false), 30_000)))]);
  clearTimeout(timer);
  t.ok(drained, 'A\'s drain ended');
});
