/**
 * Accepted tile requests survive kill -9: many tiles on one render worker,
 * the daemon killed while some are still queued, restarted on the same
 * folders: the queued ones are rendered (whole PNGs on disk) and announced.
 */
import t from 'tap';
import { freePort, OrderedListener, tempDir, waitUntil } from '../hardening/fixtures/lib.js';
import { decodeTile, kill9, send, serve, stats } from './fixtures.js';

// 48 tiles of z5, three in each of its 16 8×8 metatiles: 16 renders on one
// worker. z5 draws from the 50m data; z6 and deeper would add the 10m
// build to both starts without showing anything more.
const TILES = Array.from({ length: 48 }, (_, i) => {
  const meta = i % 16;
  const k = Math.floor(i / 16);
  return `5_${8 * (meta % 4) + k}_${8 * Math.floor(meta / 4) + 2 * k}`;
});

t.test('tiles queued when the daemon is killed are rendered and announced after the restart', async (t) => {
  const s = { dir: await tempDir(t), callbackPort: await freePort(), extra: [] };
  const listener = await OrderedListener.listen(s.callbackPort);
  t.teardown(() => listener.close());

  const port1 = await freePort();
  const first = await serve(t, s, port1);
  await send(port1, TILES.map((n) => `${n}\n`).join(''));
  // Requests reach the scheduler only once their journal commit is done: queued here means journalled.
  const before = await waitUntil('tiles queued', async () => {
    const st = await stats(port1);
    return st.tiles.queued['interactive']! > 0 ? st : undefined;
  }, 60_000, 20);
  if (before === undefined) throw new Error('unreachable: waitUntil resolves with a truthy value');
  await kill9(first);
  const announcedBefore = new Set(listener.lines);
  t.ok(before.tiles.queued['interactive']! > 0, `${before.tiles.queued['interactive']} tiles were queued at the kill`);
  t.ok(announcedBefore.size < TILES.length, `${announcedBefore.size} of ${TILES.length} were announced before the kill`);

  const port2 = await freePort();
  const second = await serve(t, s, port2);
  t.match(second.output(), /"tiles":[1-9]\d*[^\n]*journal: resuming/, 'the restart re-queues tiles from the journal');
  await listener.until('every tile announced', (lines) => TILES.every((n) => lines.includes(n)), 120_000);
  for (const name of TILES) t.same(await decodeTile(s.dir, name), { width: 256, height: 256 }, `${name} is a whole 256×256 PNG`);

  await send(port2, 'stop\n');
  t.equal((await second.exited).code, 0);
  await listener.until('done', (lines) => lines.includes('done'));
  t.equal(listener.lines.at(-1), 'done', 'done is last');
  const after = listener.lines.slice(announcedBefore.size);
  t.ok(TILES.filter((n) => !announcedBefore.has(n)).every((n) => after.includes(n)), 'every tile not announced before the kill is announced after it');
});
