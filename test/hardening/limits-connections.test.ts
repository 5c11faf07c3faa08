/**
 * Connection limits: MAX_CONNECTIONS (--max-connections) and the idle rule
 * (IDLE_TIMEOUT_MS, --idle-timeout-ms), including slow-loris clients that
 * keep sending bytes but never finish a request. Time is the feature here,
 * so the idle timeout is shortened by its flag and the slow clients send on
 * a timer.
 */
import t from 'tap';
import type net from 'node:net';
import { DEFAULT_CONFIG } from '../../src/config/daemon-config.js';
import { IDLE_TIMEOUT_MS, MAX_CONNECTIONS } from '../../src/limits.js';
import { RawFramed, closeOf, connect, exchange, frame, readUntil, startHard, u64, waitUntil, within } from './fixtures/lib.js';

/** Resolves with how long after `since` the socket closed. */
async function closedAfter(socket: net.Socket, since: number, boundMs: number, what: string): Promise<number> {
  await within(closeOf(socket), boundMs, what);
  return performance.now() - since;
}

t.test('--max-connections N: the N+1-th connection is closed, the first N keep working, and new ones are accepted once they close', async (t) => {
  t.equal(DEFAULT_CONFIG.maxConnections, MAX_CONNECTIONS);
  const N = 4;
  const h = await startHard(t, { maxConnections: N, idleTimeoutMs: 0 });
  const first: net.Socket[] = [];
  for (let i = 0; i < N; i++) {
    const s = await connect(h.port, { allowHalfOpen: false });
    t.teardown(() => s.destroy());
    s.write('ping\n');
    await readUntil(s, 'pong\n'); // accepted and served: it counts against the limit
    first.push(s);
  }
  t.equal(h.daemon.stats().connections, N);

  const extra = await connect(h.port, { allowHalfOpen: false });
  t.teardown(() => extra.destroy());
  let got = '';
  extra.on('data', (c: Buffer) => (got += c.toString()));
  extra.write('ping\n');
  await within(closeOf(extra), 10_000, 'the daemon closing the connection over the limit');
  t.equal(got, '', 'the connection over the limit is closed without an answer');

  for (const [i, s] of first.entries()) {
    s.write('ping\n');
    t.equal(await readUntil(s, 'pong\n'), 'pong\n', `connection ${i + 1} of ${N} still works`);
  }
  for (const s of first) s.end();
  await waitUntil('the daemon to see the N connections close', () => h.daemon.stats().connections === 0, 10_000);
  const replies = await Promise.all(Array.from({ length: N }, () => exchange(h.port, 'ping\n')));
  t.same(replies, Array(N).fill('pong\n'), 'N new connections are accepted after the first ones closed');
});

t.test('the idle rule: silence, slow-loris lines and frames are closed after --idle-timeout-ms; busy and chatty connections are not', async (t) => {
  t.equal(DEFAULT_CONFIG.idleTimeoutMs, IDLE_TIMEOUT_MS);
  const IDLE = 400;
  // Render processes, so a test can stop one (SIGSTOP) to make a render outlast the idle timeout.
  const h = await startHard(t, { idleTimeoutMs: IDLE, renderTimeoutMs: 5000, isolation: 'process' });

  t.test('a silent connection is closed', async (t) => {
    const started = performance.now();
    const s = await connect(h.port, { allowHalfOpen: false });
    const ms = await closedAfter(s, started, 10_000, 'closing a silent connection');
    t.ok(ms >= IDLE - 50, `closed after ${Math.round(ms)} ms (>= ${IDLE})`);
  });

  t.test('slow-loris line: one byte every 100 ms, never a newline, is closed although bytes keep coming', async (t) => {
    const s = await connect(h.port, { allowHalfOpen: false });
    s.write('ping\n');
    await readUntil(s, 'pong\n'); // a line connection now, with a complete request behind it
    const started = performance.now();
    let sent = 0;
    const drip = setInterval(() => {
      if (!s.destroyed) {
        s.write('x');
        sent++;
      }
    }, 100);
    t.teardown(() => clearInterval(drip));
    const ms = await closedAfter(s, started, 10_000, 'closing a slow-loris line connection');
    clearInterval(drip);
    t.ok(sent >= 3, `it was sending all along (${sent} bytes, one per 100 ms)`);
    t.ok(ms >= IDLE - 50 && ms < IDLE * 5, `closed after ${Math.round(ms)} ms: a line must be complete within the idle timeout`);
  });

  t.test('slow-loris frame: a frame header, then one byte every 100 ms, is closed', async (t) => {
    const s = await connect(h.port, { allowHalfOpen: false });
    const started = performance.now();
    s.write(u64(200)); // a 200-byte JSON follows... slowly
    let sent = 0;
    const drip = setInterval(() => {
      if (!s.destroyed) {
        s.write('{');
        sent++;
      }
    }, 100);
    t.teardown(() => clearInterval(drip));
    const ms = await closedAfter(s, started, 10_000, 'closing a slow-loris frame connection');
    clearInterval(drip);
    t.ok(sent >= 3, `${sent} bytes dripped`);
    t.ok(ms >= IDLE - 50 && ms < IDLE * 5, `closed after ${Math.round(ms)} ms`);
  });

  t.test('a connection completing a request every 150 ms stays open for many idle periods', async (t) => {
    const s = await connect(h.port, { allowHalfOpen: false });
    t.teardown(() => s.destroy());
    const started = performance.now();
    let pongs = 0;
    let lastAnswer = started;
    for (;;) {
      s.write('ping\n');
      await readUntil(s, 'pong\n');
      lastAnswer = performance.now();
      pongs++;
      if (lastAnswer - started > IDLE * 4) break;
      await new Promise((r) => setTimeout(r, 150)); // the client's own pace: time is the feature here
    }
    t.notOk(s.destroyed, `still open after ${Math.round(performance.now() - started)} ms and ${pongs} pings`);
    const ms = await closedAfter(s, lastAnswer, 10_000, 'closing it once it goes quiet');
    t.ok(ms >= IDLE - 50, `closed ${Math.round(ms)} ms after its last request`);
  });

  t.test('a connection owed an answer is not idle: it waits past the timeout and gets its answer', async (t) => {
    const warm = await RawFramed.open(h.port);
    t.match((await warm.request({ command: 'render', request_id: 'warm', tile: '0_0_0' }, undefined, 20_000)).json, { success: true }, 'the render process is up');
    warm.socket.destroy();
    const conn = await RawFramed.open(h.port);
    t.teardown(() => conn.socket.destroy());
    // Its process stopped, a render runs until --render-timeout-ms (5000 ms > the 400 ms idle timeout).
    const [renderPid] = (h.daemon.stats().render as { pids: number[] }).pids;
    process.kill(renderPid!, 'SIGSTOP');
    const started = performance.now();
    conn.write(frame({ command: 'render', request_id: 'slow', tile: '1_1_1' }));
    const [answer] = await conn.waitFor(1, 20_000);
    const ms = performance.now() - started;
    t.match(answer!.json, { success: false, request_id: 'slow', error: { code: 'TIMEOUT' } }, `answered after ${Math.round(ms)} ms`);
    t.ok(ms > IDLE * 2, 'the connection outlived the idle timeout while it was owed an answer');
    const ms2 = await closedAfter(conn.socket, performance.now(), 10_000, 'closing after the answer');
    t.ok(ms2 >= IDLE - 100, `then closed ${Math.round(ms2)} ms after the answer`);
  });

  t.test('after all that, the daemon still serves', async (t) => {
    t.equal(await exchange(h.port, 'ping\n'), 'pong\n');
  });
});
