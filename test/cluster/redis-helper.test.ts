import t from 'tap';
import { requireRedis, startRedis } from '../helpers/redis-server.js';

t.test('a private redis-server answers PING and keeps appendonly data across a restart', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t, { appendonly: true });
  t.equal(redis.cli('ping'), 'PONG');
  t.equal(redis.cli('set', 'k', 'v'), 'OK');
  const before = redis.pid;
  await redis.stop();
  await redis.restart();
  t.not(redis.pid, before, 'a new process');
  t.equal(redis.cli('get', 'k'), 'v');
});
