import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SqliteJournal, JOURNAL_FILE } from '../../src/notify/journal.js';
import { ErrorCode } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';

async function dir(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'mosaicd-journal-'));
  t.teardown(() => rm(d, { recursive: true, force: true }));
  return d;
}

const at = { host: '127.0.0.1', port: 12346 };
const tile = (name: string) => ({ ...at, tile: name, cls: 'interactive' as const, force: false, clientId: 'line:127.0.0.1' });

t.test('operations of one event-loop turn are committed together, and survive a reopen', async (t) => {
  const d = await dir(t);
  const j = new SqliteJournal(d, silentLogger());
  const ids = await Promise.all([j.acceptTile(tile('3_1_1')), j.acceptTile(tile('3_2_2')), j.addNotice({ ...at, line: '0_0_0\n' }, undefined)]);
  t.not(ids[0], ids[1], 'each tile record has its own id');
  // The tile 3_1_1 is answered: its record becomes a notice record in one commit.
  await j.addNotice({ ...at, line: '3_1_1\n' }, ids[0]);
  j.release(ids[2], undefined);
  j.close();

  const again = new SqliteJournal(d, silentLogger());
  t.teardown(() => again.close());
  const r = again.recover();
  t.same(r.tiles.map((x) => x.tile), ['3_2_2'], 'the answered tile is gone, the other is left');
  t.same(r.notices.map((x) => x.line), ['3_1_1\n'], 'the released notice is gone, the answer is left');
  t.same(r.skipped, []);
  t.same(r.tiles[0], { id: ids[1], ...tile('3_2_2') }, 'every field comes back');
});

t.test('rows that do not parse are skipped, named and deleted', async (t) => {
  const d = await dir(t);
  new SqliteJournal(d, silentLogger()).close();
  const db = new Database(path.join(d, JOURNAL_FILE));
  db.prepare('INSERT INTO notices (host, port, line) VALUES (?, ?, ?)').run('127.0.0.1', 12346, 'ok\n');
  db.prepare('INSERT INTO notices (host, port, line) VALUES (?, ?, ?)').run(null, 12346, 'no host\n');
  db.prepare('INSERT INTO notices (host, port, line) VALUES (?, ?, ?)').run('127.0.0.1', 12346, Buffer.from('a blob\n'));
  db.prepare('INSERT INTO tiles (host, port, tile, cls, force, client) VALUES (?, ?, ?, ?, ?, ?)').run('127.0.0.1', 12346, '3_1_1', 'urgent', 0, 'c');
  db.close();

  const j = new SqliteJournal(d, silentLogger());
  const r = j.recover();
  t.same(r.notices.map((n) => n.line), ['ok\n']);
  t.equal(r.tiles.length, 0);
  t.same(r.skipped, [
    'notices 2: listener host null is not a host',
    'notices 3: notice {"type":"Buffer","data":[97,32,98,108,111,98,10]} is not one line',
    'tiles 1: class "urgent" is unknown',
  ]);
  j.close();
  const again = new SqliteJournal(d, silentLogger());
  t.same(again.recover().skipped, [], 'deleted, so not skipped again');
  again.close();
});

t.test('two daemons cannot share a journal: the second gets STORAGE_ERROR at start', async (t) => {
  const d = await dir(t);
  const first = new SqliteJournal(d, silentLogger());
  t.teardown(() => first.close());
  t.throws(() => new SqliteJournal(d, silentLogger()), { code: ErrorCode.STORAGE_ERROR, message: /in use by another mosaicd/ });
});

t.test('a state folder that cannot be created: the journal opens broken and refuses writes with STORAGE_ERROR', async (t) => {
  const d = await dir(t);
  const blocked = path.join(d, 'a-file');
  await writeFile(blocked, 'not a folder');
  const j = new SqliteJournal(path.join(blocked, 'state'), silentLogger());
  t.teardown(() => j.close());
  t.equal(j.open, false);
  await t.rejects(j.acceptTile(tile('1_0_0')), { code: ErrorCode.STORAGE_ERROR });
  await t.rejects(j.addNotice({ ...at, line: 'x\n' }, undefined), { code: ErrorCode.STORAGE_ERROR });
  t.same(j.recover(), { tiles: [], notices: [], skipped: [] });
});

t.test('a file that is not a database is moved aside and a fresh journal works', async (t) => {
  const d = await dir(t);
  await writeFile(path.join(d, JOURNAL_FILE), Buffer.alloc(8192, 'x'));
  const j = new SqliteJournal(d, silentLogger());
  t.teardown(() => j.close());
  t.equal(j.open, true);
  t.ok((await j.acceptTile(tile('1_0_0'))) > 0);
});
