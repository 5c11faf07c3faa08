/**
 * TirexRenderer.stats() with real backend processes: metatiles rendered,
 * failed and timed out, and each restart counted under its reason (a
 * process killed by PID, one gone silent, one overrunning its job, one
 * dying before its first sign of life).
 */
import t from 'tap';
import { createTirexRenderer } from '../../../src/render/tirex/tirex-renderer.js';
import { requireProgram } from '../../helpers/processes.js';
import { EXAMPLE_BACKEND, FAULT_BACKEND, startRenderer, tempDir, until } from './helpers.js';

const NO_RESTARTS = { exited: 0, silent: 0, timeout: 0, diedBeforeReady: 0 };

t.test('stats of a fresh renderer: the backend, its processes alive with their PIDs, nothing rendered or restarted', async (t) => {
  if (!requireProgram(t, 'python3', 'python3')) return;
  const r = startRenderer(t, { backend: EXAMPLE_BACKEND, procs: 2, map: { name: 'example', tiledir: tempDir(t) } });
  await r.ready();
  const s = await until(() => (r.stats().alive === 2 ? r.stats() : undefined));
  t.match(s, { backend: 'simple_backend.py', procs: 2, alive: 2, running: 0, queued: 0, rendered: 0, failed: 0, timedOut: 0, restarts: 0, restartReasons: NO_RESTARTS, disabled: undefined });
  t.same(s.pids, r.pids(), 'the PIDs by slot');
  t.ok(s.pids.every((p) => typeof p === 'number' && p > 0), 'both slots have a process');
});

t.test('a metatile rendered counts as rendered; a backend killed by PID (SIGKILL) counts one restart, reason exited', async (t) => {
  if (!requireProgram(t, 'python3', 'python3')) return;
  const r = startRenderer(t, { backend: EXAMPLE_BACKEND, map: { name: 'example', tiledir: tempDir(t) } });
  await r.ready();
  t.equal((await r.renderMetaTile({ z: 3, x: 0, y: 0, size: 8 })).length, 64);
  t.equal(r.stats().rendered, 1);
  const pid = r.pids()[0]!;
  process.kill(pid, 'SIGKILL');
  const s = await until(() => { const x = r.stats(); return x.restarts === 1 && x.alive === 1 && x.pids[0] !== pid ? x : undefined; });
  t.same(s.restartReasons, { ...NO_RESTARTS, exited: 1 }, 'reason: exited');
  t.equal((await r.renderMetaTile({ z: 2, x: 0, y: 0, size: 4 })).length, 16, 'the replacement renders');
  t.equal(r.stats().rendered, 2);
});

t.test('a backend stopped for silence (SIGSTOP past the alive timeout) counts a restart with reason silent', async (t) => {
  if (!requireProgram(t, 'python3', 'python3')) return;
  const r = startRenderer(t, { backend: EXAMPLE_BACKEND, aliveTimeoutMs: 2000, hangupGraceMs: 100, termGraceMs: 100, map: { name: 'example', tiledir: tempDir(t) } });
  await r.ready();
  const stopped = r.pids()[0]!;
  process.kill(stopped, 'SIGSTOP');
  t.teardown(() => {
    try { process.kill(stopped, 'SIGKILL'); } catch { /* already gone */ }
  });
  const s = await until(() => (r.stats().restarts >= 1 ? r.stats() : undefined), 50);
  t.same(s.restartReasons, { ...NO_RESTARTS, silent: 1 }, 'reason: silent');
});

t.test('a metatile past jobTimeoutMs counts as timedOut (not failed), and its process\'s restart has reason timeout', async (t) => {
  if (!requireProgram(t, 'python3', 'python3')) return;
  const r = startRenderer(t, { backend: FAULT_BACKEND, jobTimeoutMs: 300, hangupGraceMs: 100, termGraceMs: 100, config: { fault: 'slow', slow_ms: 60000 }, map: { name: 'slow', tiledir: tempDir(t) } });
  await r.ready();
  await t.rejects(r.renderMetaTile({ z: 3, x: 0, y: 0, size: 8 }), { code: 'TIMEOUT' });
  const s = await until(() => (r.stats().restarts >= 1 ? r.stats() : undefined), 50);
  t.match(s, { rendered: 0, failed: 0, timedOut: 1 });
  t.same(s.restartReasons, { ...NO_RESTARTS, timeout: 1 }, 'reason: timeout');
});

t.test('a render the backend reports failed counts as failed', async (t) => {
  if (!requireProgram(t, 'python3', 'python3')) return;
  const r = startRenderer(t, { backend: FAULT_BACKEND, config: { fault: 'errmsg' }, map: { name: 'gone', tiledir: tempDir(t) } });
  await t.rejects(r.renderMetaTile({ z: 3, x: 0, y: 0, size: 8 }), { code: 'PROCESSING_ERROR' });
  t.match(r.stats(), { rendered: 0, failed: 1, timedOut: 0, restarts: 0 });
});

t.test('a backend that exits before its first sign of life counts each restart with reason diedBeforeReady', async (t) => {
  if (!requireProgram(t, 'python3', 'python3')) return;
  const options = { backend: FAULT_BACKEND, restartBackoffMs: 20, maxRestartBackoffMs: 50, config: { fault: 'exit' }, map: { name: 'broken', tiledir: tempDir(t) } };
  await t.rejects(createTirexRenderer(options), { code: 'PROCESSING_ERROR', message: /exits before it is ready/ });
  const r = startRenderer(t, options);
  await t.rejects(r.ready(), { code: 'PROCESSING_ERROR' });
  const s = r.stats();
  t.ok(s.restarts >= 3, `three starts failed, each restarted (${s.restarts})`);
  t.same(s.restartReasons, { ...NO_RESTARTS, diedBeforeReady: s.restarts }, 'every one with reason diedBeforeReady');
});
