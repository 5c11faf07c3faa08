/** The scheduler with maps: jobs keyed by (map, metatile), a metatile size per map, viewports per map. */
import t from 'tap';
import { TileScheduler, type MetaTileRenderer, type RenderedTile, type TileSink } from '../../src/scheduler/tile-scheduler.js';
import { onMap, tileKey, tilesOfMeta, type MetaTile, type TileCoord } from '../../src/tile/tile-coord.js';

/** Records each metatile asked for (with its map) and renders it only when the test releases it. */
class GatedRenderer implements MetaTileRenderer {
  readonly size = 1;
  readonly asked: string[] = [];
  readonly #waiting: Array<() => void> = [];
  async renderMetaTile(meta: MetaTile): Promise<RenderedTile[]> {
    this.asked.push(`${meta.map ?? '-'}:${meta.z}/${meta.x}/${meta.y}/${meta.size}`);
    await new Promise<void>((r) => this.#waiting.push(r));
    return tilesOfMeta(meta).map((x) => ({ x: x.x, y: x.y, png: new Uint8Array([1]) }));
  }
  releaseAll(): void {
    for (const r of this.#waiting.splice(0)) r();
  }
}

class MemorySink implements TileSink {
  readonly written: string[] = [];
  has(): boolean {
    return false;
  }
  async writeMany(list: Array<{ tile: TileCoord }>): Promise<void> {
    for (const { tile } of list) this.written.push(tileKey(tile));
  }
}

async function turns(n = 10): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

const on = (map: string | undefined, z: number, x: number, y: number) => onMap({ z, x, y }, map);

t.test('the same metatile of two maps is two jobs, each with its map and its own metatile size; tiles are written with their map', async (t) => {
  const renderer = new GatedRenderer();
  const sink = new MemorySink();
  const scheduler = new TileScheduler({ renderer, sink, metatile: (map) => (map === 'b' ? 2 : 4) });
  const done = Promise.all([
    scheduler.request(on(undefined, 3, 1, 1), { cls: 'interactive' }),
    scheduler.request(on('b', 3, 1, 1), { cls: 'interactive' }),
    scheduler.request(on('b', 3, 0, 0), { cls: 'interactive' }),
  ]);
  for (let i = 0; i < 3; i++) {
    await turns();
    renderer.releaseAll();
  }
  const outcomes = await done;
  t.same(renderer.asked, ['-:3/0/0/4', 'b:3/0/0/2'], 'one job per (map, metatile); map b renders 2×2');
  t.same(outcomes.map((o) => o.coalesced), [false, false, true], 'the second tile of map b joined its job');
  t.ok(sink.written.includes('b/3/1/1') && sink.written.includes('3/1/1'), 'each map\'s tiles are written with their map');
  t.equal(sink.written.filter((k) => k.startsWith('b/')).length, 4);
  t.same(scheduler.stats().maps, { b: { renders: 1, tiles: 4 } });
});

t.test('a viewport on map b raises only map b\'s queued tiles to visible', async (t) => {
  const renderer = new GatedRenderer();
  const scheduler = new TileScheduler({ renderer, sink: new MemorySink(), metatile: 1 });
  const first = scheduler.request(on(undefined, 5, 9, 9), { cls: 'bulk', clientId: 'c' }); // takes the only slot
  await turns();
  const plain = scheduler.request(on(undefined, 5, 1, 1), { cls: 'interactive', clientId: 'c' });
  const mapB = scheduler.request(on('b', 5, 1, 1), { cls: 'interactive', clientId: 'c' });
  scheduler.setViewport('c', { z: 5, minX: 0, minY: 0, maxX: 2, maxY: 2, map: 'b' });
  t.same(scheduler.stats().queued, { visible: 1, interactive: 1, prefetch: 0, dirty: 0, bulk: 0 }, 'map b\'s tile is visible, the default map\'s is not');
  for (let i = 0; i < 4; i++) {
    renderer.releaseAll();
    await turns();
  }
  await Promise.all([first, plain, mapB]);
  t.same(renderer.asked.slice(1), ['b:5/1/1/1', '-:5/1/1/1'], 'the visible tile of map b renders first');
});
