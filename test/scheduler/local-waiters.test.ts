import t from 'tap';
import { LocalWaiters, type WaitedJob } from '../../src/scheduler/local-waiters.js';
import { ErrorCode, ShuttingDownError } from '../../src/errors.js';
import type { PriorityClass } from '../../src/scheduler/priority.js';
import type { TileOutcome, TileRequest } from '../../src/scheduler/scheduler.js';
import type { TileCoord } from '../../src/tile/tile-coord.js';

/** A job as an engine keeps one: only what LocalWaiters reads. */
interface FakeJob extends WaitedJob<FakeJob> {
  readonly name: string;
}

function setup() {
  const dropped: string[] = [];
  const errors: Error[] = [];
  const waiters = new LocalWaiters<FakeJob>((job, error) => {
    dropped.push(job.name);
    errors.push(error);
  });
  const job = (name: string): FakeJob => ({ name, state: 'queued', waiters: new Set() });
  /** Adds a waiter and records how its promise settles. */
  const wait = (j: FakeJob, tile: TileCoord, req: TileRequest, coalesced = false) => {
    const cls = waiters.classOf(tile, req);
    const settled: { outcome?: TileOutcome; error?: Error & { code?: string } } = {};
    waiters.wait(j, tile, req, cls, coalesced).then(
      (o) => (settled.outcome = o),
      (e: Error) => (settled.error = e),
    );
    return settled;
  };
  return { waiters, job, wait, dropped, errors };
}

const tile = (z: number, x: number, y: number): TileCoord => ({ z, x, y });
const counts = (w: LocalWaiters<FakeJob>) => w.queuedByClass();
const zero: Record<PriorityClass, number> = { visible: 0, interactive: 0, prefetch: 0, dirty: 0, bulk: 0 };
/** Lets promise callbacks run. */
const settle = () => new Promise((r) => setImmediate(r));

t.test('a request starts visible when its client shows the tile, else at the class it came with', async (t) => {
  const { waiters } = setup();
  waiters.setViewport('map', { z: 5, minX: 10, minY: 10, maxX: 12, maxY: 12 });
  t.equal(waiters.classOf(tile(5, 11, 11), { cls: 'bulk', clientId: 'map' }), 'visible', 'inside its own viewport');
  t.equal(waiters.classOf(tile(5, 20, 20), { cls: 'interactive', clientId: 'map' }), 'interactive', 'outside it');
  t.equal(waiters.classOf(tile(5, 11, 11), { cls: 'interactive', clientId: 'other' }), 'interactive', 'another client shows it');
  t.equal(waiters.classOf(tile(5, 11, 11), { cls: 'dirty' }), 'dirty', 'no client');
  t.equal(waiters.classOf({ ...tile(5, 11, 11), map: 'topo' }, { cls: 'interactive', clientId: 'map' }), 'interactive', 'the same numbers on another map');
  t.same(waiters.viewportOf('map'), { z: 5, minX: 10, minY: 10, maxX: 12, maxY: 12 });
});

t.test('queued waiters are counted per class; a started job\'s waiters stop counting and count again when it is queued again', async (t) => {
  const { waiters, job, wait } = setup();
  const a = job('a');
  wait(a, tile(5, 1, 1), { cls: 'interactive' });
  wait(a, tile(5, 1, 2), { cls: 'bulk' });
  const b = job('b');
  wait(b, tile(5, 9, 9), { cls: 'bulk' });
  t.same(counts(waiters), { ...zero, interactive: 1, bulk: 2 });
  t.equal(waiters.queued('bulk'), 2);
  t.equal(waiters.highestClass(a), 'interactive', 'a job runs at its highest waiter\'s class');

  waiters.start(a);
  t.equal(a.state, 'running');
  t.same(counts(waiters), { ...zero, bulk: 1 });
  wait(a, tile(5, 1, 3), { cls: 'interactive' });
  t.same(counts(waiters), { ...zero, bulk: 1 }, 'a waiter joining a running job does not count');

  waiters.requeue(a);
  t.equal(a.state, 'queued');
  t.same(counts(waiters), { ...zero, interactive: 2, bulk: 2 });
  waiters.requeue(a);
  t.same(counts(waiters), { ...zero, interactive: 2, bulk: 2 }, 'requeueing a queued job changes nothing');
});

