/**
 * Render worker faults at the daemon level, with real processes: the daemon
 * runs its renderers as child processes (--isolation process), the test
 * finds them in `stats` (render.pids, render.busyPids) and signals them.
 * A render process killed mid-job (SIGSEGV, SIGKILL) costs its job one
 * retry on another process; killed again, only that tile fails (an error
 * notice); the daemon keeps serving other clients and new processes take
 * the dead ones' places. A stopped process (SIGSTOP: a hung render) runs
 * past --render-timeout-ms: TIMEOUT, killed, replaced.
 *
 * The pool's other paths (hangs, start-up deaths, recycling) are driven
 * with a fake worker in test/pool/worker-pool.test.ts; inference runs on
 * the same pool (test/inference/pool.test.ts).
 */
import t from 'tap';
import { DEFAULT_CONFIG } from '../../src/config/daemon-config.js';
import { INFERENCE_TIMEOUT_MS, RENDER_TIMEOUT_MS } from '../../src/limits.js';
import type { RenderPoolStats } from '../../src/render/render-pool.js';
import { OrderedListener, RawFramed, exchange, freePort, startHard, waitUntil } from './fixtures/lib.js';

t.test('defaults', async (t) => {
  t.equal(DEFAULT_CONFIG.renderTimeoutMs, RENDER_TIMEOUT_MS);
  t.equal(DEFAULT_CONFIG.inferenceTimeoutMs, INFERENCE_TIMEOUT_MS);
  t.equal(DEFAULT_CONFIG.isolation, 'thread');
});

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Signals a process; a stopped one gets SIGCONT too, so that anything but SIGKILL lands. */
const signal = (pid: number, sig: NodeJS.Signals): void => {
  process.kill(pid, sig);
  if (sig !== 'SIGKILL' && sig !== 'SIGSTOP') process.kill(pid, 'SIGCONT');
};

t.test('render processes killed mid-job: retried once elsewhere, then only that tile fails; other clients are served; new processes appear', async (t) => {
  const callbackPort = await freePort();
  const listener = await OrderedListener.listen(callbackPort);
  t.teardown(() => listener.close());
  const h = await startHard(t, { metatile: 1, concurrency: 2, isolation: 'process', renderTimeoutMs: 60_000 }, { callbackPort });
  const control = await RawFramed.open(h.port);
  t.teardown(() => control.socket.destroy());
  // Over the wire, as an operator would look.
  const render = async (): Promise<RenderPoolStats> => ((await control.request({ command: 'stats', request_id: 's' })).json.stats as { render: RenderPoolStats }).render;

  t.equal(await exchange(h.port, '1_0_0\n1_1_0\n\n'), '\n', 'both processes start and render');
  const first = await render();
  t.match(first, { isolation: 'process', workers: 2 });
  t.equal(first.pids.length, 2, `two render processes: ${first.pids.join(', ')}`);
  t.ok(first.pids.every((pid) => pid !== process.pid && isAlive(pid)), 'live processes of their own');

  // Both stopped: a job sent now stays on the process that takes it.
  for (const pid of first.pids) signal(pid, 'SIGSTOP');
  const doomed = exchange(h.port, '2_0_0\n\n', 60_000);
  const [p1] = (await waitUntil('a process to take 2_0_0', async () => ((await render()).busyPids.length === 1 ? (await render()).busyPids : null)))!;
  signal(p1!, 'SIGSEGV');
  const p2 = first.pids.find((pid) => pid !== p1)!;
  await waitUntil('2_0_0 retried on the other process', async () => (await render()).busyPids.includes(p2));
  t.equal((await render()).retried, 1, 'retried once');

  // Another client meanwhile: served by p1's replacement while p2 holds the retried job.
  t.equal(await exchange(h.port, '2_1_1\n\n', 60_000), '\n', 'another client is served while a render process is down');
  await listener.until('2_1_1', (lines) => lines.includes('2_1_1'));

  signal(p2, 'SIGKILL');
  t.equal(await doomed, '\n', 'the barrier is answered once the failed tile is settled');
  await listener.until('the error notice for 2_0_0', (lines) => lines.some((l) => l.startsWith('error 2_0_0 ')));
  const notice = listener.lines.find((l) => l.startsWith('error 2_0_0 '))!;
  t.match(notice, new RegExp(`^error 2_0_0 metatile 2/0/0/1 failed: the render worker \\(pid ${p2}\\) died: it was killed by SIGKILL \\(tried 2 times\\)$`), notice);

  const after = await waitUntil('two fresh processes', async () => {
    const s = await render();
    return s.workers === 2 && s.pids.every((pid) => !first.pids.includes(pid)) ? s : null;
  });
  t.match(after, { crashes: 2, retried: 1, replaced: 2 });
  t.notOk(isAlive(p1!) || isAlive(p2), 'the killed processes are gone');
  t.equal(await exchange(h.port, '2_0_0\n\n', 60_000), '\n');
  await listener.until('2_0_0 rendered on a later request', (lines) => lines.includes('2_0_0'));

  // SIGKILL once, mid-job: the retry on another process succeeds and the client sees only the tile.
  for (const pid of after!.pids) signal(pid, 'SIGSTOP');
  const retried = exchange(h.port, '2_2_2\n\n', 60_000);
  const [busy] = (await waitUntil('a process to take 2_2_2', async () => ((await render()).busyPids.length === 1 ? (await render()).busyPids : null)))!;
  signal(busy!, 'SIGKILL');
  for (const pid of after!.pids) if (pid !== busy) signal(pid, 'SIGCONT');
  t.equal(await retried, '\n');
  await listener.until('2_2_2 rendered', (lines) => lines.includes('2_2_2'));
  t.notOk(listener.lines.some((l) => l.startsWith('error 2_2_2')), 'no error notice for a job that succeeded on its retry');
  t.match(await render(), { crashes: 3, retried: 2 });
});

