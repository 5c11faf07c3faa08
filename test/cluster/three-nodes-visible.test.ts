/**
 * Issue 12: a tile on a user's screen, asked on node A, jumps a 10,000-tile
 * seed running through node C. A and C accept requests and render nothing
 * (`--queue-workers 0`); B renders for both, with one render slot. So the
 * visible request crosses the cluster twice (A → queue → B → A) and the
 * single-node bound applies as it is (docs/design.md, Scheduling): a visible
 * tile waits for at most the render already running. It is asserted in seed
 * metatiles B renders, not milliseconds: while the visible tile waits, at
 * most two, and it arrives long before most of the seed.
 * (One renderer also means one build of the z6+ geometry, which takes
 * seconds, on a 2-core machine.)
 */
import t from 'tap';
import { Seeder } from '../../src/seed/seeder.js';
import { enumerateTiles } from '../../src/seed/tile-range.js';
import type { TileCoord } from '../../src/tile/tile-coord.js';
import { listenTo, requireCluster, startCluster } from './three-nodes-harness.js';

const SEED_TILES = 10_000;
/**
 * Seed metatiles B may render while a visible tile waits: the one running
 * when it was asked, and one more (B may take the next seed job between the
 * stats read and the request's arrival).
 */
const ALLOWED_METATILES = 2;

t.test('a visible tile asked on node A while a 10,000-tile seed runs through node C arrives after at most a few running seed renders, long before the seed ends', async (t) => {
  if (!requireCluster(t)) return;
  const { nodes } = await startCluster(t, { concurrency: 1, workers: [0, 1, 0] });
  const [a, b, c] = nodes as [typeof nodes[0], typeof nodes[0], typeof nodes[0]];
  const listener = await listenTo(t, a);
  // Distinct z12 metatiles over North America, away from the seed (as in bench/tiles.js).
  const area = (i: number) => ({ x: 690 + 40 * (i % 10), y: 1440 + 40 * Math.floor(i / 10) });
  const askVisible = async (i: number) => {
    const { x, y } = area(i);
    const name = `12_${x + 1}_${y + 1}`;
    const started = performance.now();
    await a.client.send([`viewport 12 ${x} ${y} ${x + 3} ${y + 2}`, name]);
    const [notice] = await listener.waitFor([name], 60_000);
    t.equal(notice?.type, 'tile', `${name}: a tile notice`);
    return performance.now() - started;
  };

  // The same kind of tile on the idle cluster: what one visible render costs here, for the log
  // (after a first one, which also has B build its z6+ geometry).
  await askVisible(9);
  const idle = [await askVisible(0), await askVisible(1), await askVisible(2)];

  const tiles: TileCoord[] = [];
  for (const tile of enumerateTiles({ minZoom: 10, maxZoom: 12, bbox: [-10, 36, 30, 60] }, 8)) {
    tiles.push(tile);
    if (tiles.length === SEED_TILES) break;
  }
  const seeder = new Seeder();
  const controller = new AbortController();
  const seeding = seeder.run(tiles, { host: '127.0.0.1', port: c.port, command: 'bulk', force: false, window: SEED_TILES, signal: controller.signal }).catch(() => undefined);
  t.teardown(async () => {
    controller.abort();
    await seeding;
  });
  // The seed is running: its first metatile is done.
  while (seeder.progress.done < 64) await new Promise((r) => setTimeout(r, 20));

  for (let i = 3; i < 6; i++) {
    // Counted in B's renders, not in the seed's answers: those come back over Redis in batches.
    const before = await b.renders();
    const ms = await askVisible(i);
    const during = (await b.renders()) - before - 1; // less the visible tile's own metatile
    t.comment(`visible tile ${i - 2}: ${ms.toFixed(0)} ms (idle: ${idle.map((x) => x.toFixed(0)).join(', ')} ms); seed metatiles B rendered meanwhile: ${during}; seed answered: ${seeder.progress.done}/${SEED_TILES}`);
    t.ok(during <= ALLOWED_METATILES, `while it waited, B rendered ${during} seed metatiles (at most ${ALLOWED_METATILES})`);
    t.ok(seeder.progress.done < SEED_TILES / 2, `it arrived before most of the seed (${seeder.progress.done} of ${SEED_TILES} answered)`);
  }
  t.equal((await a.renders()) + (await c.renders()), 0, 'A and C rendered nothing: B rendered the seed and the visible tiles');
  t.ok((await b.renders()) > 0, 'B rendered');
});
