/**
 * Issue 12: a node killed with SIGKILL in the middle of a seed loses
 * nothing. Its running job is taken over by another node once its lock
 * lapses (`--queue-stall-ms`), every tile ends on disk as a whole PNG, and
 * the client of the node that accepted the requests hears every notice.
 */
import t from 'tap';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { KILL_TEST_STALL_MS, listenTo, pyramidNames, requireCluster, startCluster } from './three-nodes-harness.js';

t.test('SIGKILL of node B mid-seed: every tile A accepted is on disk as a decodable PNG and every notice reaches A\'s client', async (t) => {
  if (!requireCluster(t)) return;
  const { nodes, tilesDir } = await startCluster(t, { stallMs: KILL_TEST_STALL_MS });
  const [a, b] = nodes as [typeof nodes[0], typeof nodes[0]];
  const listener = await listenTo(t, a);
  const names = pyramidNames(0, 5); // 1,365 tiles in 24 metatiles
  await a.client.request(names);

  // Kill B while it is drawing one of A's metatiles (so its job is held by a dead node).
  let busyAtKill = false;
  for (let i = 0; i < 500; i++) {
    const s = await b.stats();
    if (s.render.busy > 0 || s.tiles.running > 0) {
      busyAtKill = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  const heardAtKill = listener.notices.length;
  await b.kill();
  t.comment(`B killed ${busyAtKill ? 'while rendering' : 'without being seen rendering'}, after ${heardAtKill} of ${names.length} notices`);
  t.ok(busyAtKill, 'B was rendering when it was killed');
  t.ok(heardAtKill < names.length, 'the seed was not over when B was killed');

  const notices = await listener.waitFor(names, 60_000);
  t.same(notices.filter((n) => n.type === 'error'), [], `${names.length} tile notices at A's client, no error notice`);

  const files = new Set(await readdir(tilesDir));
  const missing = names.filter((n) => !files.has(`${n}.png`));
  t.same(missing, [], 'every tile is in the shared folder');
  let bad = 0;
  for (const n of names) {
    try {
      const { data, info } = await sharp(path.join(tilesDir, `${n}.png`)).raw().toBuffer({ resolveWithObject: true });
      if (info.width !== 256 || info.height !== 256 || data.length === 0) bad++;
    } catch {
      bad++;
    }
  }
  t.equal(bad, 0, `all ${names.length} tiles decode as whole 256×256 PNGs`);
  // A write B had begun stays as B's temporary file (never under a tile's name) until a node's start-up removes it.
  const temps = [...(await readdir(tilesDir))].filter((f) => f.endsWith('.tmp'));
  t.same(temps.filter((f) => !f.includes(`.mosaicd-${b.pid}-`)), [], 'no temporary file is left but those of the killed node');
});
