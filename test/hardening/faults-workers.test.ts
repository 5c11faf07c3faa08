/**
 * Worker faults at the daemon level: a render or a model that throws, hangs
 * (past RENDER_TIMEOUT_MS / INFERENCE_TIMEOUT_MS, shortened by
 * --render-timeout-ms / --inference-timeout-ms) or crashes its worker fails
 * only its own job (an error notice, PROCESSING_ERROR or TIMEOUT), the
 * worker is replaced, and later jobs succeed. Faults are injected with the
 * test-only framed `test_fault` command (MOSAICD_TEST_FAULTS=1, here the
 * daemon's testFaults option).
 */
import t from 'tap';
import sharp from 'sharp';
import { DEFAULT_CONFIG } from '../../src/config/daemon-config.js';
import { INFERENCE_TIMEOUT_MS, RENDER_TIMEOUT_MS } from '../../src/limits.js';
import { OrderedListener, RawFramed, exchange, freePort, startHard, waitUntil } from './fixtures/lib.js';

// Short, but not so short that preparing a zoom level's geometry (timed like a
// render) could run out on a loaded machine: the tiles are at zoom 2 (the
// smallest dataset).
const RENDER_TIMEOUT = 2000;
// The inference deadline counts from the moment a worker takes the request, and a
// replaced worker loads its model again: the model is preloaded and readiness awaited
// before each real request, so only the injected hang can run into this deadline.
const INFERENCE_TIMEOUT = 2000;

t.test('defaults', async (t) => {
  t.equal(DEFAULT_CONFIG.renderTimeoutMs, RENDER_TIMEOUT_MS);
  t.equal(DEFAULT_CONFIG.inferenceTimeoutMs, INFERENCE_TIMEOUT_MS);
});

t.test('render faults: throw, hang (--render-timeout-ms), exit, uncaught; only that tile fails, the worker is replaced, later tiles render', async (t) => {
  const callbackPort = await freePort();
  const listener = await OrderedListener.listen(callbackPort);
  t.teardown(() => listener.close());
  const h = await startHard(t, { metatile: 1, renderTimeoutMs: RENDER_TIMEOUT }, { callbackPort });
  const control = await RawFramed.open(h.port);
  t.teardown(() => control.socket.destroy());
  const replaced = () => (h.daemon.stats().render as { replaced: number }).replaced;
  const arm = async (tile: string, fault: string) => {
    const r = await control.request({ command: 'test_fault', request_id: `arm ${tile}`, target: 'render', fault, tile });
    t.match(r.json, { success: true, armed: true }, `armed ${fault} on ${tile}`);
  };

  const cases: Array<{ fault: string; tile: string; next: string; reason: RegExp; replaces: boolean }> = [
    { fault: 'throw', tile: '2_0_0', next: '2_0_1', reason: /^metatile 2\/0\/0\/1 failed in the render worker: test fault: the renderer threw$/, replaces: false },
    { fault: 'hang', tile: '2_1_0', next: '2_1_1', reason: new RegExp(`^metatile 2/1/0/1 took longer than ${RENDER_TIMEOUT} ms$`), replaces: true },
    { fault: 'exit', tile: '2_2_0', next: '2_2_1', reason: /^metatile 2\/2\/0\/1 failed: render worker exited with code 70$/, replaces: true },
    { fault: 'uncaught', tile: '2_3_0', next: '2_3_1', reason: /^metatile 2\/3\/0\/1 failed: render worker crashed: test fault: uncaught exception/, replaces: true },
  ];
  for (const c of cases) {
    const before = replaced();
    await arm(c.tile, c.fault);
    // The faulty tile and a good one on one connection: the barrier waits for both.
    t.equal(await exchange(h.port, `${c.tile}\n${c.next}\n\n`), '\n');
    await listener.until(`notices for ${c.tile} and ${c.next}`, (lines) => lines.some((l) => l.startsWith(`error ${c.tile} `)) && lines.includes(c.next));
    const notice = listener.lines.find((l) => l.startsWith(`error ${c.tile} `))!;
    t.match(notice.slice(`error ${c.tile} `.length), c.reason, `${c.fault}: ${notice}`);
    t.ok(listener.lines.includes(c.next), `${c.fault}: the next tile rendered`);
    t.equal(replaced(), before + (c.replaces ? 1 : 0), c.replaces ? `${c.fault}: the worker was replaced` : `${c.fault}: the worker was kept (the error travelled as data)`);
    // And the same tile renders once the fault is spent.
    t.equal(await exchange(h.port, `${c.tile}\n\n`), '\n');
    await listener.until(`${c.tile} rendered`, (lines) => lines.includes(c.tile));
  }

  // On the framed protocol the hung render is TIMEOUT; a job of its own (no tile) too.
  await arm('2_0_2', 'hang');
  const timeout = await control.request({ command: 'render', request_id: 'r', tile: '2_0_2' }, undefined, 20_000);
  t.match(timeout.json, { success: false, request_id: 'r', error: { code: 'TIMEOUT', message: new RegExp(`took longer than ${RENDER_TIMEOUT} ms`) } });
  const thrown = await control.request({ command: 'test_fault', request_id: 'j', target: 'render', fault: 'throw' });
  t.match(thrown.json, { success: false, error: { code: 'PROCESSING_ERROR', message: /renderer threw/ } });
  const ok = await control.request({ command: 'render', request_id: 'ok', tile: '2_0_2' }, undefined, 20_000);
  t.match(ok.json, { success: true, request_id: 'ok', results: [{ tile: '2_0_2', image_width: 256 }] }, 'later jobs succeed');
  t.equal((h.daemon.stats().render as { workers: number }).workers, 1, 'one worker, as configured');
});

