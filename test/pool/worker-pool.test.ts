import t, { type Test } from 'tap';
import { ErrorCode } from '../../src/errors.js';
import { WorkerPool, type WorkerPoolOptions } from '../../src/pool/worker-pool.js';
import { FakeFarm, type FakeJob } from './fake-worker.js';

type Options = Partial<WorkerPoolOptions<unknown, FakeJob, string, never>>;

function makePool(t: Test, farm: FakeFarm, options: Options = {}) {
  const pool = new WorkerPool<unknown, FakeJob, string, never>({ name: 'test', size: 1, timeoutMs: 10_000, spawn: farm.spawn, ...options });
  t.teardown(() => pool.close());
  return pool;
}

const job = (name: string, does: FakeJob['does'] = 'answer', rss?: number): FakeJob => (rss === undefined ? { name, does } : { name, does, rss });
const turn = () => new Promise((r) => setImmediate(r));
async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setTimeout(r, 2));
  if (!cond()) throw new Error(`gave up waiting for ${what}`);
}

t.test('N slots run N jobs at once; the rest wait in FIFO order and run as slots free', async (t) => {
  const farm = new FakeFarm();
  const pool = makePool(t, farm, { size: 2 });
  const results = ['a', 'b', 'c', 'd'].map((n) => pool.run(job(n, 'hold')));
  await until('two jobs running', () => pool.stats().running === 2);
  t.match(pool.stats(), { workers: 2, busy: 2, running: 2, queued: 2 });
  t.same(farm.log, ['a@0', 'b@1'], 'one job per worker, in order');
  farm.holder('b').release('b');
  await until('c to start', () => farm.log.length === 3);
  t.same(farm.log, ['a@0', 'b@1', 'c@1'], 'the first queued job takes the freed slot');
  farm.holder('a').release('a');
  await until('d to start', () => farm.log.length === 4);
  farm.holder('c').release('c');
  farm.holder('d').release('d');
  t.same(await Promise.all(results), ['a by 0', 'b by 1', 'c by 1', 'd by 0']);
  t.match(pool.stats(), { running: 0, queued: 0, replaced: 0 });
});

t.test('jobsPerWorker: a worker holds that many jobs, spread over the least busy workers', async (t) => {
  const farm = new FakeFarm();
  const pool = makePool(t, farm, { size: 2, jobsPerWorker: 2 });
  await until('both workers ready', () => pool.ready());
  const all = ['a', 'b', 'c', 'd', 'e'].map((n) => pool.run(job(n, 'hold')));
  await until('four running', () => pool.stats().running === 4);
  t.same(farm.log, ['a@0', 'b@1', 'c@0', 'd@1']);
  t.equal(pool.stats().queued, 1);
  for (const n of ['a', 'b', 'c', 'd']) farm.holder(n).release(n);
  await until('e to start', () => farm.log.length === 5);
  farm.holder('e').release('e');
  t.equal((await Promise.all(all)).length, 5);
});

t.test('an error the worker reports fails only that job, with its code, and keeps the worker', async (t) => {
  const farm = new FakeFarm();
  const pool = makePool(t, farm);
  await t.rejects(pool.run(job('x', 'fail'), { label: 'job x' }), { code: ErrorCode.PROCESSING_ERROR, message: 'job x failed in the test worker: x is bad' });
  t.equal(await pool.run(job('y')), 'y by 0', 'the same worker serves');
  t.equal(farm.workers.length, 1);
});

t.test('a job past its deadline fails with TIMEOUT; its worker is killed (SIGKILL) and replaced; its neighbours run again', async (t) => {
  const farm = new FakeFarm();
  const pool = makePool(t, farm, { timeoutMs: 50, jobsPerWorker: 2 });
  const hung = pool.run(job('hung', 'hang'), { label: 'job hung' });
  const neighbour = pool.run(job('n', 'hold'));
  await t.rejects(hung, { code: ErrorCode.TIMEOUT, message: 'job hung took longer than 50 ms; its test worker was replaced' });
  t.equal(farm.workers[0]!.killedWith, 'SIGKILL');
  await until('the neighbour on the replacement', () => farm.workers[1]?.received.some((j) => j.name === 'n') === true);
  farm.workers[1]!.release('n');
  t.equal(await neighbour, 'n by 1', 'the neighbour was not at fault: run again on the new worker');
  t.match(pool.stats(), { timeouts: 1, replaced: 1, crashes: 0, workers: 1 });
});

