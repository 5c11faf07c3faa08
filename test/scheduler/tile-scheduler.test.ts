import t from 'tap';
import { TileScheduler, type MetaTileRenderer, type TileSink, type RenderedTile } from '../../src/scheduler/tile-scheduler.js';
import { tilesOfMeta, type MetaTile, type TileCoord } from '../../src/tile/tile-coord.js';
import { ErrorCode } from '../../src/errors.js';

/** A renderer that renders nothing until the test opens the gate, and records the order it was asked in. */
class GatedRenderer implements MetaTileRenderer {
  readonly order: string[] = [];
  readonly #releases = new Map<string, () => void>();
  #open = false;
  constructor(readonly size = 1) {}
  open(): void {
    this.#open = true;
    for (const r of this.#releases.values()) r();
    this.#releases.clear();
  }
  /** Lets one started render finish. */
  release(name: string): void {
    this.#releases.get(name)?.();
    this.#releases.delete(name);
  }
  async renderMetaTile(meta: MetaTile): Promise<RenderedTile[]> {
    const name = `${meta.z}_${meta.x}_${meta.y}`;
    this.order.push(name);
    if (!this.#open) await new Promise<void>((r) => this.#releases.set(name, r));
    return tilesOfMeta(meta).map((t) => ({ x: t.x, y: t.y, png: new Uint8Array([1]) }));
  }
  /** Resolves once `n` renders have been asked for. */
  async started(n: number): Promise<void> {
    while (this.order.length < n) await new Promise((r) => setImmediate(r));
  }
}

class MemorySink implements TileSink {
  readonly tiles = new Set<string>();
  has(t: TileCoord) { return this.tiles.has(`${t.z}_${t.x}_${t.y}`); }
  async writeMany(list: Array<{ tile: TileCoord }>) { for (const { tile } of list) this.tiles.add(`${tile.z}_${tile.x}_${tile.y}`); }
}

/** Lets the event loop run a few turns (settling promise chains), without any clock. */
async function turns(n = 10): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

function setup(opts: { metatile?: number; limits?: Record<string, number>; slots?: number } = {}) {
  const renderer = new GatedRenderer(opts.slots ?? 1);
  const sink = new MemorySink();
  const scheduler = new TileScheduler({ renderer, sink, metatile: opts.metatile ?? 1, queueLimits: opts.limits ?? {} });
  return { renderer, sink, scheduler };
}

const tile = (z: number, x: number, y: number): TileCoord => ({ z, x, y });

t.test('a visible tile queued after 1,000 bulk tiles renders before all of them', async (t) => {
  const { renderer, scheduler } = setup();
  const bulk: Promise<unknown>[] = [];
  // The first bulk tile occupies the only render slot; the rest wait behind the gate.
  for (let i = 0; i < 1000; i++) bulk.push(scheduler.request(tile(12, i, 7), { cls: 'bulk', clientId: 'seed' }));
  await renderer.started(1);
  scheduler.setViewport('map', { z: 12, minX: 2000, minY: 2000, maxX: 2003, maxY: 2002 });
  const visible = scheduler.request(tile(12, 2001, 2001), { cls: 'interactive', clientId: 'map' });
  renderer.open();
  await Promise.all([visible, ...bulk]);
  t.equal(renderer.order[0], '12_0_7', 'the render already running when it arrived');
  t.equal(renderer.order[1], '12_2001_2001', 'the visible tile is next, ahead of 999 queued bulk tiles');
  t.equal(renderer.order.length, 1001);
});

t.test('a viewport change re-orders queued work', async (t) => {
  const { renderer, scheduler } = setup();
  const blocker = scheduler.request(tile(5, 0, 0), { cls: 'interactive', clientId: 'map' });
  await renderer.started(1);
  const a = scheduler.request(tile(5, 1, 1), { cls: 'interactive', clientId: 'map' });
  const b = scheduler.request(tile(5, 20, 20), { cls: 'interactive', clientId: 'map' });
  const c = scheduler.request(tile(5, 30, 30), { cls: 'interactive', clientId: 'map' });
  t.same(scheduler.stats().queued.interactive, 3);
  // The user scrolls to where c is: c becomes visible; a and b left nothing (they were never visible) and keep their class.
  scheduler.setViewport('map', { z: 5, minX: 29, minY: 29, maxX: 31, maxY: 31 });
  t.equal(scheduler.stats().queued.visible, 1);
  // Then on to b: c left the viewport and falls back to prefetch (it is next to it) or bulk.
  scheduler.setViewport('map', { z: 5, minX: 19, minY: 19, maxX: 21, maxY: 21 });
  const s = scheduler.stats().queued;
  t.equal(s.visible, 1, 'b is visible');
  t.equal(s.bulk, 1, 'c left the viewport and is far from it: bulk');
  renderer.open();
  await Promise.all([blocker, a, b, c]);
  t.same(renderer.order, ['5_0_0', '5_20_20', '5_1_1', '5_30_30']);
});

t.test('cancel removes a queued tile; a running render finishes and resolves', async (t) => {
  const { renderer, scheduler } = setup();
  const running = scheduler.request(tile(3, 0, 0), { cls: 'interactive', clientId: 'a' });
  await renderer.started(1);
  const queued = scheduler.request(tile(3, 1, 1), { cls: 'interactive', clientId: 'a' });
  t.equal(scheduler.cancel(tile(3, 0, 0), 'a'), 0, 'a running render is not cancelled');
  t.equal(scheduler.cancel(tile(3, 1, 1), 'a'), 1);
  await t.rejects(queued, { code: ErrorCode.CANCELLED });
  renderer.open();
  t.match(await running, { cached: false });
  await scheduler.onIdle();
  t.same(renderer.order, ['3_0_0'], 'the cancelled tile never rendered');
  t.equal(scheduler.stats().cancelled, 1);
});

t.test('a cancelled tile another client also asked for still renders for that client', async (t) => {
  const { renderer, scheduler } = setup();
  const blocker = scheduler.request(tile(3, 0, 0), { cls: 'interactive' });
  await renderer.started(1);
  const mine = scheduler.request(tile(3, 2, 2), { cls: 'interactive', clientId: 'a' });
  const theirs = scheduler.request(tile(3, 2, 2), { cls: 'interactive', clientId: 'b' });
  scheduler.forgetClient('a');
  await t.rejects(mine, { code: ErrorCode.CANCELLED });
  renderer.open();
  await Promise.all([blocker, theirs]);
  t.same(renderer.order, ['3_0_0', '3_2_2']);
});

t.test('duplicates merge into one render, every requester is answered, and the job keeps the higher class', async (t) => {
  const { renderer, scheduler } = setup();
  const blocker = scheduler.request(tile(4, 0, 0), { cls: 'interactive' });
  await renderer.started(1);
  const bulkFirst = scheduler.request(tile(4, 9, 9), { cls: 'interactive' });
  const dupBulk = scheduler.request(tile(4, 5, 5), { cls: 'bulk' });
  const dupInteractive = scheduler.request(tile(4, 5, 5), { cls: 'interactive' });
  renderer.open();
  const [, , a, b] = await Promise.all([blocker, bulkFirst, dupBulk, dupInteractive]);
  t.same(renderer.order, ['4_0_0', '4_9_9', '4_5_5'], 'the merged job ran as interactive, FIFO within the class');
  t.equal(a.coalesced, false);
  t.equal(b.coalesced, true);
  t.equal(scheduler.stats().coalesced, 1);
});

t.test('a tile on disk is answered without rendering unless forced', async (t) => {
  const { renderer, sink, scheduler } = setup();
  renderer.open();
  sink.tiles.add('2_1_1');
  t.match(await scheduler.request(tile(2, 1, 1), { cls: 'interactive' }), { cached: true });
  t.same(renderer.order, []);
  t.match(await scheduler.request(tile(2, 1, 1), { cls: 'dirty', force: true }), { cached: false });
  t.same(renderer.order, ['2_1_1']);
});

t.test('metatiles: a request for any tile of a block joins the render of that block', async (t) => {
  const { renderer, sink, scheduler } = setup({ metatile: 8 });
  const first = scheduler.request(tile(10, 17, 33), { cls: 'interactive' });
  await renderer.started(1);
  const second = scheduler.request(tile(10, 23, 39), { cls: 'interactive' });
  renderer.open();
  const [, b] = await Promise.all([first, second]);
  t.equal(b.coalesced, true);
  t.same(renderer.order, ['10_16_32']);
  t.equal(sink.tiles.size, 64, 'the whole 8x8 block is written');
});

t.test('a class at its limit answers busy; bulk producers wait for space instead', async (t) => {
  const { renderer, scheduler } = setup({ limits: { interactive: 2, bulk: 2 } });
  const running = scheduler.request(tile(6, 0, 0), { cls: 'interactive' });
  await renderer.started(1);
  const q1 = scheduler.request(tile(6, 1, 0), { cls: 'interactive' });
  const q2 = scheduler.request(tile(6, 2, 0), { cls: 'interactive' });
  await t.rejects(scheduler.request(tile(6, 3, 0), { cls: 'interactive' }), { code: ErrorCode.BUSY });
  t.equal(scheduler.stats().rejectedBusy, 1);
  const b1 = scheduler.request(tile(6, 0, 1), { cls: 'bulk' });
  const b2 = scheduler.request(tile(6, 1, 1), { cls: 'bulk' });
  let third: Promise<unknown> | undefined;
  const producer = scheduler.waitForSpace('bulk').then(() => { third = scheduler.request(tile(6, 2, 1), { cls: 'bulk' }); });
  renderer.open();
  await producer;
  await Promise.all([running, q1, q2, b1, b2]);
  await third;
  t.equal(renderer.order.length, 6, 'the waiting producer got its tile in');
});

t.test('destroy fails queued work with SHUTTING_DOWN and leaves nothing pending', async (t) => {
  const { renderer, scheduler } = setup();
  const running = scheduler.request(tile(3, 0, 0), { cls: 'interactive' });
  await renderer.started(1);
  const queued = [1, 2, 3].map((x) => scheduler.request(tile(3, x, 0), { cls: 'bulk' }));
  const destroyed = scheduler.destroy();
  for (const q of queued) await t.rejects(q, { code: ErrorCode.SHUTTING_DOWN });
  renderer.open();
  await running;
  await destroyed;
  await t.rejects(scheduler.request(tile(3, 5, 5), { cls: 'interactive' }), { code: ErrorCode.SHUTTING_DOWN });
});

t.test('a requester whose signal aborts is cancelled while queued', async (t) => {
  const { renderer, scheduler } = setup();
  const running = scheduler.request(tile(3, 0, 0), { cls: 'interactive' });
  await renderer.started(1);
  const ac = new AbortController();
  const q = scheduler.request(tile(3, 4, 4), { cls: 'interactive', signal: ac.signal });
  ac.abort();
  await t.rejects(q, { code: ErrorCode.CANCELLED });
  renderer.open();
  await running;
  await scheduler.onIdle();
  t.same(renderer.order, ['3_0_0']);
});

t.test('one aborting signal shared by many requests cancels its queued tiles, lets its running tile finish, and leaves other requesters alone', async (t) => {
  const { renderer, scheduler } = setup();
  const ac = new AbortController();
  const running = scheduler.request(tile(9, 0, 0), { cls: 'bulk', signal: ac.signal });
  await renderer.started(1);
  const queued = Array.from({ length: 500 }, (_, i) => scheduler.request(tile(9, i + 1, 0), { cls: 'bulk', signal: ac.signal }));
  const other = scheduler.request(tile(9, 3, 0), { cls: 'bulk' });
  const settledEarly = scheduler.request(tile(9, 600, 0), { cls: 'bulk', signal: ac.signal });
  scheduler.cancel(tile(9, 600, 0));
  await t.rejects(settledEarly, { code: ErrorCode.CANCELLED });
  ac.abort();
  for (const q of queued) await t.rejects(q, { code: ErrorCode.CANCELLED });
  renderer.open();
  t.match(await running, { cached: false });
  t.match(await other, { cached: false }, 'a tile another requester also waits for still renders');
  await scheduler.onIdle();
  t.same(renderer.order, ['9_0_0', '9_3_0']);
  t.equal(scheduler.stats().queued.bulk, 0);
});

t.test('the renderer is told of each new job when it is queued, once per metatile, before any of them runs', async (t) => {
  const renderer = new GatedRenderer(1);
  const prepared: string[] = [];
  const withPrepare = Object.assign(renderer, { prepare: (m: MetaTile) => void prepared.push(`${m.z}_${m.x}_${m.y}`) });
  const scheduler = new TileScheduler({ renderer: withPrepare, sink: new MemorySink(), metatile: 8 });
  const all = [tile(6, 1, 1), tile(6, 2, 2), tile(6, 9, 9), tile(7, 0, 0)].map((x) => scheduler.request(x, { cls: 'bulk' }));
  t.same(prepared, ['6_0_0', '6_8_8', '7_0_0'], 'one per job, in the order queued');
  await renderer.started(1);
  t.same(renderer.order, ['6_0_0']);
  renderer.open();
  await Promise.all(all);
});

t.test('while someone looks at the map, bulk work leaves one render slot free', async (t) => {
  const { renderer, scheduler } = setup({ slots: 2 });
  const bulk = [0, 1, 2, 3, 4, 5].map((i) => scheduler.request(tile(9, i, 0), { cls: 'bulk' }));
  await renderer.started(2);
  t.same(renderer.order, ['9_0_0', '9_1_0'], 'with nobody looking, bulk uses both slots');
  scheduler.setViewport('map', { z: 9, minX: 100, minY: 100, maxX: 103, maxY: 102 });
  const visible = scheduler.request(tile(9, 101, 101), { cls: 'interactive', clientId: 'map' });
  await turns();
  t.equal(renderer.order.length, 2, 'both slots busy: the visible tile waits for the first free one');
  renderer.release('9_0_0');
  await renderer.started(3);
  t.equal(renderer.order[2], '9_101_101', 'the first free slot goes to the visible tile');
  renderer.release('9_1_0');
  await turns();
  t.equal(renderer.order.length, 3, 'the freed slot is kept for the next visible tile, not given to bulk');
  const second = scheduler.request(tile(9, 102, 101), { cls: 'interactive', clientId: 'map' });
  await renderer.started(4);
  t.equal(renderer.order[3], '9_102_101', 'which starts at once');
  renderer.open();
  await Promise.all([visible, second, ...bulk]);
  t.equal(renderer.order.length, 8);
});
