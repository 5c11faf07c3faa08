/**
 * The completion listener goes away mid-run and comes back: every notice is
 * delivered afterwards, in completion order, none twice within the daemon's
 * run (the guarantee documented in src/notify/callback-notifier.ts and
 * docs/operations.md).
 *
 * The absence is 3 s by default (longer than several backoff periods:
 * 100, 200, 400, 800, 1600 ms) and 30 s with MOSAICD_LONG_TESTS=1. The
 * absence itself is the feature under test, so the test waits it out on a
 * timer; the daemon uses its default backoff (100 ms doubling to 5 s).
 */
import t from 'tap';
import type { MetaTile } from '../../src/tile/tile-coord.js';
import { OrderedListener, exchange, freePort, startHard, waitUntil } from './fixtures/lib.js';

const ABSENCE_MS = process.env['MOSAICD_LONG_TESTS'] === '1' ? 30_000 : 3_000;

t.test(`the listener is away for ${ABSENCE_MS / 1000} s mid-run: every notice afterwards, in completion order, none twice`, async (t) => {
  t.comment(`listener absence: ${ABSENCE_MS} ms (MOSAICD_LONG_TESTS=1 for 30 s)`);
  const callbackPort = await freePort();
  let listener = await OrderedListener.listen(callbackPort);
  t.teardown(() => listener.close());
  const h = await startHard(t, { metatile: 1 }, { callbackPort, noticeRetryBaseMs: 100 });
  const notices = () => h.daemon.stats().notices as { pending: number; sent: number; retried: number; failedAttempts: number };

  // Completion order, as the scheduler finishes renders (one tile per job here).
  const completed: string[] = [];
  h.daemon.scheduler.on('rendered', (meta: MetaTile) => completed.push(`${meta.z}_${meta.x}_${meta.y}`));
  const tiles = (z: number, row: number, n: number) => Array.from({ length: n }, (_, i) => `${z}_${i}_${row}`);

  // Before: the listener is there.
  const before = tiles(5, 3, 8);
  t.equal(await exchange(h.port, `${before.join('\n')}\n\n`), '\n');
  await listener.until('the first notices', (lines) => lines.length === before.length);
  await waitUntil('nothing pending', () => notices().pending === 0);

  // Away: close the listener, keep asking for tiles while it is gone.
  await listener.close();
  const awayFrom = performance.now();
  const during = [...tiles(5, 4, 10), ...tiles(5, 5, 10)];
  t.equal(await exchange(h.port, `${during.slice(0, 10).join('\n')}\n\n`), '\n', 'tiles render while nobody listens');
  t.equal(await exchange(h.port, `${during.slice(10).join('\n')}\n\n`), '\n');
  t.equal(notices().pending, during.length, 'their notices are kept');
  const left = ABSENCE_MS - (performance.now() - awayFrom);
  if (left > 0) await new Promise((r) => setTimeout(r, left)); // the absence is the feature under test
  const failed = notices().failedAttempts;
  t.ok(failed >= 3, `the daemon kept retrying with backoff while the listener was away (${failed} failed attempts)`);

  // Back: the same port.
  const first = listener.lines.slice();
  listener = await OrderedListener.listen(callbackPort);
  const after = tiles(6, 7, 6);
  t.equal(await exchange(h.port, `${after.join('\n')}\n\n`), '\n', 'and more tiles after it is back');
  await listener.until('every notice', (lines) => lines.length >= during.length + after.length, 60_000);
  await waitUntil('nothing pending', () => notices().pending === 0, 30_000);

  const delivered = [...first, ...listener.lines];
  t.equal(delivered.length, before.length + during.length + after.length, `${delivered.length} notices delivered`);
  t.equal(new Set(delivered).size, delivered.length, 'none twice');
  t.same(delivered, completed, 'in completion order');
  t.ok(notices().retried >= 1, `stats show the retries (retried ${notices().retried})`);
});