t.test('a viewport change makes the client\'s queued waiters inside it visible, moves the counts and returns their jobs', async (t) => {
  const { waiters, job, wait } = setup();
  const a = job('a');
  const b = job('b');
  wait(a, tile(5, 1, 1), { cls: 'interactive', clientId: 'map' });
  wait(b, tile(5, 20, 20), { cls: 'interactive', clientId: 'map' });
  const touched = waiters.setViewport('map', { z: 5, minX: 0, minY: 0, maxX: 2, maxY: 2 });
  t.same([...touched].map((j) => j.name), ['a']);
  t.same(counts(waiters), { ...zero, visible: 1, interactive: 1 });
  t.equal(waiters.highestClass(a), 'visible');
  t.equal(waiters.setViewport('map', { z: 5, minX: 0, minY: 0, maxX: 2, maxY: 2 }).size, 0, 'the same viewport again touches nothing');
});

t.test('a waiter that leaves the view falls back to bulk when far from it and to prefetch when next to it; an interactive waiter never visible keeps its class', async (t) => {
  const { waiters, job, wait } = setup();
  const near = job('near');
  const far = job('far');
  const untouched = job('untouched');
  wait(near, tile(5, 1, 1), { cls: 'interactive', clientId: 'map' });
  wait(far, tile(5, 2, 2), { cls: 'interactive', clientId: 'map' });
  wait(untouched, tile(5, 30, 30), { cls: 'interactive', clientId: 'map' });
  waiters.setViewport('map', { z: 5, minX: 0, minY: 0, maxX: 2, maxY: 2 });
  t.same(counts(waiters), { ...zero, visible: 2, interactive: 1 });
  // The view moves so that 5_1_1 is in the ring around it and 5_2_2 is well away.
  const touched = waiters.setViewport('map', { z: 5, minX: 0, minY: 10, maxX: 1, maxY: 12 });
  t.same([...touched].map((j) => j.name).sort(), ['far', 'near']);
  t.same(counts(waiters), { ...zero, interactive: 1, bulk: 2 }, 'both were visible and are now far from the view');
  waiters.setViewport('map', { z: 5, minX: 0, minY: 0, maxX: 2, maxY: 2 });
  waiters.setViewport('map', { z: 5, minX: 1, minY: 2, maxX: 2, maxY: 3 });
  t.equal(waiters.highestClass(near), 'prefetch', '5_1_1 is in the one-tile ring of the new view');
  t.equal(waiters.highestClass(far), 'visible', '5_2_2 is inside the new view');
  t.equal(waiters.highestClass(untouched), 'interactive', 'never visible: keeps the class it came with');
});

t.test('a waiter that left the view far away stays out of the foreground when the view comes back near it or goes far again', async (t) => {
  const { waiters, job, wait } = setup();
  const a = job('a');
  wait(a, tile(5, 1, 1), { cls: 'interactive', clientId: 'map' });
  waiters.setViewport('map', { z: 5, minX: 0, minY: 0, maxX: 2, maxY: 2 });
  waiters.setViewport('map', { z: 5, minX: 20, minY: 20, maxX: 22, maxY: 22 });
  t.equal(waiters.highestClass(a), 'bulk', 'far from the view');
  waiters.setViewport('map', { z: 5, minX: 2, minY: 2, maxX: 3, maxY: 3 });
  t.equal(waiters.highestClass(a), 'prefetch', 'next to the view again: prefetch, as when it first left it');
  waiters.setViewport('map', { z: 5, minX: 20, minY: 20, maxX: 22, maxY: 22 });
  t.equal(waiters.highestClass(a), 'bulk', 'far again: bulk');
  t.same(counts(waiters), { ...zero, bulk: 1 });
});

t.test('dirty and bulk waiters become visible inside the view and go back to their own class when it moves away', async (t) => {
  const { waiters, job, wait } = setup();
  const d = job('dirty');
  const b = job('bulk');
  wait(d, tile(5, 1, 1), { cls: 'dirty', clientId: 'map' });
  wait(b, tile(5, 2, 2), { cls: 'bulk', clientId: 'map' });
  waiters.setViewport('map', { z: 5, minX: 0, minY: 0, maxX: 2, maxY: 2 });
  t.same(counts(waiters), { ...zero, visible: 2 });
  waiters.setViewport('map', { z: 5, minX: 3, minY: 3, maxX: 4, maxY: 4 });
  t.same(counts(waiters), { ...zero, dirty: 1, bulk: 1 }, 'not prefetch, though next to the view');
});

