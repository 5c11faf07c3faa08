/**
 * Issue 12, faults of Redis itself: a node that cannot reach Redis at start
 * says so in one line and exits non-zero; Redis killed and restarted under
 * three nodes: they carry on, and every request accepted meanwhile is either
 * rendered later or refused with an error notice, never silently dropped.
 */
import t from 'tap';
import path from 'node:path';
import { freePort, tempDir } from '../helpers/daemon.js';
import { exitCodeOf, spawnMosaicd } from '../helpers/processes.js';
import { listenTo, pyramidNames, requireCluster, startCluster } from './three-nodes-harness.js';

t.test('a node whose --queue Redis does not answer logs one line naming it and exits non-zero', async (t) => {
  if (!requireCluster(t)) return;
  const dir = await tempDir(t);
  const nobody = await freePort(); // nothing listens there
  const node = spawnMosaicd(t, ['serve', '--port', String(await freePort()), '--tiles-dir', path.join(dir, 'tiles'), '--queue', `redis://127.0.0.1:${nobody}`, '--no-inference', '--log-level', 'warn']);
  const code = await exitCodeOf(node);
  t.not(code, 0, `it exits non-zero (${code})`);
  const stderr = node.output().split('\nstderr:\n')[1] ?? '';
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  t.equal(lines.length, 1, `one line on stderr:\n${stderr}`);
  t.match(lines[0] ?? '', String(nobody), 'the line names the Redis it could not reach');
});

t.test('Redis killed and restarted under three nodes: every tile asked before, during and after gets a notice, and none is lost silently', async (t) => {
  if (!requireCluster(t)) return;
  const { nodes, redis } = await startCluster(t, { appendonly: true });
  const [a, b] = nodes as [typeof nodes[0], typeof nodes[0]];
  const listenerA = await listenTo(t, a);
  const listenerB = await listenTo(t, b);

  const before = pyramidNames(0, 4); // 341 tiles
  await a.client.request(before);
  await redis.stop(); // SIGKILL: a crash; appendonly keeps what it acknowledged
  const during = pyramidNames(5, 5).slice(0, 256); // 4 metatiles of z5, asked while Redis is down
  await b.client.request(during);
  await new Promise((r) => setTimeout(r, 500));
  await redis.restart();
  const after = pyramidNames(5, 5).slice(512, 768);
  await a.client.request(after);

  const heardA = await listenerA.waitFor([...before, ...after], 60_000);
  const heardB = await listenerB.waitFor(during, 60_000);
  const errors = [...heardA, ...heardB].filter((n) => n.type === 'error');
  t.comment(`error notices: ${errors.length}${errors[0] ? `, e.g. ${JSON.stringify(errors[0])}` : ''}`);
  t.same(heardA.filter((n) => n.type === 'error' && after.includes(n.name)), [], 'tiles asked after the restart all render');
  for (const e of errors) {
    if (e.type === 'error') t.match(e.reason, /redis|queue/i, `${e.name}: a clear reason (${e.reason})`);
  }
  t.ok(await a.client.ping() && await b.client.ping(), 'nodes A and B still answer');
});
