import t from 'tap';
import { threadWorker } from '../../src/pool/thread-worker.js';
import { WorkerPool } from '../../src/inference/worker-pool.js';

const fake = new URL('./fixtures/fake.ts', import.meta.url).href;

function pool(t: { teardown(fn: () => unknown): void }, opts: { size?: number; jobsPerWorker?: number; timeoutMs?: number } = {}) {
  const events: string[] = [];
  const p = new WorkerPool({
    size: opts.size ?? 1,
    jobsPerWorker: opts.jobsPerWorker ?? 2,
    timeoutMs: opts.timeoutMs ?? 10_000,
    spawn: () => threadWorker(fake, 'fake-inference-worker', {}),
    onEvent: (e) => events.push(e.type),
  });
  t.teardown(() => p.close());
  return { p, events };
}

async function waitReady(p: WorkerPool): Promise<void> {
  while (!p.ready()) await new Promise((r) => setTimeout(r, 10));
}

const img = (delay: number, len = 3) => new Uint8Array(len).fill(delay, 0, 1);

t.test('results and errors come back per request', async (t) => {
  const { p } = pool(t);
  const [r] = await p.run('echo', img(0, 5));
  t.equal(r!.className, 'echo 5');
  t.same([...r!.png], [5]);
  await t.rejects(p.run('fail', img(0)), { code: 'PROTOCOL_ERROR', message: 'bad image' });
});

t.test('a request whose worker crashes is retried once, then fails alone with PROCESSING_ERROR; the worker is replaced', async (t) => {
  const { p, events } = pool(t, { size: 2, jobsPerWorker: 1 });
  await waitReady(p);
  const slow = p.run('echo', img(150)); // on worker 0
  const crash = p.run('crash', img(0)); // on worker 1, then on its replacement
  await t.rejects(crash, { code: 'PROCESSING_ERROR', message: /^inference on model "crash" failed: the inference worker died: it exited with code 3 \(tried 2 times\)$/ });
  t.equal((await slow)[0]!.className, 'echo 3');
  t.same((await p.run('echo', img(0)))[0]!.className, 'echo 3', 'the replacement serves');
  t.match(p.stats(), { crashes: 2, retried: 1, restarts: 2 });
  t.ok(events.includes('restart'));
});

t.test('a request past the timeout fails with TIMEOUT; its worker is replaced; neighbours are re-run', async (t) => {
  // Generous: the timer also covers the replacement worker's start-up (tsx under tap).
  const { p } = pool(t, { size: 1, jobsPerWorker: 2, timeoutMs: 2000 });
  const hang = p.run('hang', img(0));
  const neighbour = p.run('echo', img(50)); // held by the same worker, stuck behind the hang
  await t.rejects(hang, { code: 'TIMEOUT', message: /^inference on model "hang" ran longer than 2000 ms; its worker was replaced$/ });
  t.equal((await neighbour)[0]!.className, 'echo 3');
  t.match(p.stats(), { timeouts: 1, restarts: 1, crashes: 0 });
});

t.test('cancellation: queued requests leave the queue, running ones are dropped', async (t) => {
  const { p } = pool(t, { size: 1, jobsPerWorker: 1 });
  const running = new AbortController();
  const queued = new AbortController();
  const a = p.run('echo', img(100), running.signal);
  const b = p.run('echo', img(0), queued.signal);
  queued.abort();
  running.abort();
  await t.rejects(a, { code: 'CANCELLED' });
  await t.rejects(b, { code: 'CANCELLED' });
  t.equal((await p.run('echo', img(0)))[0]!.className, 'echo 3');
  const pre = new AbortController();
  pre.abort();
  await t.rejects(p.run('echo', img(0), pre.signal), { code: 'CANCELLED' });
});

t.test('close waits for running requests, fails queued ones, refuses new ones; idempotent', async (t) => {
  const { p } = pool(t, { size: 1, jobsPerWorker: 1 });
  await waitReady(p); // until then both would be queued (a job goes only to a worker that said ready)
  const running = p.run('echo', img(100));
  const queued = p.run('echo', img(0));
  const closed = p.close();
  await t.rejects(queued, { code: 'SHUTTING_DOWN' });
  t.equal((await running)[0]!.className, 'echo 3');
  await closed;
  await p.close();
  await t.rejects(p.run('echo', img(0)), { code: 'SHUTTING_DOWN' });
  t.equal(p.stats().workers, 0);
});