t.test('clearing a client\'s viewport puts its queued waiters back to the class each came with', async (t) => {
  const { waiters, job, wait } = setup();
  const a = job('a');
  wait(a, tile(5, 1, 1), { cls: 'interactive', clientId: 'map' });
  wait(a, tile(5, 9, 9), { cls: 'interactive', clientId: 'map' });
  waiters.setViewport('map', { z: 5, minX: 0, minY: 0, maxX: 2, maxY: 2 });
  waiters.setViewport('map', { z: 5, minX: 7, minY: 7, maxX: 8, maxY: 8 });
  t.same(counts(waiters), { ...zero, bulk: 1, interactive: 1 }, 'one fell back from visible; one was never visible');
  waiters.setViewport('map', undefined);
  t.same(counts(waiters), { ...zero, interactive: 2 });
  t.equal(waiters.viewportOf('map'), undefined);
});

t.test('a viewport change leaves other clients\' waiters and waiters of running jobs alone', async (t) => {
  const { waiters, job, wait } = setup();
  const queued = job('queued');
  const running = job('running');
  wait(queued, tile(5, 1, 1), { cls: 'interactive', clientId: 'other' });
  wait(running, tile(5, 2, 2), { cls: 'interactive', clientId: 'map' });
  waiters.start(running);
  const touched = waiters.setViewport('map', { z: 5, minX: 0, minY: 0, maxX: 2, maxY: 2 });
  t.equal(touched.size, 0);
  t.same(counts(waiters), { ...zero, interactive: 1 });
  t.equal(waiters.highestClass(running), 'interactive');
});

t.test('cancel drops the queued waiters of that tile (of that client, if named) with CANCELLED and tells the engine after each', async (t) => {
  const { waiters, job, wait, dropped, errors } = setup();
  const a = job('a');
  const mine = wait(a, tile(5, 1, 1), { cls: 'interactive', clientId: 'map' });
  const theirs = wait(a, tile(5, 1, 1), { cls: 'interactive', clientId: 'other' }, true);
  const neighbour = wait(a, tile(5, 1, 2), { cls: 'interactive', clientId: 'map' }, true);
  t.equal(waiters.cancel(a, tile(5, 1, 1), 'map'), 1);
  await settle();
  t.equal(mine.error?.code, ErrorCode.CANCELLED);
  t.match(mine.error?.message, /5_1_1 was cancelled/);
  t.same(dropped, ['a'], 'the engine hears of the job the waiter left');
  t.equal(errors[0], mine.error, 'with the error the waiter got');
  t.equal(theirs.error, undefined, 'another client\'s waiter for the same tile stays');
  t.equal(a.waiters.size, 2);
  t.same(counts(waiters), { ...zero, interactive: 2 });

  t.equal(waiters.cancel(a, tile(5, 1, 1)), 1, 'without a client: every waiter of the tile');
  await settle();
  t.equal(theirs.error?.code, ErrorCode.CANCELLED);
  t.equal(neighbour.error, undefined, 'another tile of the same job stays');
  t.same(counts(waiters), { ...zero, interactive: 1 });
  t.equal(waiters.cancel(undefined, tile(5, 1, 1)), 0, 'no job: nothing to cancel');
});

t.test('cancel leaves the waiters of a running job to get their tile', async (t) => {
  const { waiters, job, wait, dropped } = setup();
  const a = job('a');
  const w = wait(a, tile(5, 1, 1), { cls: 'interactive', clientId: 'map' });
  waiters.start(a);
  t.equal(waiters.cancel(a, tile(5, 1, 1), 'map'), 0);
  waiters.settle(a, (x) => x.resolve({ tile: x.tile, cached: false, coalesced: x.coalesced }));
  await settle();
  t.same(w.outcome, { tile: tile(5, 1, 1), cached: false, coalesced: false });
  t.same(dropped, []);
});

