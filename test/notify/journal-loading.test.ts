// better-sqlite3 is a native addon: only a daemon that opens a journal
// loads it. Loaded CommonJS modules, the addon's wrapper included, are
// listed in require.cache (also when imported from ESM).
import t from 'tap';
import { createRequire } from 'node:module';
import { SqliteJournal } from '../../src/notify/journal.js';
import { silentLogger } from '../../src/log.js';
import { startDaemon, tempDir } from '../helpers/daemon.js';

const cache = createRequire(import.meta.url).cache;
const sqliteLoaded = (): boolean => Object.keys(cache).some((file) => file.includes('/node_modules/better-sqlite3/'));

t.test('a daemon started with the journal off serves a tile without loading better-sqlite3', async (t) => {
  const { client, listener } = await startDaemon(t, { journal: false });
  const noticed = listener!.waitFor(['0_0_0']);
  await client.request(['0_0_0']);
  await noticed;
  t.equal(sqliteLoaded(), false, 'better-sqlite3 is not in require.cache');
});

t.test('opening a journal loads better-sqlite3', async (t) => {
  const journal = new SqliteJournal(await tempDir(t), silentLogger());
  t.teardown(() => journal.close());
  t.equal(journal.open, true, 'the journal is open');
  t.equal(sqliteLoaded(), true, 'better-sqlite3 is in require.cache');
});
