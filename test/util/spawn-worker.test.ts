import t from 'tap';
import { once } from 'node:events';
import { spawnWorker } from '../../src/util/spawn-worker.js';

t.test('a worker beside a .ts module runs its TypeScript sibling', async (t) => {
  const w = spawnWorker(new URL('../fixtures/any.ts', import.meta.url).href, 'echo-worker');
  t.teardown(() => w.terminate());
  w.postMessage(42);
  const [reply] = await once(w, 'message');
  t.same(reply, { echo: 42 });
});
