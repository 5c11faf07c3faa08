/**
 * Queue limits: queued tiles per priority class (DEFAULT_QUEUE_LIMITS,
 * `queueLimits`, --queue-limit CLASS=N) answered `error Z_X_Y busy` on the
 * line protocol and BUSY on the framed one; and notices kept for an absent
 * listener (MAX_PENDING_NOTICES, --max-pending-notices): past it a tile
 * request is refused up front, and no notice is lost or sent twice.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { configFromArgv } from '../../src/cli/options.js';
import { DEFAULT_CONFIG } from '../../src/config/daemon-config.js';
import { MAX_PENDING_NOTICES } from '../../src/limits.js';
import { DEFAULT_QUEUE_LIMITS } from '../../src/scheduler/priority.js';
import { OrderedListener, RawFramed, exchange, frame, freePort, startHard, waitUntil } from './fixtures/lib.js';

t.test('queue limits can be set from the flags, the environment and the config file', async (t) => {
  t.same(DEFAULT_CONFIG.queueLimits, DEFAULT_QUEUE_LIMITS);
  t.equal(configFromArgv({ 'queue-limit': ['interactive=2', 'bulk=10'] }, {}).queueLimits.interactive, 2);
  t.equal(configFromArgv({}, { MOSAICD_QUEUE_LIMIT: 'visible=3' }).queueLimits.visible, 3);
  t.equal(configFromArgv({ 'inference-queue-limit': 5 }, {}).inferenceQueueLimit, 5);
  t.equal(configFromArgv({ 'max-pending-notices': 7 }, {}).maxPendingNotices, 7);
});

t.test('a full class: `error Z_X_Y busy` on the line protocol, BUSY on the framed one', async (t) => {
  const callbackPort = await freePort();
  const listener = await OrderedListener.listen(callbackPort);
  t.teardown(() => listener.close());
  // One render slot, one tile per job, at most 2 interactive tiles waiting.
  const h = await startHard(t, { queueLimits: { interactive: 2 }, metatile: 1, maxZoom: 8 }, { callbackPort });

  // Six tiles of six jobs in one write: they are admitted in one turn of the
  // event loop, before any render can finish: one starts, two wait, three are refused.
  const lineTiles = ['6_10_20', '6_11_20', '6_12_20', '6_13_20', '6_14_20', '6_15_20'];
  const reply = await exchange(h.port, `${lineTiles.join('\n')}\n\n`);
  t.equal(reply, '\n', 'the barrier is answered once the admitted tiles are done');
  await listener.until('a notice per tile', (lines) => lines.length >= lineTiles.length);
  const busy = listener.lines.filter((l) => / busy$/.test(l));
  const rendered = listener.lines.filter((l) => lineTiles.includes(l));
  t.same(busy, ['error 6_13_20 busy', 'error 6_14_20 busy', 'error 6_15_20 busy'], 'the fourth to sixth are refused, each with `error Z_X_Y busy`');
  t.same(rendered.sort(), ['6_10_20', '6_11_20', '6_12_20'], 'the admitted ones are rendered');
  t.notOk(existsSync(path.join(h.tilesDir, '6_15_20.png')), 'a refused tile is not rendered');

  const conn = await RawFramed.open(h.port);
  t.teardown(() => conn.socket.destroy());
  const framedTiles = ['7_10_20', '7_11_20', '7_12_20', '7_13_20', '7_14_20'];
  conn.write(Buffer.concat(framedTiles.map((tile, i) => frame({ command: 'render', request_id: i, tile }))), framedTiles.length);
  const answers = await conn.waitFor(framedTiles.length);
  t.same(answers.map((a) => a.json.error?.code ?? 'ok'), ['ok', 'ok', 'ok', 'BUSY', 'BUSY']);
  t.match(answers[3]!.json, { success: false, request_id: 3, error: { code: 'BUSY', message: /the interactive queue is full \(2 tiles\)/ } });
  t.equal((h.daemon.stats().tiles as { rejectedBusy: number }).rejectedBusy, 5, 'stats count the refusals');

  // Room again once the queue drained.
  t.equal(await exchange(h.port, '6_13_20\n\n'), '\n');
  await listener.until('the retried tile', (lines) => lines.includes('6_13_20'));
});

t.test('--max-pending-notices: past it a tile request is refused in-band; no notice is lost or duplicated; done still goes out', async (t) => {
  t.equal(DEFAULT_CONFIG.maxPendingNotices, MAX_PENDING_NOTICES);
  const callbackPort = await freePort(); // nobody listens yet
  const h = await startHard(t, { maxPendingNotices: 3, metatile: 1 }, { callbackPort });
  const pending = () => (h.daemon.stats().notices as { pending: number }).pending;

  // Requests in flight count: of four tiles in one write, three are admitted (their
  // notices are owed), the fourth is refused before anything is rendered.
  const first = await exchange(h.port, '5_1_1\n5_2_1\n5_3_1\n5_4_1\n\n');
  t.equal(first, 'error 5_4_1 busy: 0 completion notices are waiting for the listener and 3 more are owed (--max-pending-notices 3); the tile was not queued\n\n', 'the fourth is refused in-band; the barrier follows');
  t.equal(pending(), 3, 'the three admitted tiles were rendered; their notices wait');
  const refused = await exchange(h.port, '5_4_1\n');
  t.match(refused, /^error 5_4_1 busy: 3 completion notices are waiting for the listener and 0 more are owed \(--max-pending-notices 3\); the tile was not queued\n$/, `answered on the connection: ${refused.trim()}`);
  t.notOk(existsSync(path.join(h.tilesDir, '5_4_1.png')), 'the refused tile was not rendered');

  const listener = await OrderedListener.listen(callbackPort);
  t.teardown(() => listener.close());
  await listener.until('the three kept notices', (lines) => lines.length >= 3);
  t.same(listener.lines, ['5_1_1', '5_2_1', '5_3_1'], 'every kept notice delivered, in completion order');
  await waitUntil('pending to reach 0', () => pending() === 0);

  t.equal(await exchange(h.port, '5_4_1\n\n'), '\n', 'accepted once the notices are delivered');
  await listener.until('5_4_1', (lines) => lines.includes('5_4_1'));

  // Fill it again with the listener away, then stop: `done` is owed whatever the backlog.
  await listener.close();
  t.equal(await exchange(h.port, '5_5_1\n5_6_1\n5_7_1\n\n'), '\n');
  t.equal(pending(), 3);
  t.match(await exchange(h.port, '5_8_1\n'), /^error 5_8_1 busy/);
  t.equal(await exchange(h.port, 'stop\n'), '', 'stop is accepted (loopback)');
  await waitUntil('done to be queued past the limit', () => pending() === 4);
  const back = await OrderedListener.listen(callbackPort);
  t.teardown(() => back.close());
  await back.until('done', (lines) => lines.includes('done'));
  await h.daemon.closed;
  const all = [...listener.lines, ...back.lines];
  t.same(back.lines, ['5_5_1', '5_6_1', '5_7_1', 'done'], 'the kept notices, then done last');
  t.equal(new Set(all).size, all.length, 'no notice twice');
  t.notOk(all.some((l) => l.includes('5_8_1')), 'no notice for a refused tile');
});