t.test('inference faults: throw, hang (--inference-timeout-ms), exit, uncaught; only that request fails, the worker is replaced, later requests succeed', async (t) => {
  const h = await startHard(t, { inference: true, inferenceWorkers: 1, inferenceTimeoutMs: INFERENCE_TIMEOUT, preload: ['text-direction'] });
  const conn = await RawFramed.open(h.port);
  t.teardown(() => conn.socket.destroy());
  const png = await sharp({ create: { width: 192, height: 48, channels: 3, background: '#ffffff' } }).png().toBuffer();
  const processOk = async (id: string) => {
    await waitUntil('the inference workers to be ready (model loaded)', () => h.daemon.ready(), 30_000);
    const r = await conn.request({ command: 'process', request_id: id, camera_number: 0, model: 'text-direction' }, png, 30_000);
    t.match(r.json, { success: true, request_id: id }, `${id}: a real request succeeds (${r.json.error?.code ?? 'ok'} ${r.json.error?.message ?? ''})`);
  };
  await processOk('warm-up');

  const thrown = await conn.request({ command: 'test_fault', request_id: 'throw', target: 'inference', fault: 'throw' });
  t.match(thrown.json, { success: false, request_id: 'throw', error: { code: 'PROCESSING_ERROR', message: /the model threw/ } });
  await processOk('after throw');

  // A hang and a real request sent together: the hang times out, its worker is
  // replaced, and the real request (queued again) still succeeds.
  await waitUntil('the inference workers to be ready', () => h.daemon.ready(), 30_000);
  const hang = conn.request({ command: 'test_fault', request_id: 'hang', target: 'inference', fault: 'hang' }, undefined, 30_000);
  const alongside = conn.request({ command: 'process', request_id: 'alongside', camera_number: 0, model: 'text-direction' }, png, 30_000);
  const [hung, neighbour] = await Promise.all([hang, alongside]);
  t.match(hung.json, { success: false, request_id: 'hang', error: { code: 'TIMEOUT', message: new RegExp(`ran longer than ${INFERENCE_TIMEOUT} ms; its worker was replaced`) } });
  t.match(neighbour.json, { success: true, request_id: 'alongside' }, 'the request that shared the worker is not failed');

  const exited = await conn.request({ command: 'test_fault', request_id: 'exit', target: 'inference', fault: 'exit' }, undefined, 30_000);
  t.match(exited.json, { success: false, error: { code: 'PROCESSING_ERROR', message: /the inference worker crashed/ } });
  await processOk('after exit');

  const uncaught = await conn.request({ command: 'test_fault', request_id: 'uncaught', target: 'inference', fault: 'uncaught' }, undefined, 30_000);
  t.match(uncaught.json, { success: false, error: { code: 'PROCESSING_ERROR', message: /the inference worker crashed/ } });
  await processOk('after uncaught');

  const stats = await conn.request({ command: 'stats', request_id: 's' });
  const models = (stats.json.stats as { inference: { models: Record<string, { requests: number }> } }).inference.models;
  t.ok(models['text-direction']!.requests >= 4, 'the real requests were counted');
});

t.test('without MOSAICD_TEST_FAULTS the command does not exist', async (t) => {
  const h = await startHard(t, {}, { testFaults: false });
  const conn = await RawFramed.open(h.port);
  t.teardown(() => conn.socket.destroy());
  const r = await conn.request({ command: 'test_fault', request_id: 1, target: 'render', fault: 'exit', tile: '1_0_0' });
  t.match(r.json, { success: false, error: { code: 'PROTOCOL_ERROR', message: /^unknown command "test_fault" \(string\) \(expected one of process, render, shutdown, ping, stats, viewport, cancel\)$/ } });
  const other = await conn.request({ command: 'bogus', request_id: 2 });
  t.equal(
    r.json.error?.message.replace('"test_fault"', '"X"'),
    other.json.error?.message.replace('"bogus"', '"X"'),
    'answered exactly like any unknown command',
  );
});