t.test('a worker that dies mid-job: the job is retried once on another worker and succeeds', async (t) => {
  const farm = new FakeFarm();
  const pool = makePool(t, farm, { size: 2 });
  const other = pool.run(job('other', 'hold'));
  const result = pool.run(job('flaky', 'crashOnce'));
  t.equal(await result, 'flaky by 2', 'answered by the replacement of the worker that died');
  t.same(farm.log.slice(0, 2), ['other@0', 'flaky@1']);
  farm.holder('other').release('other');
  t.equal(await other, 'other by 0', 'the job on the other worker was untouched');
  t.match(pool.stats(), { crashes: 1, retried: 1, replaced: 1, workers: 2 });
});

t.test('a job whose worker dies twice fails with PROCESSING_ERROR naming the reason; the pool keeps serving', async (t) => {
  const farm = new FakeFarm();
  const pool = makePool(t, farm, { size: 2, restartBackoffMs: 1 });
  await t.rejects(pool.run(job('poison', 'crash'), { label: 'job poison' }), {
    code: ErrorCode.PROCESSING_ERROR,
    message: /^job poison failed: the test worker \(pid 1000\d\) died: it was killed by SIGSEGV \(tried 2 times\)$/,
  });
  t.equal(farm.log.filter((l) => l.startsWith('poison@')).length, 2, 'tried on two workers');
  t.match(await pool.run(job('fine')), /^fine by \d$/);
  await until('both replaced', () => pool.ready());
  t.match(pool.stats(), { crashes: 2, retried: 1, replaced: 2, workers: 2 });
});

t.test('a worker that dies at start-up again and again is replaced with a doubling, bounded delay; queued jobs fail instead of waiting', async (t) => {
  const farm = new FakeFarm(() => 'die');
  const pool = makePool(t, farm, { restartBackoffMs: 20, maxRestartBackoffMs: 80 });
  await t.rejects(pool.run(job('a')), { code: ErrorCode.PROCESSING_ERROR, message: /^no test worker could start: the test worker \(pid 10000\) died: it exited with code 78$/ });
  await until('six spawns', () => farm.spawnedAt.length >= 6);
  const gaps = farm.spawnedAt.slice(1, 6).map((at, i) => at - farm.spawnedAt[i]!);
  // Delays asked for: 0, 20, 40, 80, 80 (the first death is replaced at once). Timers never fire early (±1 ms of clock rounding).
  [0, 20, 40, 80, 80].forEach((d, i) => t.ok(gaps[i]! >= d - 1, `gap ${i + 1} ≥ ${d} ms (${gaps[i]!.toFixed(1)})`));
  await pool.close();
  const spawned = farm.workers.length;
  await new Promise((r) => setTimeout(r, 100));
  t.equal(farm.workers.length, spawned, 'no restart after close()');
});

t.test('a worker is recycled after recycleAfterJobs jobs: replaced once idle, with SIGTERM, not counted as a crash', async (t) => {
  const farm = new FakeFarm();
  const pool = makePool(t, farm, { recycleAfterJobs: 2 });
  const results = [];
  for (const n of ['a', 'b', 'c', 'd', 'e']) results.push(await pool.run(job(n)));
  t.same(results, ['a by 0', 'b by 0', 'c by 1', 'd by 1', 'e by 2']);
  await turn();
  t.same(farm.workers.map((w) => w.killedWith), ['SIGTERM', 'SIGTERM', null]);
  t.match(pool.stats(), { recycled: 2, crashes: 0, replaced: 0, workers: 1 });
});

