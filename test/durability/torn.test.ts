/**
 * A damaged journal never stops the daemon from starting: bad rows and a
 * torn write-ahead log after kill -9 are skipped with a warning naming
 * them, and a journal file that is not a database at all is moved aside.
 */
import t from 'tap';
import { appendFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { freePort, OrderedListener, tempDir } from '../hardening/fixtures/lib.js';
import { counts, kill9, requestAndWait, send, serve } from './fixtures.js';

const TILES = ['3_0_0', '3_1_0', '3_2_1'];

t.test('bad rows and a torn WAL tail: start-up succeeds, names what it skipped, delivers the rest', async (t) => {
  const s = { dir: await tempDir(t), callbackPort: await freePort(), extra: [] };
  const state = path.join(s.dir, '.mosaicd-state');
  const first = await serve(t, s, await freePort());
  await requestAndWait(Number(/"port":(\d+)/.exec(first.output())![1]), TILES);
  await kill9(first);

  // Rows no daemon wrote: a notice that is not one line, a tile that is not Z_X_Y, a port out of range.
  const db = new Database(path.join(state, 'journal.sqlite'));
  const badNotice = db.prepare('INSERT INTO notices (host, port, line) VALUES (?, ?, ?)').run('127.0.0.1', s.callbackPort, 'half a no').lastInsertRowid;
  const badTile = db.prepare('INSERT INTO tiles (host, port, tile, cls, force, client) VALUES (?, ?, ?, ?, ?, ?)').run('127.0.0.1', s.callbackPort, 'x_y', 'interactive', 0, 'line:127.0.0.1').lastInsertRowid;
  const badPort = db.prepare('INSERT INTO notices (host, port, line) VALUES (?, ?, ?)').run('127.0.0.1', 70000, '3_3_3\n').lastInsertRowid;
  db.close();
  // A write torn by a crash: a WAL whose tail is garbage.
  await writeFile(path.join(state, 'journal.sqlite-wal'), Buffer.alloc(0));
  await appendFile(path.join(state, 'journal.sqlite-wal'), Buffer.from('377f0682002de218 a torn frame \x00\x01\x02 garbage'.repeat(40)));

  const listener = await OrderedListener.listen(s.callbackPort);
  t.teardown(() => listener.close());
  const port2 = await freePort();
  const second = await serve(t, s, port2);
  const out = second.output();
  t.match(out, new RegExp(`skipped a journal record that does not parse \\(notices ${badNotice}: notice \\\\"half a no\\\\" is not one line\\)`), 'the bad notice is named');
  t.match(out, new RegExp(`skipped a journal record that does not parse \\(tiles ${badTile}: tile \\\\"x_y\\\\" is not Z_X_Y\\)`), 'the bad tile is named');
  t.match(out, new RegExp(`skipped a journal record that does not parse \\(notices ${badPort}: listener port 70000 is not a port\\)`), 'the bad port is named');
  t.match(out, /"skipped":3[^\n]*journal: resuming/, 'the summary counts them');

  await send(port2, 'stop\n');
  t.equal((await second.exited).code, 0);
  await listener.until('done', (lines) => lines.includes('done'));
  const got = counts(listener.lines);
  for (const name of TILES) t.equal(got.get(name), 1, `${name}: the good record is delivered`);
  t.same(listener.lines.slice(-1), ['done']);
  t.equal(listener.lines.length, TILES.length + 1, 'nothing of the bad rows is sent');
});

t.test('a journal file that is not a database is moved aside and the daemon starts with a fresh one', async (t) => {
  const s = { dir: await tempDir(t), callbackPort: await freePort(), extra: [] };
  // What a crash that wrote over the header leaves (no earlier daemon is needed to make it).
  const state = path.join(s.dir, '.mosaicd-state');
  await mkdir(state);
  await writeFile(path.join(state, 'journal.sqlite'), Buffer.from('this is not SQLite, a crash wrote over the header'.repeat(100)));

  const listener = await OrderedListener.listen(s.callbackPort);
  t.teardown(() => listener.close());
  const port2 = await freePort();
  const second = await serve(t, s, port2);
  t.match(second.output(), /journal file is not a readable database: moved aside/, 'the log says so');
  t.ok((await readdir(state)).some((f) => f.startsWith('journal.sqlite.corrupt-')), 'the damaged file is kept for inspection');
  await requestAndWait(port2, ['2_1_1']);
  await send(port2, 'stop\n');
  t.equal((await second.exited).code, 0);
  await listener.until('done', (lines) => lines.includes('done'));
  t.same(listener.lines, ['2_1_1', 'done'], 'the fresh journal works');
});
