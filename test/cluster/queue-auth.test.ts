/**
 * `--queue` against a Redis with `requirepass`: the password in the URL or
 * in MOSAICD_QUEUE_PASSWORD reaches Redis, and never the logs; a wrong or
 * missing one stops start-up with one QUEUE_UNAVAILABLE line.
 */
import t from 'tap';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { requireRedis, startRedis } from '../helpers/redis-server.js';
import { tempDir } from '../helpers/daemon.js';
import { CompletionListener } from '../../src/client/completion-listener.js';
import { exitCodeOf, spawnMosaicd, waitForOutput } from '../helpers/processes.js';
import { rendersOf, startNode } from './fixtures.js';

/** Characters a URL must percent-encode, so the decoding is exercised too. */
const PASSWORD = 'S3cret pass/w@rd:%';

function stderrOf(child: { output: () => string }): string {
  return child.output().split('\nstderr:\n')[1] ?? '';
}

t.test('with requirepass: a node given the password in MOSAICD_QUEUE_PASSWORD renders tiles asked on nodes given it in the URL (requirepass, and an ACL user), and none shows it', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t, { requirepass: PASSWORD });
  const tilesDir = await tempDir(t);
  // The rendering node's own listener: on stop it sends `done` there (an absent one would be retried for a minute).
  const rendererListener = await CompletionListener.listen();
  t.teardown(() => rendererListener.close());
  const renderer = spawnMosaicd(
    t,
    ['serve', '--port', '0', '--tiles-dir', tilesDir, '--no-inference', '--no-journal', '--concurrency', '1', '--queue', redis.url, '--callback-port', String(rendererListener.port)],
    { env: { MOSAICD_QUEUE_PASSWORD: PASSWORD } },
  );
  await waitForOutput(renderer.stderr!, 'render work goes on the shared queue', 30_000);
  const front = await startNode(t, redis, tilesDir, { queueWorkers: 0, queue: `redis://:${encodeURIComponent(PASSWORD)}@127.0.0.1:${redis.port}` });

  const heard = front.listener.waitFor(['3_5_2'], 30_000);
  await front.client.request(['3_5_2']);
  t.equal((await heard)[0]?.type, 'tile', 'the front node\'s listener hears 3_5_2');
  t.equal(rendersOf(front), 0, 'the front node rendered nothing: the tile went through the queue');
  t.equal((await sharp(await readFile(path.join(tilesDir, '3_5_2.png'))).metadata()).width, 256, 'the tile is a 256 px PNG');
  t.not(redis.cli('dbsize'), '0', 'the queue lives in the password-protected redis');

  const url = front.daemon.stats().cluster?.url ?? '';
  t.equal(url, `redis://:***@127.0.0.1:${redis.port}`, 'stats show the URL with the password as ***');

  // A Redis 6 ACL user: AUTH USER PASSWORD.
  t.equal(redis.cli('acl', 'setuser', 'tiles', 'on', '>acl-pw', '~*', '&*', '+@all'), 'OK');
  const aclNode = await startNode(t, redis, tilesDir, { queueWorkers: 0, queue: `redis://tiles:acl-pw@127.0.0.1:${redis.port}` });
  const heardAcl = aclNode.listener.waitFor(['4_0_0'], 30_000);
  await aclNode.client.request(['4_0_0']);
  t.equal((await heardAcl)[0]?.type, 'tile', 'a node logged in as an ACL user gets its tile through the queue too');
  t.equal(aclNode.daemon.stats().cluster?.url, `redis://tiles:***@127.0.0.1:${redis.port}`);
  renderer.kill('SIGTERM');
  t.equal(await exitCodeOf(renderer), 0, 'the rendering node stops cleanly');
  const log = stderrOf(renderer);
  t.match(log, `"queue":"redis://:***@127.0.0.1:${redis.port}"`, 'the start-up log names the queue with *** for the password');
  t.notOk(log.includes(PASSWORD) || log.includes(encodeURIComponent(PASSWORD)), 'the password appears nowhere in its stderr');
});

t.test('with requirepass: a wrong password (URL or environment) or none stops start-up with one QUEUE_UNAVAILABLE line naming authentication, exit non-zero, password not shown', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t, { requirepass: PASSWORD });
  const tilesDir = await tempDir(t);
  const wrong = 'Wrong-Pa55word';
  const cases = [
    { name: 'wrong password in the URL', queue: `redis://:${wrong}@127.0.0.1:${redis.port}`, env: {}, reason: /wrong user or password \(WRONGPASS\)/ },
    { name: 'wrong password in MOSAICD_QUEUE_PASSWORD', queue: redis.url, env: { MOSAICD_QUEUE_PASSWORD: wrong }, reason: /wrong user or password \(WRONGPASS\)/ },
    { name: 'an ACL user that does not exist', queue: `redis://nobody:${wrong}@127.0.0.1:${redis.port}`, env: {}, reason: /wrong user or password \(WRONGPASS\)/ },
    { name: 'no password', queue: redis.url, env: {}, reason: /no password was given and redis requires one \(NOAUTH\)/ },
  ];
  const children = cases.map((c) => spawnMosaicd(t, ['serve', '--port', '0', '--tiles-dir', tilesDir, '--no-inference', '--no-journal', '--queue', c.queue], { env: c.env }));
  const codes = await Promise.all(children.map((child) => exitCodeOf(child)));
  cases.forEach((c, i) => {
    const stderr = stderrOf(children[i]!);
    const lines = stderr.split('\n').filter((l) => l.trim() !== '');
    t.not(codes[i], 0, `${c.name}: exit code ${codes[i]}`);
    t.equal(lines.length, 1, `${c.name}: one line: ${stderr}`);
    t.match(lines[0], /^mosaicd: QUEUE_UNAVAILABLE: redis at redis:\/\/.*127\.0\.0\.1:\d+ refused authentication: /, `${c.name}: the code, the URL and "authentication"`);
    t.match(lines[0], c.reason, `${c.name}: says which`);
    t.notOk(stderr.includes(wrong) || stderr.includes(PASSWORD), `${c.name}: no password in stderr`);
  });
});

t.test('`mosaicd config` prints the queue URL and MOSAICD_QUEUE_PASSWORD as ***', async (t) => {
  const child = spawnMosaicd(t, ['config', '--queue', 'redis://alice:TOPSECRET1@redis.internal:6379/2'], { env: { MOSAICD_QUEUE_PASSWORD: 'TOPSECRET2' } });
  t.equal(await exitCodeOf(child), 0);
  const out = child.output();
  t.match(out, '"queue": "redis://alice:***@redis.internal:6379/2"');
  t.match(out, '"queuePassword": "***"');
  t.notMatch(out, /TOPSECRET/, 'neither password is printed');
});