t.test('forgetting a client drops its queued waiters with CANCELLED, keeps those of running jobs, and forgets its viewport', async (t) => {
  const { waiters, job, wait, dropped } = setup();
  const queued = job('queued');
  const running = job('running');
  waiters.setViewport('map', { z: 5, minX: 0, minY: 0, maxX: 2, maxY: 2 });
  const q1 = wait(queued, tile(5, 1, 1), { cls: 'interactive', clientId: 'map' });
  const q2 = wait(queued, tile(5, 1, 2), { cls: 'bulk', clientId: 'map' });
  const other = wait(queued, tile(5, 1, 1), { cls: 'interactive', clientId: 'other' });
  const r = wait(running, tile(5, 9, 9), { cls: 'interactive', clientId: 'map' });
  waiters.start(running);
  waiters.forgetClient('map');
  await settle();
  t.equal(q1.error?.code, ErrorCode.CANCELLED);
  t.match(q1.error?.message, /client map went away/);
  t.equal(q2.error?.code, ErrorCode.CANCELLED);
  t.same(dropped, ['queued', 'queued']);
  t.equal(other.error, undefined, 'another client\'s waiter of the same job stays');
  t.equal(r.error, undefined, 'the running job\'s waiter stays');
  t.equal(running.waiters.size, 1);
  t.same(counts(waiters), { ...zero, interactive: 1 });
  t.equal(waiters.viewportOf('map'), undefined);
  waiters.forgetClient('map');
  t.same(dropped, ['queued', 'queued'], 'forgetting it again drops nothing');
});

t.test('an aborted requester signal drops that requester\'s queued waiters with CANCELLED, not those of running jobs', async (t) => {
  const { waiters, job, wait, dropped } = setup();
  const queued = job('queued');
  const running = job('running');
  const ac = new AbortController();
  const q = wait(queued, tile(5, 1, 1), { cls: 'bulk', signal: ac.signal });
  const kept = wait(queued, tile(5, 1, 2), { cls: 'bulk' });
  const r = wait(running, tile(5, 9, 9), { cls: 'bulk', signal: ac.signal });
  waiters.start(running);
  ac.abort();
  await settle();
  t.equal(q.error?.code, ErrorCode.CANCELLED);
  t.match(q.error?.message, /requester went away/);
  t.equal(kept.error, undefined);
  t.equal(r.error, undefined);
  t.same(dropped, ['queued']);
  t.same(counts(waiters), { ...zero, bulk: 1 });
});

t.test('settle answers every waiter of a job, empties it and unlinks the waiters from their client and signal', async (t) => {
  const { waiters, job, wait, dropped } = setup();
  const a = job('a');
  const ac = new AbortController();
  const first = wait(a, tile(5, 1, 1), { cls: 'interactive', clientId: 'map', signal: ac.signal });
  const second = wait(a, tile(5, 1, 2), { cls: 'bulk', clientId: 'map' }, true);
  waiters.settle(a, (w) => w.resolve({ tile: w.tile, cached: false, coalesced: w.coalesced }));
  await settle();
  t.same(first.outcome, { tile: tile(5, 1, 1), cached: false, coalesced: false });
  t.same(second.outcome, { tile: tile(5, 1, 2), cached: false, coalesced: true });
  t.equal(a.waiters.size, 0);
  t.same(counts(waiters), zero, 'a queued job settled (e.g. its add failed) stops counting');
  t.equal(waiters.setViewport('map', { z: 5, minX: 0, minY: 0, maxX: 2, maxY: 2 }).size, 0);
  waiters.forgetClient('map');
  ac.abort();
  t.same(dropped, [], 'neither forgetting the client nor aborting the signal reaches a settled waiter');
});

t.test('drop settles a waiter once, with the given error, whether its job is queued or running', async (t) => {
  const { waiters, job, wait, dropped } = setup();
  const queued = job('queued');
  const running = job('running');
  const q = wait(queued, tile(5, 1, 1), { cls: 'interactive' });
  const r = wait(running, tile(5, 9, 9), { cls: 'interactive' });
  waiters.start(running);
  const [wq] = [...queued.waiters];
  const [wr] = [...running.waiters];
  waiters.drop(wq!, new ShuttingDownError());
  waiters.drop(wr!, new ShuttingDownError());
  waiters.drop(wq!, new ShuttingDownError());
  await settle();
  t.equal(q.error?.code, ErrorCode.SHUTTING_DOWN);
  t.equal(r.error?.code, ErrorCode.SHUTTING_DOWN);
  t.same(dropped, ['queued', 'running'], 'a second drop of the same waiter does nothing');
  t.same(counts(waiters), zero);
});
