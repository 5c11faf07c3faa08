import t from 'tap';
import { ErrorCode } from '../../src/errors.js';
import { GeometryBuilder } from '../../src/render/geometry-builder.js';
import { WorldGeometry, type LayerData } from '../../src/render/geometry.js';
import { spawnWorker } from '../../src/util/spawn-worker.js';

/** A builder whose thread is test/render/fixtures/faulty-geometry-worker.ts. */
const faulty = (fault: 'throw' | 'exit' | 'hang', timeoutMs: number) =>
  new GeometryBuilder({ timeoutMs, spawn: (o) => spawnWorker(import.meta.url, 'fixtures/faulty-geometry-worker', { ...o, workerData: { fault } }) });

const sameLayer = (a: LayerData, b: LayerData): boolean =>
  a.coords.length === b.coords.length &&
  a.coords.every((v, i) => v === b.coords[i]) &&
  a.offsets.every((v, i) => v === b.offsets[i]) &&
  a.continues.every((v, i) => v === b.continues[i]);

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setTimeout(r, 20));
}

t.test('builds each level once in its own thread, the same data as building in this thread, and ends the thread when idle', async (t) => {
  const builder = new GeometryBuilder({ timeoutMs: 120_000, idleMs: 50 });
  t.teardown(() => builder.close());
  const [a, again, b] = await Promise.all([builder.request(0), builder.request(0), builder.request(3)]);
  t.equal(again, a, 'one build for two requests');
  t.same(builder.built, [0, 3], 'only the levels asked for, in order');
  t.equal(builder.get(3), b);
  t.ok(a.fill.coords.buffer instanceof SharedArrayBuffer, 'shareable with the render workers');
  const local = new WorldGeometry();
  t.ok(sameLayer(a.fill, local.levelData(0).fill) && sameLayer(a.outline, local.levelData(0).outline), 'level 0 as built here');
  t.ok(sameLayer(b.fill, local.levelData(3).fill) && sameLayer(b.outline, local.levelData(3).outline), 'level 3 as built here');
  t.equal(builder.threadsStarted, 1);

  await until(() => !builder.running);
  t.equal(builder.running, false, 'the idle thread ended');
  t.equal(builder.threadsStarted, 1, 'and no other thread was started meanwhile');
  t.equal(await builder.request(0), a, 'a built level needs no thread');
  t.notOk(builder.running);
  await builder.request(1);
  t.equal(builder.threadsStarted, 2, 'a new level starts a new thread');

  await builder.close();
  await t.rejects(builder.request(2), { code: ErrorCode.SHUTTING_DOWN });
  t.ok(builder.get(1) !== undefined, 'built levels stay readable after close');
});

t.test('levels prepared ahead build after the levels renders wait for, and one a render then waits for moves up', async (t) => {
  const builder = new GeometryBuilder({ timeoutMs: 120_000 });
  t.teardown(() => builder.close());
  builder.prepare(0); // starts at once: the thread is free
  builder.prepare(2);
  builder.prepare(1);
  const waited = builder.request(3); // a render waits: before the levels only prepared
  const moved = builder.request(1); // prepared, now waited for: moves up behind 3
  await Promise.all([waited, moved, builder.request(2)]);
  t.same(builder.built, [0, 3, 1, 2]);
  t.equal(builder.threadsStarted, 1);
  builder.prepare(3);
  t.same(builder.built, [0, 3, 1, 2], 'a built level is not built again');
});

t.test('a build that throws fails with PROCESSING_ERROR; the thread lives on', async (t) => {
  const builder = faulty('throw', 120_000);
  t.teardown(() => builder.close());
  await t.rejects(builder.request(0), { code: ErrorCode.PROCESSING_ERROR, message: /faulty geometry builder threw/ });
  await t.rejects(builder.request(1), { code: ErrorCode.PROCESSING_ERROR });
  t.equal(builder.threadsStarted, 1);
});

t.test('a builder thread that dies fails the builds waiting on it with PROCESSING_ERROR, and the next request starts a new one', async (t) => {
  const builder = faulty('exit', 120_000);
  t.teardown(() => builder.close());
  const results = await Promise.allSettled([builder.request(0), builder.request(1)]);
  for (const r of results) t.match(r, { status: 'rejected', reason: { code: ErrorCode.PROCESSING_ERROR, message: /exited/ } });
  await t.rejects(builder.request(0), { code: ErrorCode.PROCESSING_ERROR });
  t.equal(builder.threadsStarted, 2);
});

t.test('a build that never answers fails with TIMEOUT and its thread is ended', async (t) => {
  const builder = faulty('hang', 1_500);
  t.teardown(() => builder.close());
  await t.rejects(builder.request(0), { code: ErrorCode.TIMEOUT });
  t.notOk(builder.running);
});
