/**
 * Clients that go away: mid-frame, mid-response, or with work queued. Other
 * clients are not affected; the queued work of a client that went away is
 * withdrawn unless another client also asked for it.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { RawFramed, closeOf, connect, exchange, frame, readUntil, startHard, u64, waitUntil, within } from './fixtures/lib.js';

t.test('clients that disconnect mid-frame, mid-response or with queued work', async (t) => {
  // Tiles at zooms 1 and 2 (the smallest dataset): preparing their geometry never comes near the 3 s render deadline.
  // Render processes, so a test can stop one (SIGSTOP) to hold the only render slot. The deadline
  // also covers a fresh process's first render of a zoom band (it builds that geometry): not too short.
  const h = await startHard(t, { metatile: 1, renderTimeoutMs: 8000, idleTimeoutMs: 0, isolation: 'process' });
  const stats = () => h.daemon.stats();
  const tiles = () => stats().tiles as { queued: Record<string, number>; cancelled: number; running: number };
  const b = await RawFramed.open(h.port);
  t.teardown(() => b.socket.destroy());
  t.match((await b.request({ command: 'render', request_id: 'warm', tile: '1_1_1' })).json, { success: true }, 'B renders a tile');

  t.test('mid-frame: half a JSON, half a payload, then gone', async (t) => {
    const a1 = await connect(h.port, { allowHalfOpen: false });
    a1.write(Buffer.concat([u64(100), Buffer.from('{"command":"render","tile":"1_')]));
    const a2 = await connect(h.port, { allowHalfOpen: false });
    const json = Buffer.from('{"command":"ping","request_id":5}');
    a2.write(Buffer.concat([u64(json.length), json, u64(1000), Buffer.alloc(10)]));
    const a3 = await connect(h.port, { allowHalfOpen: false });
    a3.write(Buffer.concat([u64(100), Buffer.from('{"command"')]));
    const b1 = b.request({ command: 'stats', request_id: 1 });
    a1.destroy();
    a2.end();
    a3.resetAndDestroy();
    await Promise.all([closeOf(a1), closeOf(a2), closeOf(a3)]);
    t.match((await b1).json, { success: true, request_id: 1 }, 'B is answered meanwhile');
    t.match((await b.request({ command: 'render', request_id: 2, tile: '1_1_1' })).json, { success: true, request_id: 2, results: [{ tile: '1_1_1' }] });
    await waitUntil('the daemon to drop the three connections', () => stats().connections === 1, 10_000);
  });

  t.test('mid-response: pipelined tiles, then gone after the first bytes', async (t) => {
    const a = await connect(h.port, { allowHalfOpen: false });
    a.write(Buffer.concat(Array.from({ length: 40 }, (_, i) => frame({ command: 'render', request_id: i, tile: '1_1_1' }))));
    await new Promise<void>((resolve) => a.once('data', () => resolve()));
    a.pause(); // the rest stays unread: closing now resets the connection
    a.destroy();
    await closeOf(a);
    const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => b.request({ command: 'render', request_id: `b${i}`, tile: '1_1_1' })));
    t.same(answers.map((r) => r.json.request_id), ['b0', 'b1', 'b2', 'b3', 'b4'], 'B gets all its answers, in order');
    const whole = answers.every((r) => r.json.success && r.images.length === 1 && r.images[0]!.length === (r.json['results'] as Array<{ image_length: number }>)[0]!.image_length);
    t.ok(whole, 'each with its whole PNG');
    await waitUntil('the daemon to drop the connection', () => stats().connections === 1, 10_000);
  });

  t.test('queued work: withdrawn when its client goes away, unless another client asked for the same tile', async (t) => {
    // Hold the one render worker: its process is stopped, so its render runs into --render-timeout-ms.
    const [renderPid] = (stats().render as { pids: number[] }).pids;
    process.kill(renderPid!, 'SIGSTOP');
    const blocker = b.request({ command: 'render', request_id: 'blocker', tile: '2_0_0' }, undefined, 30_000);
    await waitUntil('the hanging render to start', () => tiles().running === 1);
    const cancelledBefore = tiles().cancelled;

    const a = await RawFramed.open(h.port); // framed: gone = withdrawn
    const c = await RawFramed.open(h.port);
    t.teardown(() => c.socket.destroy());
    a.write(Buffer.concat(['2_1_0', '2_2_0', '2_3_0', '2_3_3'].map((tile, i) => frame({ command: 'render', request_id: i, tile }))), 4);
    const shared = c.request({ command: 'render', request_id: 'shared', tile: '2_3_3' }, undefined, 30_000);
    const seeder = await connect(h.port); // line `bulk`: withdrawn too
    seeder.write('bulk 2_1_3\nping\n');
    await readUntil(seeder, 'pong\n');
    t.equal(await exchange(h.port, '2_2_3\n'), '', 'an old-style client: one tile line, then it closes at once');
    await waitUntil('every request queued', () => tiles().queued['interactive'] === 6 && tiles().queued['bulk'] === 1);

    a.socket.resetAndDestroy();
    seeder.resetAndDestroy();
    await waitUntil('the withdrawn requests to leave the queue', () => tiles().queued['interactive'] === 2 && tiles().queued['bulk'] === 0);
    t.equal(tiles().cancelled - cancelledBefore, 5, "A's four requests and the seeder's bulk tile were withdrawn");

    const blocked = await blocker;
    t.match(blocked.json, { success: false, request_id: 'blocker', error: { code: 'TIMEOUT' } });
    const sharedAnswer = await shared;
    t.match(sharedAnswer.json, { success: true, request_id: 'shared', results: [{ tile: '2_3_3' }] }, 'the tile C also asked for is rendered for C');
    const rendered = await waitUntil('the old-style tile', () => existsSync(path.join(h.tilesDir, '2_2_3.png')), 30_000);
    t.equal(rendered, true, 'a tile line is not withdrawn when its connection closes (old clients send one line and close): 2_2_3.png was written');
    for (const gone of ['2_1_0', '2_2_0', '2_3_0', '2_1_3']) t.notOk(existsSync(path.join(h.tilesDir, `${gone}.png`)), `${gone} was not rendered`);
    await within(b.request({ command: 'ping', request_id: 'end' }), 10_000, 'B still served');
  });
});
