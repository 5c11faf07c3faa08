/**
 * Undelivered notices survive kill -9: the listener is away while tiles are
 * rendered, the daemon is killed with SIGKILL, restarted on the same
 * folders, the listener comes back, and every notice arrives; `stop` then
 * sends `done` last. Short and persistent callback modes.
 */
import t from 'tap';
import { freePort, OrderedListener, tempDir } from '../hardening/fixtures/lib.js';
import { counts, kill9, requestAndWait, send, serve, stats } from './fixtures.js';

const TILES = ['3_0_0', '3_1_0', '3_2_1', '3_7_7', '4_3_5', '5_17_10', '2_1_1', '0_0_0'];
const BAD = '25_1_1';

for (const mode of ['short', 'persistent'] as const) {
  t.test(`${mode} mode: notices owed when the daemon is killed are delivered after the restart, then done last`, async (t) => {
    const s = { dir: await tempDir(t), callbackPort: await freePort(), extra: ['--callback-mode', mode] };
    const port1 = await freePort();
    const first = await serve(t, s, port1);
    // Nobody listens on the callback port: every notice stays pending (and journalled).
    await requestAndWait(port1, [...TILES, BAD]);
    t.equal((await stats(port1)).notices.pending, TILES.length + 1, 'all notices are pending before the kill');
    await kill9(first);

    const listener = await OrderedListener.listen(s.callbackPort);
    t.teardown(() => listener.close());
    const port2 = await freePort();
    const second = await serve(t, s, port2);
    t.match(second.output(), /"notices":1,"tiles":8,"skipped":0[^\n]*journal: resuming/, 'the restart says what it resumes: the error notice, and the tiles whose records stand for their notices');
    await send(port2, 'stop\n');
    t.equal((await second.exited).code, 0, 'the restarted daemon stops cleanly');
    await listener.until('done', (lines) => lines.includes('done'));

    const got = counts(listener.lines);
    for (const name of TILES) t.equal(got.get(name), 1, `${name} arrived once`);
    t.equal(got.get(`error ${BAD} zoom 25 is above the max zoom 20`) ?? [...got.keys()].filter((l) => l.startsWith(`error ${BAD}`)).length, 1, 'the error notice too');
    t.equal(listener.lines.at(-1), 'done', 'done is last');
    t.equal(listener.lines.length, TILES.length + 2, 'nothing else');
  });
}