t.test('a render process that stops answering (SIGSTOP) fails its job with TIMEOUT past --render-timeout-ms, is killed and replaced', async (t) => {
  const h = await startHard(t, { metatile: 1, concurrency: 1, isolation: 'process', renderTimeoutMs: 8000 });
  const control = await RawFramed.open(h.port);
  t.teardown(() => control.socket.destroy());
  const render = () => h.daemon.stats().render as RenderPoolStats;
  t.match((await control.request({ command: 'render', request_id: 'warm', tile: '1_1_1' }, undefined, 60_000)).json, { success: true });
  const [pid] = render().pids;
  signal(pid!, 'SIGSTOP');
  const hung = await control.request({ command: 'render', request_id: 'r', tile: '2_0_2' }, undefined, 60_000);
  t.match(hung.json, { success: false, request_id: 'r', error: { code: 'TIMEOUT', message: /^metatile 2\/0\/2\/1 took longer than 8000 ms; its render worker was replaced$/ } });
  await waitUntil('the stopped process to be killed', () => !isAlive(pid!));
  const ok = await control.request({ command: 'render', request_id: 'ok', tile: '2_0_2' }, undefined, 60_000);
  t.match(ok.json, { success: true, request_id: 'ok', results: [{ tile: '2_0_2', image_width: 256 }] }, 'later jobs succeed');
  t.match(render(), { timeouts: 1, replaced: 1, workers: 1 });
  t.not(render().pids[0], pid, 'on a new process');
});

t.test('there is no test_fault command: answered like any unknown command', async (t) => {
  const h = await startHard(t, {});
  const conn = await RawFramed.open(h.port);
  t.teardown(() => conn.socket.destroy());
  const r = await conn.request({ command: 'test_fault', request_id: 1, target: 'render', fault: 'exit', tile: '1_0_0' });
  const other = await conn.request({ command: 'bogus', request_id: 2 });
  t.match(r.json, { success: false, error: { code: 'PROTOCOL_ERROR' } });
  t.equal(r.json.error?.message.replace('"test_fault"', '"X"'), other.json.error?.message.replace('"bogus"', '"X"'));
});
