import t from 'tap';
import { BarrierTracker } from '../../src/notify/barrier.js';

/** Flags set when each promise settles, so a test can check which have resolved so far. */
function watch(p: Promise<void>): { done: boolean; failed: unknown } {
  const s = { done: false, failed: undefined as unknown };
  p.then(
    () => (s.done = true),
    (err: unknown) => (s.failed = err),
  );
  return s;
}
/** Lets promise callbacks run (no timers involved). */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

t.test('a barrier with nothing outstanding resolves at once', async (t) => {
  const b = new BarrierTracker();
  await t.resolves(b.barrier());
  b.track()();
  await t.resolves(b.barrier());
});

t.test('a barrier waits for earlier requests, not later ones', async (t) => {
  const b = new BarrierTracker();
  const done1 = b.track();
  const done2 = b.track();
  const barrier = watch(b.barrier());
  const done3 = b.track(); // asked after the barrier: doesn't hold it

  done2();
  await settle();
  t.equal(barrier.done, false, 'the first request is still outstanding');
  done1();
  await settle();
  t.equal(barrier.done, true, 'resolves once both earlier requests finished');
  t.equal(b.outstanding, 1, 'the later request is still outstanding');
  done3();
  t.equal(b.outstanding, 0);
});

t.test('barriers resolve in order', async (t) => {
  const b = new BarrierTracker();
  const order: string[] = [];
  const d1 = b.track();
  const b1 = b.barrier().then(() => order.push('b1'));
  const d2 = b.track();
  const b2 = b.barrier().then(() => order.push('b2'));
  const b3 = b.barrier().then(() => order.push('b3'));
  t.equal(b.waiting, 3);

  d2(); // b2 and b3 still wait for d1 (asked before them)
  await settle();
  t.same(order, []);
  d1();
  await Promise.all([b1, b2, b3]);
  t.same(order, ['b1', 'b2', 'b3']);
});

t.test('a later barrier waits for requests between the two', async (t) => {
  const b = new BarrierTracker();
  const d1 = b.track();
  const first = watch(b.barrier());
  const d2 = b.track();
  const second = watch(b.barrier());
  d1();
  await settle();
  t.equal(first.done, true);
  t.equal(second.done, false);
  d2();
  await settle();
  t.equal(second.done, true);
});

t.test('the done callback counts once', async (t) => {
  const b = new BarrierTracker();
  const d1 = b.track();
  const d2 = b.track();
  const barrier = watch(b.barrier());
  d1();
  d1();
  await settle();
  t.equal(barrier.done, false);
  t.equal(b.outstanding, 1);
  d2();
  await settle();
  t.equal(barrier.done, true);
});

t.test('abort rejects waiting barriers (the connection went away)', async (t) => {
  const b = new BarrierTracker();
  b.track();
  const p = b.barrier();
  b.abort(new Error('connection closed'));
  await t.rejects(p, { message: 'connection closed' });
  t.equal(b.waiting, 0);
});
