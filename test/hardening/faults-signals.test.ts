/**
 * Signals on a real daemon (bin/mosaicd.js from dist/): SIGTERM and SIGINT
 * behave like `stop` (finish the queue, deliver every notice, `done` last,
 * exit 0); a second signal stops at once, even with a queue left and the
 * notices undeliverable.
 */
import t from 'tap';
import { FrameResponseDecoder } from '../../src/protocol/frame-response-decoder.js';
import { OrderedListener, connect, exchange, frame, freePort, readUntil, spawnDaemon, tempDir, waitUntil, within } from './fixtures/lib.js';

const baseArgs = (dir: string, port: number, callbackPort: number) => [
  'serve', '--port', String(port), '--callback-port', String(callbackPort), '--tiles-dir', dir,
  '--no-inference', '--concurrency', '1', '--metatile', '1', '--log-level', 'info',
];

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  t.test(`${signal} behaves like stop: the queue finishes, every notice, done last, exit 0`, async (t) => {
    const dir = await tempDir(t);
    const callbackPort = await freePort();
    const listener = await OrderedListener.listen(callbackPort);
    t.teardown(() => listener.close());
    const port = await freePort();
    const child = spawnDaemon(t, baseArgs(dir, port, callbackPort));
    await child.waitForOutput('mosaicd listening');

    const tiles = ['5_1_1', '5_2_1', '5_3_1', '5_4_1', '5_5_1', '5_6_1'];
    const s = await connect(port);
    t.teardown(() => s.destroy());
    s.write(`${tiles.join('\n')}\nping\n`);
    await readUntil(s, 'pong\n'); // every tile line before it has been taken in
    child.proc.kill(signal);
    const { code } = await within(child.exited, 60_000, `the daemon exiting after ${signal}`);
    t.equal(code, 0, 'exit 0');
    await listener.until('done', (lines) => lines.includes('done'));
    t.same(listener.lines.slice().sort(), [...tiles, 'done'].sort(), 'a notice for every tile');
    t.equal(listener.lines.at(-1), 'done', 'done last');
    t.match(child.output(), /signal: stopping gracefully/);
  });
}

t.test('a second signal stops at once: queued work and undeliverable notices do not hold the exit', async (t) => {
  const dir = await tempDir(t);
  const callbackPort = await freePort(); // nobody listens: notices cannot be delivered
  const port = await freePort();
  const child = spawnDaemon(t, baseArgs(dir, port, callbackPort));
  await child.waitForOutput('mosaicd listening');
  t.equal(await exchange(port, '4_1_1\n4_2_1\n\n'), '\n', 'two tiles done; their notices wait for a listener');
  // A long queue: 400 tiles at zoom 9, one per render.
  const s = await connect(port);
  t.teardown(() => s.destroy());
  let lines = '';
  for (let i = 0; i < 400; i++) lines += `9_${i}_100\n`;
  s.write(`${lines}ping\n`);
  await readUntil(s, 'pong\n');

  child.proc.kill('SIGTERM');
  await child.waitForOutput('stopping: finishing queued work');
  const second = performance.now();
  child.proc.kill('SIGTERM');
  const { code } = await within(child.exited, 15_000, 'the daemon exiting after the second signal');
  const ms = performance.now() - second;
  t.equal(code, 0, 'exit 0');
  t.ok(ms < 10_000, `exited ${Math.round(ms)} ms after the second signal`);
  t.match(child.output(), /signal: stopping now/);
  t.match(child.output(), /notices not delivered|stopped waiting/, 'it says notices were left undelivered');
});

t.test('mosaicd stdio: the first signal finishes the queue, a second one stops at once', async (t) => {
  const dir = await tempDir(t);
  const child = spawnDaemon(t, ['stdio', '--tiles-dir', dir, '--no-inference', '--concurrency', '1', '--metatile', '1', '--log-level', 'info'], {}, { stdin: true });
  const decoder = new FrameResponseDecoder();
  const answers: Array<{ success: boolean; error: { code: string } | null }> = [];
  child.proc.stdout!.on('data', (c: Buffer) => {
    for (const item of decoder.push(c)) if (item.type === 'response') answers.push(JSON.parse(item.json.toString('utf8')));
  });
  const requests = Array.from({ length: 300 }, (_, i) => frame({ command: 'render', request_id: i, tile: `9_${i}_200` }));
  child.proc.stdin!.write(Buffer.concat(requests));
  await waitUntil('the first answers', () => answers.length >= 1, 30_000);
  child.proc.kill('SIGTERM');
  await child.waitForOutput('stopping: finishing queued work');
  const atFirstSignal = answers.length;
  await waitUntil('the queue to keep going after the first signal', () => answers.length > atFirstSignal + 1, 30_000);
  t.ok(answers.slice(0, atFirstSignal + 2).every((a) => a.success), 'renders go on after the first signal (graceful)');
  const second = performance.now();
  child.proc.kill('SIGTERM');
  const { code } = await within(child.exited, 15_000, 'mosaicd stdio exiting after the second signal');
  t.equal(code, 0, 'exit 0');
  const ms = performance.now() - second;
  await new Promise<void>((resolve) => (child.proc.stdout!.readableEnded ? resolve() : child.proc.stdout!.once('end', () => resolve())));
  const dropped = answers.filter((a) => a.error?.code === 'SHUTTING_DOWN').length;
  t.ok(ms < 10_000, `exited ${Math.round(ms)} ms after the second signal`);
  t.ok(dropped > 0, `the rest of the queue was dropped: ${dropped} of 300 answered SHUTTING_DOWN, ${answers.filter((a) => a.success).length} rendered`);
});
