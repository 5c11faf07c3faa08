import t from 'tap';
import { requireRedis, startRedis } from '../helpers/redis-server.js';
import { freePort, tempDir } from '../helpers/daemon.js';
import { exitCodeOf, spawnMosaicd, waitForOutput } from '../helpers/processes.js';
import { startNode } from './fixtures.js';

/** Polls a condition every 50 ms (a bound on the wait, not a speed assertion). */
async function until(what: string, fn: () => boolean, limitMs = 30_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

t.test('a daemon that cannot reach redis at start-up says so in one line naming the URL and exits non-zero', async (t) => {
  const tilesDir = await tempDir(t);
  const url = `redis://127.0.0.1:${await freePort()}`;
  const child = spawnMosaicd(t, ['serve', '--port', '0', '--tiles-dir', tilesDir, '--no-inference', '--no-journal', '--queue', url]);
  const code = await exitCodeOf(child);
  t.not(code, 0, `exit code ${code}`);
  const stderr = child.output().split('\nstderr:\n')[1] ?? '';
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  t.equal(lines.length, 1, `one line: ${stderr}`);
  t.match(lines[0], /QUEUE_UNAVAILABLE/, 'with the error code');
  t.ok(lines[0]?.includes(url), 'naming the URL');
});

t.test('with --queue and the journal on, a node without its own --state-dir is refused in one line naming the flag, before touching redis', async (t) => {
  const tilesDir = await tempDir(t);
  const url = `redis://127.0.0.1:${await freePort()}`;
  const child = spawnMosaicd(t, ['serve', '--port', '0', '--tiles-dir', tilesDir, '--no-inference', '--queue', url]);
  const code = await exitCodeOf(child);
  t.not(code, 0, `exit code ${code}`);
  const stderr = child.output().split('\nstderr:\n')[1] ?? '';
  t.match(stderr, /CONFIG_ERROR/, 'a configuration error');
  t.match(stderr, /--state-dir/, 'naming the flag to set');
  t.notMatch(stderr, /QUEUE_UNAVAILABLE/, 'refused before redis is tried (none is listening on that port)');
});

t.test('redis SIGKILLed and restarted (appendonly): requests accepted before and while it was down all get their notices', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t, { appendonly: true });
  const tilesDir = await tempDir(t);
  const a = await startNode(t, redis, tilesDir, { queueWorkers: 0 });
  await startNode(t, redis, tilesDir, { queueWorkers: 1 });
  const before = a.listener.waitFor(['2_1_1'], 30_000);
  await a.client.request(['2_1_1']);
  await before;

  await redis.stop();
  const names = ['3_0_0', '4_15_15', '5_0_31', '5_31_0'];
  const heard = a.listener.waitFor(names, 60_000);
  await a.client.request(names);
  await redis.restart();
  const notices = await heard;
  t.same(notices.map((n) => n.type), names.map(() => 'tile'), 'every request accepted while redis was down is rendered and announced');
  t.equal(a.daemon.stats().tiles.failed, 0, 'nothing failed');
});

t.test('SIGKILL of the node holding a job: another node completes it after the stall bound and every notice arrives', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t);
  const tilesDir = await tempDir(t);
  const a = await startNode(t, redis, tilesDir, { queueWorkers: 0 });
  const b = spawnMosaicd(t, [
    'serve', '--port', '0', '--tiles-dir', tilesDir, '--no-inference', '--no-journal', '--concurrency', '1',
    '--queue', redis.url, '--queue-stall-ms', '1000', '--callback-port', String(await freePort()),
  ]);
  await waitForOutput(b.stderr!, 'render work goes on the shared queue', 30_000);
  // Six metatiles at z6: B renders them one at a time, so one is always active until B is killed.
  const names = ['6_0_0', '6_8_0', '6_16_0', '6_24_0', '6_32_0', '6_40_0'];
  const heard = a.listener.waitFor(names, 60_000);
  await a.client.request(names);
  let held = '';
  await until('B holds a job', () => (held = redis.cli('lrange', 'mosaicd:tiles:active', '0', '-1')) !== '');
  b.kill('SIGKILL');
  await exitCodeOf(b);
  t.pass(`B killed while holding ${held.split('\n').join(', ')}`);
  const c = await startNode(t, redis, tilesDir, { queueWorkers: 1, queueStallMs: 2000 });
  const notices = await heard;
  t.same(notices.map((n) => n.type).sort(), names.map(() => 'tile'), 'A heard every tile, the killed job\'s too');
  t.ok((c.daemon.stats().cluster?.renders ?? 0) >= 1, 'C rendered what B left');
});

t.test('with redis down a node still stops at once (destroy): its waiting requests settle SHUTTING_DOWN', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t);
  const tilesDir = await tempDir(t);
  const a = await startNode(t, redis, tilesDir, { queueWorkers: 1 });
  await redis.stop();
  const settled = a.daemon.tiles.request(a.daemon.tiles.coord(3, 1, 1), { cls: 'interactive' }).then(
    () => 'rendered',
    (err: { code?: string }) => err.code,
  );
  await a.daemon.destroy();
  t.equal(await settled, 'SHUTTING_DOWN', 'the request accepted while redis was down is answered, not lost silently');
});
