import t from 'tap';
import { TileScheduler, type MetaTileRenderer, type RenderedTile, type TileSink } from '../../src/scheduler/tile-scheduler.js';
import { TileApi } from '../../src/service/tile-api.js';
import { tilesOfMeta, type MetaTile, type TileCoord } from '../../src/tile/tile-coord.js';
import { ErrorCode } from '../../src/errors.js';

/** Renders only once the test lets it: requests stay queued meanwhile. */
class HeldRenderer implements MetaTileRenderer {
  readonly size = 1;
  readonly #held: Array<() => void> = [];
  async renderMetaTile(meta: MetaTile): Promise<RenderedTile[]> {
    await new Promise<void>((r) => this.#held.push(r));
    return tilesOfMeta(meta).map((tile) => ({ x: tile.x, y: tile.y, png: new Uint8Array([1]) }));
  }
  releaseAll(): void {
    for (const r of this.#held.splice(0)) r();
  }
}

class MemorySink implements TileSink {
  readonly tiles = new Set<string>();
  has(tile: TileCoord) {
    return this.tiles.has(`${tile.z}_${tile.x}_${tile.y}`);
  }
  async writeMany(list: Array<{ tile: TileCoord }>) {
    for (const { tile } of list) this.tiles.add(`${tile.z}_${tile.x}_${tile.y}`);
  }
}

function setup() {
  const renderer = new HeldRenderer();
  const scheduler = new TileScheduler({ renderer, sink: new MemorySink(), metatile: 1, queueLimits: { bulk: 1 } });
  const api = new TileApi({ scheduler, maxZoom: 5, prefetch: false });
  return { renderer, scheduler, api };
}

t.test('resolve and admit refuse tiles outside the grid or above the max zoom with BAD_TILE', async (t) => {
  const { api } = setup();
  t.same(api.resolve({ z: 3, x: 4, y: 2 }), { z: 3, x: 4, y: 2 });
  t.throws(() => api.resolve({ z: 3, x: 8, y: 0 }), { code: ErrorCode.BAD_TILE, message: /outside the zoom 3 grid/ });
  t.throws(() => api.admit({ z: 6, x: 0, y: 0 }), { code: ErrorCode.BAD_TILE, message: /above the max zoom 5/ });
});

t.test('after beginStop, admit throws and request rejects SHUTTING_DOWN, and nothing reaches the scheduler', async (t) => {
  const { api, scheduler } = setup();
  api.beginStop();
  t.throws(() => api.admit({ z: 1, x: 0, y: 0 }), { code: ErrorCode.SHUTTING_DOWN, message: 'the daemon is stopping' });
  t.throws(() => api.admit({ z: 9, x: 0, y: 0 }), { code: ErrorCode.BAD_TILE }, 'a bad tile is still reported as a bad tile');
  await t.rejects(api.request({ z: 1, x: 0, y: 0 }, { cls: 'interactive' }), { code: ErrorCode.SHUTTING_DOWN });
  t.equal(scheduler.stats().queuedJobs, 0);
  t.same(api.resolve({ z: 1, x: 0, y: 0 }), { z: 1, x: 0, y: 0 }, 'resolving (serving a tile on disk) still works');
});

t.test('cancel by reference withdraws the client\'s queued request', async (t) => {
  const { api, renderer, scheduler } = setup();
  const running = api.request({ z: 2, x: 0, y: 0 }, { cls: 'interactive', clientId: 'c' });
  const queued = api.request({ z: 2, x: 1, y: 0 }, { cls: 'interactive', clientId: 'c' });
  await new Promise((r) => setImmediate(r));
  t.equal(api.cancel({ z: 2, x: 1, y: 0 }, 'c'), 1);
  await t.rejects(queued, { code: ErrorCode.CANCELLED });
  t.throws(() => api.cancel({ z: 2, x: 4, y: 0 }, 'c'), { code: ErrorCode.BAD_TILE });
  renderer.releaseAll();
  t.match(await running, { cached: false });
  t.equal(scheduler.stats().cancelled, 1);
});

t.test('setViewport records a viewport inside the grid and refuses one outside it or with min > max', async (t) => {
  const { api, scheduler } = setup();
  api.setViewport('c', { z: 2, minX: 0, minY: 1, maxX: 3, maxY: 3 });
  t.same(scheduler.viewportOf('c'), { z: 2, minX: 0, minY: 1, maxX: 3, maxY: 3 });
  t.throws(() => api.setViewport('c', { z: 2, minX: 0, minY: 0, maxX: 4, maxY: 0 }), { code: ErrorCode.BAD_TILE });
  t.throws(() => api.setViewport('c', { z: 2, minX: 2, minY: 0, maxX: 1, maxY: 0 }), { code: ErrorCode.BAD_TILE, message: /need MIN <= MAX <= 3/ });
  t.throws(() => api.setViewport('c', { z: 6, minX: 0, minY: 0, maxX: 0, maxY: 0 }), { code: ErrorCode.BAD_TILE, message: /max zoom/ });
  t.same(scheduler.viewportOf('c'), { z: 2, minX: 0, minY: 1, maxX: 3, maxY: 3 }, 'a refused viewport leaves the last one');
});

t.test('isFull and waitForSpace: the seeding hooks see the class limit', async (t) => {
  const { api, renderer } = setup();
  const first = api.request({ z: 3, x: 0, y: 0 }, { cls: 'bulk' });
  await new Promise((r) => setImmediate(r));
  const second = api.request({ z: 3, x: 1, y: 0 }, { cls: 'bulk' });
  t.ok(api.isFull('bulk'), 'one bulk request queued behind the running one fills a limit of 1');
  await t.rejects(api.request({ z: 3, x: 2, y: 0 }, { cls: 'bulk' }), { code: ErrorCode.BUSY });
  const room = api.waitForSpace('bulk');
  renderer.releaseAll();
  await first;
  await room;
  t.notOk(api.isFull('bulk'));
  renderer.releaseAll();
  await new Promise((r) => setImmediate(r));
  renderer.releaseAll();
  await second;
});
