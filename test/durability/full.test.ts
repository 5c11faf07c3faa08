/**
 * A full state folder: the journal lives on a 512 KiB tmpfs that the test
 * fills to the last byte. New line tile requests are then refused with a
 * clear `error Z_X_Y STORAGE_ERROR ...` notice and not rendered; the ones
 * accepted before still get their notices, in that run and (kill -9, space
 * freed, restart) in the next. Needs `mount -t tmpfs` (root); skipped where
 * mounting is not permitted.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, writeSync, closeSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { freePort, OrderedListener, tempDir, waitUntil } from '../hardening/fixtures/lib.js';
import { counts, kill9, requestAndWait, send, serve } from './fixtures.js';

const ACCEPTED = ['3_0_0', '3_1_0', '3_2_1', '2_1_1'];
// Zoom 4: in no metatile the accepted ones render.
const REFUSED = ['4_9_9', '4_10_12'];

/** Writes zeros until the file system says it is full. */
function fill(file: string): number {
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(4096);
  let written = 0;
  try {
    for (;;) written += writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  return written;
}

t.test('a full state folder: new tiles get STORAGE_ERROR, accepted ones keep their notices across kill -9', async (t) => {
  const dir = await tempDir(t);
  const state = path.join(dir, 'state');
  mkdirSync(state);
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', state], { encoding: 'utf8' });
  if (mounted.status !== 0) {
    t.skip(`cannot mount a tmpfs here (${(mounted.stderr || mounted.error?.message || '').trim()}); this test needs root`, () => undefined);
    return;
  }
  t.teardown(() => void spawnSync('umount', ['-l', state]));
  const s = { dir, callbackPort: await freePort(), extra: ['--state-dir', state] };

  const port1 = await freePort();
  const first = await serve(t, s, port1);
  // The listener is away: the accepted tiles' notices wait in the journal.
  await requestAndWait(port1, ACCEPTED);
  const filler = path.join(state, 'filler');
  t.ok(fill(filler) > 0, 'the state folder is full');
  await requestAndWait(port1, REFUSED);
  // The warning travels on the child's stderr pipe and may arrive after the refusal's reply.
  await waitUntil('the daemon logging the unwritable journal', () => /the journal cannot be written/.test(first.output()), 10_000, 25).catch(() => undefined);
  t.match(first.output(), /the journal cannot be written/, 'the daemon logs that the journal cannot be written');

  const listener = await OrderedListener.listen(s.callbackPort);
  t.teardown(() => listener.close());
  await listener.until('every notice', (lines) => ACCEPTED.every((n) => lines.includes(n)) && lines.filter((l) => l.startsWith('error')).length === REFUSED.length);
  for (const name of REFUSED) {
    const line = listener.lines.find((l) => l.startsWith(`error ${name} `));
    t.match(line, new RegExp(`^error ${name} STORAGE_ERROR the state folder is full \\(SQLITE_FULL`), `${name} is refused with STORAGE_ERROR`);
    t.notOk(existsSync(path.join(dir, `${name}.png`)), `${name} was not rendered`);
  }
  for (const name of ACCEPTED) t.ok(listener.lines.includes(name), `${name}, accepted before the disk filled, is announced`);

  await kill9(first);
  await rm(filler);
  const port2 = await freePort();
  const second = await serve(t, s, port2);
  await requestAndWait(port2, ['0_0_0']);
  await send(port2, 'stop\n');
  t.equal((await second.exited).code, 0);
  await listener.until('done', (lines) => lines.includes('done'));
  const got = counts(listener.lines);
  t.equal(got.get('0_0_0'), 1, 'with space again, new requests are accepted');
  for (const name of ACCEPTED) t.ok((got.get(name) ?? 0) >= 1, `${name}: at least once over both runs`);
  for (const name of REFUSED) t.notOk(got.has(name), `${name} is never announced as rendered`);
  t.equal(listener.lines.at(-1), 'done', 'done is last');
});