t.test('a worker is recycled when it reports more resident memory than recycleRssBytes; a recycled worker finishes its other jobs first', async (t) => {
  const farm = new FakeFarm();
  const pool = makePool(t, farm, { recycleRssBytes: 100e6, jobsPerWorker: 2 });
  t.equal(await pool.run(job('small', 'answer', 50e6)), 'small by 0');
  const held = pool.run(job('held', 'hold'));
  await until('held running', () => pool.stats().running === 1);
  t.equal(await pool.run(job('big', 'answer', 150e6)), 'big by 0');
  t.equal(farm.workers.length, 2, 'a replacement is started at once');
  t.equal(farm.workers[0]!.killedWith, null, 'the grown worker still holds a job');
  t.equal(await pool.run(job('next')), 'next by 1', 'new jobs go to the replacement');
  farm.workers[0]!.release('held');
  t.equal(await held, 'held by 0');
  await until('the grown worker to go', () => farm.workers[0]!.killedWith === 'SIGTERM');
  t.match(pool.stats(), { recycled: 1, crashes: 0 });
});

t.test('an abort cancels a queued job (it never reaches a worker); a running job finishes unless abortRunning', async (t) => {
  const farm = new FakeFarm();
  const pool = makePool(t, farm);
  const pre = new AbortController();
  pre.abort();
  await t.rejects(pool.run(job('pre'), { signal: pre.signal }), { code: ErrorCode.CANCELLED });
  const runningAc = new AbortController();
  const queuedAc = new AbortController();
  const running = pool.run(job('r', 'hold'), { signal: runningAc.signal });
  const queued = pool.run(job('q'), { signal: queuedAc.signal });
  await until('r running', () => pool.stats().running === 1);
  queuedAc.abort();
  runningAc.abort();
  await t.rejects(queued, { code: ErrorCode.CANCELLED });
  farm.workers[0]!.release('r');
  t.equal(await running, 'r by 0', 'the running job finished');
  t.same(farm.log, ['r@0'], 'the aborted jobs never reached a worker');

  const dropFarm = new FakeFarm();
  const dropping = makePool(t, dropFarm, { abortRunning: true });
  const ac = new AbortController();
  const dropped = dropping.run(job('d', 'hold'), { signal: ac.signal });
  await until('d running', () => dropping.stats().running === 1);
  ac.abort();
  await t.rejects(dropped, { code: ErrorCode.CANCELLED }, 'abortRunning: settled at once');
  t.equal(dropping.stats().running, 1, 'the worker is still busy with it');
  dropFarm.workers[0]!.release('d');
  t.equal(await dropping.run(job('after')), 'after by 0', 'its late answer is dropped and the worker serves on');
});

t.test('close() drains: queued jobs fail SHUTTING_DOWN, running ones finish, then the workers get SIGTERM; idempotent', async (t) => {
  const farm = new FakeFarm();
  const pool = makePool(t, farm);
  const running = pool.run(job('r', 'hold'));
  const queued = pool.run(job('q'));
  await until('r running', () => pool.stats().running === 1);
  const closing = pool.close();
  t.equal(pool.close(), closing, 'the same promise');
  await t.rejects(queued, { code: ErrorCode.SHUTTING_DOWN });
  await t.rejects(pool.run(job('late')), { code: ErrorCode.SHUTTING_DOWN });
  await turn();
  t.equal(farm.workers[0]!.killedWith, null, 'not killed while a job runs');
  farm.workers[0]!.release('r');
  t.equal(await running, 'r by 0');
  await closing;
  t.equal(farm.workers[0]!.killedWith, 'SIGTERM');
  t.equal(pool.stats().workers, 0);
});

t.test('stats list the workers\' process ids', async (t) => {
  const farm = new FakeFarm();
  const pool = makePool(t, farm, { size: 3 });
  await until('ready', () => pool.ready());
  t.same(pool.stats().pids, [10000, 10001, 10002]);
});
