/**
 * Issue 12: three real `mosaicd serve --queue` processes, one private
 * redis-server, one tiles folder. A metatile asked on every node renders
 * once, and every node's client hears of every tile.
 */
import t from 'tap';
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
