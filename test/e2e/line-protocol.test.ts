import t from 'tap';
import { existsSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { startDaemon, type Harness } from '../helpers/daemon.js';
import { exchange, startHard, waitUntil, within } from '../hardening/fixtures/lib.js';
import { CompletionListener } from '../../src/client/completion-listener.js';
import { FramedClient } from '../../src/client/framed-client.js';

// One default daemon for the cases that neither configure nor stop theirs:
// each daemon builds its own geometry on its first render.
let shared: Promise<Harness> | undefined;
const sharedDaemon = (): Promise<Harness> => (shared ??= startDaemon(t));

t.test('the seed exchange: two tiles and stop on one connection; notices, then done last; exit', async (t) => {
  const h = await startDaemon(t);
  await exchange(h.port, '16_58001_25480\n16_58001_25481\nstop\n');
  await h.listener!.waitForDone();
  await h.daemon.closed;
  const lines = h.listener!.notices.map((n) => (n.type === 'tile' ? n.name : n.type));
  t.same(lines.slice().sort(), ['16_58001_25480', '16_58001_25481', 'done'].sort());
  t.equal(lines.at(-1), 'done', 'done comes last');
  for (const name of ['16_58001_25480', '16_58001_25481']) {
    t.ok(existsSync(path.join(h.tilesDir, `${name}.png`)), `${name}.png exists`);
  }
});

t.test('one command per connection, no trailing newline (the peer half-closes)', async (t) => {
  const h = await sharedDaemon();
  await exchange(h.port, '3_4_2');
  const [n] = await h.listener!.waitFor(['3_4_2']);
  t.same(n, { type: 'tile', name: '3_4_2' });
  const meta = await sharp(path.join(h.tilesDir, '3_4_2.png')).metadata();
  t.equal(meta.width, 256);
  t.equal(meta.height, 256);
});

t.test('Z/X/Y is the same tile; --layout zxy writes Z/X/Y.png', async (t) => {
  const h = await startDaemon(t, { layout: 'zxy' });
  await exchange(h.port, '2/1/1\r\n');
  await h.listener!.waitFor(['2_1_1']);
  t.ok(existsSync(path.join(h.tilesDir, '2', '1', '1.png')));
});

t.test('the empty-line barrier answers once everything asked before it is finished', async (t) => {
  const h = await sharedDaemon();
  const reply = await exchange(h.port, '4_8_5\n4_9_5\n\n');
  t.equal(reply, '\n', 'one newline back on the same connection');
  // Both tiles are finished by the time the barrier is answered.
  t.ok(existsSync(path.join(h.tilesDir, '4_8_5.png')));
  t.ok(existsSync(path.join(h.tilesDir, '4_9_5.png')));
});

t.test('coalescing: the same tile asked twice renders once and both requests are notified', async (t) => {
  const h = await startDaemon(t, { metatile: 1 });
  // Both lines arrive in one chunk, so the second finds the first still queued.
  await exchange(h.port, '7_64_42\n7_64_42\n\n');
  const notices = h.listener!.notices;
  await new Promise<void>((resolve) => {
    const check = () => notices.filter((n) => n.type === 'tile' && n.name === '7_64_42').length === 2 && resolve();
    h.listener!.on('notice', check);
    check();
  });
  const s = h.daemon.scheduler.stats();
  t.equal(s.rendered['7']?.renders, 1, 'rendered once');
  t.equal(s.coalesced, 1, 'the second request joined the first');
});

t.test('malformed lines get error notices and the daemon keeps serving', async (t) => {
  const h = await startDaemon(t, { maxZoom: 20 });
  const huge = 'x'.repeat(1024 * 1024);
  await exchange(h.port, `16_abc_1\n3_8_0\n99_0_0\n${huge}\n2_0_0\n`);
  const notices = await h.listener!.waitFor(['16_abc_1', '3_8_0', '99_0_0', 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', '2_0_0']);
  t.match(notices[0], { type: 'error', name: '16_abc_1' });
  t.match(notices[1], { type: 'error', name: '3_8_0', reason: /outside/ });
  t.match(notices[2], { type: 'error', name: '99_0_0', reason: /max zoom/ });
  t.match(notices[3], { type: 'error', reason: /too long/ });
  t.same(notices[4], { type: 'tile', name: '2_0_0' }, 'the line after the bad ones is served');
  t.ok(await h.client.ping(), 'still answers on a fresh connection');
});

t.test('a listener that appears only after the tiles are done still receives every notice', async (t) => {
  const h = await startDaemon(t, {}, { listener: false });
  await h.client.request(['5_16_10', '5_17_10'], { barrier: true });
  t.ok(h.daemon.stats().notices, 'stats are there');
  t.equal((h.daemon.stats().notices as { pending: number }).pending, 2, 'both notices are pending while nobody listens');
  const late = await CompletionListener.listen({ port: h.callbackPort });
  t.teardown(() => late.close());
  const got = await late.waitFor(['5_16_10', '5_17_10']);
  t.equal(got.length, 2);
  t.ok((h.daemon.stats().notices as { retried: number }).retried >= 1, 'stats count the retries');
});

t.test('--callback-mode persistent sends every notice on one connection', async (t) => {
  const h = await startDaemon(t, { callbackMode: 'persistent' });
  await h.client.request(['1_0_0', '1_1_0', 'stop']);
  await h.listener!.waitForDone();
  t.same(
    h.listener!.notices.map((n) => (n.type === 'tile' ? n.name : n.type)).sort(),
    ['1_0_0', '1_1_0', 'done'].sort(),
  );
});

t.test('stats and ping answer on the same connection', async (t) => {
  const h = await sharedDaemon();
  t.ok(await h.client.ping());
  const stats = await h.client.stats();
  t.hasProps(stats, ['tiles', 'notices', 'connections']);
  t.hasProps(stats.tiles as object, ['queued', 'running', 'rendered', 'coalesced', 'cancelled', 'rejectedBusy']);
});

t.test('--prefetch: a viewport also renders the ring around it and the zooms above and below, without notices', async (t) => {
  const h = await startDaemon(t, { prefetch: true, metatile: 1 });
  await exchange(h.port, 'viewport 6 20 20 21 21\n');
  await h.daemon.scheduler.onIdle();
  for (const name of ['6_19_19', '6_22_22', '6_19_22', '5_10_10', '7_40_40', '7_43_43']) {
    t.ok(existsSync(path.join(h.tilesDir, `${name}.png`)), `${name} was prefetched`);
  }
  t.notOk(existsSync(path.join(h.tilesDir, '6_20_20.png')), 'the viewport itself is not rendered unless asked for');
  t.equal(h.listener!.notices.length, 0, 'prefetched tiles are not announced');
});

t.test('viewport and cancel on the line protocol reach the scheduler for this client', async (t) => {
  const listener = await CompletionListener.listen();
  t.teardown(() => listener.close());
  // One render process, which the test stops (SIGSTOP) so that a held render keeps the next tiles queued.
  const h = await startHard(t, { metatile: 1, renderTimeoutMs: 8000, isolation: 'process' }, { callbackPort: listener.port });
  await exchange(h.port, 'viewport 8 10 11 12 13\n');
  t.same(h.daemon.scheduler.viewportOf('line:127.0.0.1'), { z: 8, minX: 10, minY: 11, maxX: 12, maxY: 13 });
  await exchange(h.port, 'viewport 8 12 11 10 13\n');
  const [bad] = await listener.waitFor(['viewport']);
  t.match(bad, { type: 'error', reason: /MIN <= MAX/ });

  const tiles = () => h.daemon.stats().tiles as { queued: Record<string, number>; running: number; cancelled: number };
  const framed = await FramedClient.connect({ port: h.port });
  t.teardown(() => framed.close());
  // Warm up: the zoom band's geometry is built once, outside the held render's timeout.
  t.match((await framed.render('2_3_3')).json, { success: true }, 'a first tile of the zoom band renders');
  const [renderPid] = (h.daemon.stats().render as { pids: number[] }).pids;
  process.kill(renderPid!, 'SIGSTOP');
  t.teardown(() => {
    try {
      process.kill(renderPid!, 'SIGKILL');
    } catch {
      // already replaced
    }
  });
  const held = framed.render('2_0_0');
  await waitUntil('the held render to start', () => tiles().running === 1);
  await exchange(h.port, '2_1_1\n2_2_2\n');
  await waitUntil('both tiles queued', () => tiles().queued['interactive'] === 2);
  const cancelledBefore = tiles().cancelled;
  t.equal(await exchange(h.port, 'cancel 2_1_1\n'), '', 'cancel is answered with nothing');
  await waitUntil('the cancelled tile to leave the queue', () => tiles().queued['interactive'] === 1);
  t.equal(tiles().cancelled - cancelledBefore, 1, 'cancel withdrew exactly the one request');

  t.match((await held).json, { success: false, error: { code: 'TIMEOUT' } }, 'the held render is released by its timeout');
  const [kept] = await listener.waitFor(['2_2_2']);
  t.same(kept, { type: 'tile', name: '2_2_2' }, 'the tile that was not cancelled is rendered and announced');
  await h.daemon.scheduler.onIdle();
  t.notOk(existsSync(path.join(h.tilesDir, '2_1_1.png')), 'the cancelled tile was not rendered');
  t.notOk(listener.notices.some((n) => n.type !== 'done' && n.name === '2_1_1'), 'and gets no notice');
});

t.test('stop with nobody listening keeps retrying for --stop-notice-timeout-ms, then exits', async (t) => {
  const h = await startDaemon(t, { stopNoticeTimeoutMs: 300 }, { listener: false });
  await h.client.request(['2_2_1'], { barrier: true });
  const stopped = performance.now();
  await h.client.stop();
  // Generous: the bound is 300 ms; this only tells "stopped" from "retries forever".
  await within(h.daemon.closed, 30_000, 'the daemon to stop although the listener never came');
  t.ok(performance.now() - stopped >= 300, 'it kept trying for at least --stop-notice-timeout-ms before giving up');
  const notices = h.daemon.stats().notices as { sent: number; retried: number; failedAttempts: number };
  t.equal(notices.sent, 0, 'nothing was delivered');
  t.ok(notices.failedAttempts >= 2 && notices.retried >= 1, `it retried (${notices.failedAttempts} failed attempts, ${notices.retried} retries)`);
});
