import t from 'tap';
import { Batcher } from '../../src/inference/batcher.js';

function recorder() {
  const runs: number[][] = [];
  const b = new Batcher<number, number>(async (items) => {
    runs.push([...items]);
    return items.map((x) => x * 10);
  }, { maxBatch: 4, maxDelayMs: 20, compare: (a, b) => a - b, fits: (first, next) => next < first + 100 });
  return { b, runs };
}

t.test('a lone submitter runs at once; results come back in its order', async (t) => {
  const { b, runs } = recorder();
  t.same(await b.submit([3, 1, 2]), [30, 10, 20]);
  t.same(runs, [[1, 2, 3]], 'sorted inside the run');
});

t.test('holders are waited for, and their items share a run', async (t) => {
  const { b, runs } = recorder();
  const releaseA = b.hold();
  const releaseB = b.hold();
  const a = b.submit([5]);
  releaseA();
  await new Promise((r) => setTimeout(r, 1));
  t.same(runs, [], 'still waiting for B');
  const c = b.submit([6]);
  releaseB();
  t.same(await Promise.all([a, c]), [[50], [60]]);
  t.same(runs, [[5, 6]]);
});

t.test('the delay bounds the wait; maxBatch and fits cut runs', async (t) => {
  const { b, runs } = recorder();
  b.hold(); // never released: only the timer flushes
  t.same(await b.submit([1, 2, 3, 4, 5, 500]), [10, 20, 30, 40, 50, 5000]);
  t.same(runs, [[1, 2, 3, 4], [5], [500]]);
});

t.test('a failed run rejects only its own items', async (t) => {
  const b = new Batcher<number, number>(async (items) => {
    if (items.includes(999)) throw new Error('boom');
    return items;
  }, { maxBatch: 1, maxDelayMs: 0 });
  const [bad, good] = await Promise.allSettled([b.submit([999]), b.submit([1])]);
  t.equal(bad.status, 'rejected');
  t.same(good, { status: 'fulfilled', value: [1] });
});
