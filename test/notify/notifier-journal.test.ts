/**
 * The notice queue with a journal (an injected fake, so each commit is in
 * the test's hands): nothing is sent before its record is committed,
 * records are released once delivered, restored records are delivered, and
 * a journal that fails loses no notice.
 */
import t from 'tap';
import { CallbackNotifier, NotifierEvent } from '../../src/notify/callback-notifier.js';
import type { JournalledNotice, JournalledTile, NoticeJournal } from '../../src/notify/journal.js';
import { StorageError } from '../../src/errors.js';
import { startListener } from './fixtures/listener.js';

class FakeJournal implements NoticeJournal {
  readonly commits: Array<{ line: string; answers: number | undefined; commit: () => void; fail: () => void }> = [];
  readonly released: Array<[number | undefined, number | undefined]> = [];
  nextId = 100;
  acceptTile(_tile: Omit<JournalledTile, 'id'>): Promise<number> {
    return Promise.resolve(this.nextId++);
  }
  addNotice(notice: Omit<JournalledNotice, 'id'>, answers: number | undefined): Promise<number> {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.commits.push({ line: notice.line, answers, commit: () => resolve(id), fail: () => reject(new StorageError('disk full')) });
    });
  }
  release(noticeId: number | undefined, tileId: number | undefined): void {
    this.released.push([noticeId, tileId]);
  }
}

for (const mode of ['short', 'persistent'] as const) {
  t.test(`${mode}: a notice is sent only after its journal commit, and released once delivered`, async (t) => {
    const listener = await startListener(t);
    const journal = new FakeJournal();
    const n = new CallbackNotifier({ host: '127.0.0.1', port: listener.port, mode, journal, retryBaseMs: 1, retryMaxMs: 20 });
    t.teardown(() => n.close());
    const sent: string[] = [];
    n.on(NotifierEvent.DELIVERED, (l: string) => sent.push(l));
    const journalled = n.enqueue('3_1_1\n', { answers: 7 });
    n.enqueue('3_2_2\n');
    await new Promise((r) => setTimeout(r, 50));
    t.same(sent, [], 'nothing is sent while the records are not committed');
    t.equal(n.stats().pending, 2);
    t.same(journal.commits.map((c) => [c.line, c.answers]), [['3_1_1\n', 7], ['3_2_2\n', undefined]], 'the first record answers tile 7');
    for (const c of journal.commits) c.commit();
    await journalled;
    await n.flush();
    t.same(sent, ['3_1_1\n', '3_2_2\n'], 'delivered in order once committed');
    await n.close();
    t.same(journal.released.sort(), [[100, undefined], [101, undefined]], 'both records are released (persistent: at the clean close)');
  });
}

t.test('restored records are delivered first, in their order, and released', async (t) => {
  const listener = await startListener(t);
  const journal = new FakeJournal();
  const n = new CallbackNotifier({ host: '127.0.0.1', port: listener.port, journal, maxInFlight: 1 });
  t.teardown(() => n.close());
  n.restore([
    { id: 1, host: '127.0.0.1', port: listener.port, line: 'a\n' },
    { id: 2, host: '127.0.0.1', port: listener.port, line: 'b\n' },
  ]);
  await n.flush();
  t.same(listener.received, ['a\n', 'b\n']);
  t.same(journal.released, [[1, undefined], [2, undefined]]);
  t.same(journal.commits, [], 'restored records are not written again');
});

t.test('a journal that cannot be written loses no notice: it goes on in memory and its tile record goes once delivered', async (t) => {
  const listener = await startListener(t);
  const journal = new FakeJournal();
  const n = new CallbackNotifier({ host: '127.0.0.1', port: listener.port, journal });
  t.teardown(() => n.close());
  const failures: unknown[] = [];
  n.on(NotifierEvent.JOURNAL_FAILED, (e: unknown) => failures.push(e));
  const journalled = n.enqueue('3_1_1\n', { answers: 9 });
  journal.commits[0]!.fail();
  await t.resolves(journalled, 'enqueue does not reject');
  await n.flush();
  t.same(listener.received, ['3_1_1\n']);
  t.equal(failures.length, 1, 'the failure is reported');
  t.same(journal.released, [[undefined, 9]], 'the tile record it answers is released after delivery');
});

t.test('accept() journals a tile for this listener; without a journal it resolves undefined', async (t) => {
  const journal = new FakeJournal();
  const n = new CallbackNotifier({ host: '127.0.0.1', port: 1, journal });
  t.equal(await n.accept({ tile: '3_1_1', cls: 'interactive', force: false, clientId: 'c' }), 100);
  n.forget(100);
  t.same(journal.released, [[undefined, 100]]);
  t.equal(await new CallbackNotifier({ host: '127.0.0.1', port: 1 }).accept({ tile: '3_1_1', cls: 'interactive', force: false, clientId: 'c' }), undefined);
});

for (const mode of ['short', 'persistent'] as const) {
  t.test(`${mode}: a notice held by its tile's record writes nothing, is sent at once and releases the tile record once delivered`, async (t) => {
    const listener = await startListener(t);
    const journal = new FakeJournal();
    const n = new CallbackNotifier({ host: '127.0.0.1', port: listener.port, mode, journal });
    t.teardown(() => n.close());
    await n.enqueue('3_1_1\n', { heldBy: 7 });
    t.same(journal.commits, [], 'no notice record is written');
    await n.flush();
    await n.close();
    t.same(listener.received, ['3_1_1\n'], 'delivered without a commit');
    t.same(journal.released, [[undefined, 7]], 'the tile record is released (persistent: at the clean close)');
  });
}
