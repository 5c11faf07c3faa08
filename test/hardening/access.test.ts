/**
 * Access: loopback by default; admin commands only from loopback peers
 * unless --admin-token is set (then the token is required from everyone);
 * notices go to a peer's own address only when it is loopback; tile paths
 * are built from validated integers only. No traffic ever leaves loopback:
 * non-loopback peers are exercised by calling the services directly with a
 * documentation address (192.0.2.0/24, TEST-NET-1) as the peer.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { configFromArgv } from '../../src/cli/options.js';
import { DEFAULT_CONFIG, resolveConfig } from '../../src/config/daemon-config.js';
import { ErrorCode } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { parseLineCommand } from '../../src/protocol/line-command.js';
import { parseFramedRequest } from '../../src/protocol/framed-request.js';
import { NoticeTargets } from '../../src/service/notice-targets.js';
import { isLoopback, mayAdminister } from '../../src/service/peer.js';
import { TileStore } from '../../src/store/tile-store.js';
import type { TileCoord } from '../../src/tile/tile-coord.js';
import type { LineContext } from '../../src/transport/line-session.js';
import { BIN, OrderedListener, RawFramed, exchange, freePort, startHard, tempDir, waitUntil, within } from './fixtures/lib.js';

const REMOTE = '192.0.2.10'; // TEST-NET-1: a documentation address, never contacted

t.test('peer.ts: which addresses are loopback', async (t) => {
  for (const a of ['127.0.0.1', '127.1.2.3', '127.255.255.254', '::1', '::ffff:127.0.0.1', '::ffff:127.9.9.9']) t.ok(isLoopback(a), `${a} is loopback`);
  for (const a of [undefined, '', '10.0.0.1', '192.168.1.1', '172.16.0.1', '192.0.2.10', '0.0.0.0', '::', '::ffff:10.0.0.1', 'fe80::1', '128.0.0.1',
    '127.0.0.1.evil.example', 'localhost', '::2', '127.0.0', '1127.0.0.1', '::ffff:127.0.0.1:80']) {
    t.notOk(isLoopback(a), `${String(a)} is not loopback`);
  }
});

t.test('peer.ts: who may send admin commands', async (t) => {
  t.ok(mayAdminister('127.0.0.1', undefined, undefined), 'loopback, no token configured');
  t.ok(mayAdminister('::1', undefined, undefined));
  t.ok(mayAdminister(undefined, undefined, undefined), 'stdio: the parent process');
  t.notOk(mayAdminister(REMOTE, undefined, undefined), 'a remote peer without a token configured: never');
  t.notOk(mayAdminister(REMOTE, 'anything', undefined), 'a token sent to a daemon that has none does not help');
  t.notOk(mayAdminister('127.0.0.1', undefined, 's3cret'), 'with a token configured, loopback needs it too');
  t.notOk(mayAdminister('127.0.0.1', 'wrong', 's3cret'));
  t.notOk(mayAdminister('127.0.0.1', 's3cre', 's3cret'));
  t.ok(mayAdminister('127.0.0.1', 's3cret', 's3cret'));
  t.ok(mayAdminister(REMOTE, 's3cret', 's3cret'), 'the token works from any peer');
  t.notOk(mayAdminister(undefined, undefined, 's3cret'), 'stdio too');
});

t.test('the line grammar carries tokens for every admin command', async (t) => {
  t.match(parseLineCommand('stop s3cret'), { type: 'stop', token: 's3cret' });
  t.match(parseLineCommand('dirty 3_4_2 s3cret'), { type: 'dirty', z: 3, x: 4, y: 2, token: 's3cret' });
  t.match(parseLineCommand('expire 3_4_2 s3cret'), { type: 'expire', z: 3, x: 4, y: 2, token: 's3cret' });
  t.match(parseLineCommand('bulk 3_4_2 force s3cret'), { type: 'bulk', force: true, token: 's3cret' });
  t.same(parseLineCommand('bulk 3_4_2'), { type: 'bulk', raw: '3_4_2', z: 3, x: 4, y: 2, force: false });
  t.match(parseLineCommand('bulk 3_4_2 s3cret'), { type: 'invalid' }, 'a token is only for bulk ... force');
  t.match(parseLineCommand('expire 3_4_2 force'), { type: 'invalid' }, 'expire has no force: `force` is never a token');
  t.match(parseLineCommand('stop a b'), { type: 'invalid' });
});

t.test('notices go to the requesting peer only when it is loopback', async (t) => {
  const targets = new NoticeTargets({ host: undefined, port: 12346, mode: 'short', maxPending: 10, log: silentLogger() });
  t.equal(targets.for(REMOTE), undefined, 'a remote peer cannot make the daemon connect anywhere');
  t.equal(targets.for('10.1.2.3'), undefined);
  t.equal(targets.for(undefined), undefined);
  t.ok(targets.for('127.0.0.1'));
  t.equal(targets.for('::ffff:127.0.0.1'), targets.for('127.0.0.1'), 'an IPv4-mapped loopback peer is the same listener');
  t.equal(targets.all().length, 1);
  const configured = new NoticeTargets({ host: '127.0.0.1', port: 12346, mode: 'short', maxPending: 10, log: silentLogger() });
  t.equal(configured.for(REMOTE), configured.for('127.0.0.1'), 'with --callback-host every notice goes there');
  await targets.close();
  await configured.close();
});

t.test('tile paths are built from validated integers only', async (t) => {
  const dir = await tempDir(t);
  const flat = new TileStore({ dir, layout: 'flat' });
  const zxy = new TileStore({ dir, layout: 'zxy' });
  t.equal(flat.pathOf({ z: 3, x: 4, y: 2 }), path.join(dir, '3_4_2.png'));
  t.equal(zxy.pathOf({ z: 3, x: 4, y: 2 }), path.join(dir, '3', '4', '2.png'));
  const forged = [
    { z: 3, x: '../../etc', y: 2 }, { z: '../', x: 1, y: 1 }, { z: 3, x: 4, y: '2/../../x' }, { z: 1.5, x: 0, y: 0 },
    { z: 3, x: 8, y: 0 }, { z: 3, x: -1, y: 0 }, { z: 31, x: 0, y: 0 }, { z: 3, x: Number.NaN, y: 0 }, { z: 3, x: 1e20, y: 0 }, null,
  ];
  for (const f of forged) {
    t.throws(() => flat.pathOf(f as unknown as TileCoord), { code: ErrorCode.BAD_TILE }, `flat refuses ${JSON.stringify(f)}`);
    t.throws(() => zxy.pathOf(f as unknown as TileCoord), { code: ErrorCode.BAD_TILE }, `zxy refuses ${JSON.stringify(f)}`);
  }
});

t.test('a daemon listens on loopback by default', async (t) => {
  t.equal(DEFAULT_CONFIG.host, '127.0.0.1');
  t.equal(resolveConfig({}).host, '127.0.0.1');
  t.equal(configFromArgv({}, {}).host, '127.0.0.1', 'the CLI default too');
  const h = await startHard(t, { httpPort: 0 });
  t.equal(h.daemon.address().address, '127.0.0.1', 'the request port is bound to 127.0.0.1');
  t.equal(h.daemon.httpAddress()?.address, '127.0.0.1', 'the HTTP port as well');
});

/** A line context for a peer that is not on loopback, without any socket. */
function fakeContext(peer: string): { ctx: LineContext; replies: string[] } {
  const replies: string[] = [];
  const controller = new AbortController();
  const ctx: LineContext = {
    peer,
    clientId: `line:${peer}`,
    reply: (text) => void replies.push(text),
    track: () => () => undefined,
    owe: () => () => undefined,
    signal: controller.signal,
    log: silentLogger(),
  };
  return { ctx, replies };
}

t.test('without --admin-token: admin commands only from loopback peers', async (t) => {
  const callbackPort = await freePort();
  const listener = await OrderedListener.listen(callbackPort);
  t.teardown(() => listener.close());
  const h = await startHard(t, { metatile: 1 }, { callbackPort });

  // A remote peer, by calling the service directly: every admin command refused, no traffic.
  const { ctx, replies } = fakeContext(REMOTE);
  for (const line of ['stop', 'dirty 3_4_2', 'expire 3_4_2', 'bulk 3_4_2 force', 'stop anything']) {
    void h.daemon.lines.handle(parseLineCommand(line), ctx);
  }
  t.same(replies, [
    'error stop stop is accepted only from loopback or with the admin token\n',
    'error 3_4_2 dirty is accepted only from loopback or with the admin token\n',
    'error 3_4_2 expire is accepted only from loopback or with the admin token\n',
    'error 3_4_2 bulk ... force is accepted only from loopback or with the admin token\n',
    'error stop stop is accepted only from loopback or with the admin token\n',
  ], 'each refused with a clear error, on its own connection (a remote peer has no derived listener)');
  t.ok(h.daemon.ready(), 'the daemon is not stopping');
  const shutdown = parseFramedRequest(Buffer.from('{"command":"shutdown","request_id":1}'), Buffer.alloc(0));
  if (!shutdown.ok) throw shutdown.error;
  const frameCtx = { peer: REMOTE, clientId: 'x', signal: new AbortController().signal };
  await t.rejects(h.daemon.framed.handle(shutdown.request, frameCtx), { code: ErrorCode.UNAUTHORIZED, message: /shutdown is accepted only from loopback/ });

  // A remote peer's tile is answered in-band, never by connecting back to it.
  void h.daemon.lines.handle(parseLineCommand('3_4_2'), ctx);
  await waitUntil('the in-band answer', () => replies.includes('3_4_2\n'));
  t.same(listener.lines, [], 'nothing went to the loopback listener for the remote peer');

  // From loopback, for real: accepted.
  t.equal(await exchange(h.port, 'dirty 3_4_2\n\n'), '\n');
  await listener.until('dirty 3_4_2', (lines) => lines.includes('3_4_2'));
  t.equal(await exchange(h.port, 'expire 3_4_2\n'), '3_4_2\n');
  t.equal(await exchange(h.port, 'bulk 3_4_2 force\n'), '3_4_2\n');
  t.equal(await exchange(h.port, 'stop\n'), '');
  await listener.until('done', (lines) => lines.includes('done'));
  await within(h.daemon.closed, 30_000, 'the daemon stopping');
});

t.test('with --admin-token: required from every peer, on every admin command, end to end on loopback', async (t) => {
  const callbackPort = await freePort();
  const listener = await OrderedListener.listen(callbackPort);
  t.teardown(() => listener.close());
  const TOKEN = 's3cret-token';
  const h = await startHard(t, { metatile: 1, adminToken: TOKEN }, { callbackPort });
  const refusal = (name: string, what: string) => `error ${name} ${what} is accepted only from loopback or with the admin token\n`;

  t.equal(await exchange(h.port, 'stop\n'), refusal('stop', 'stop'), 'stop without the token');
  t.equal(await exchange(h.port, 'stop wrong\n'), refusal('stop', 'stop'), 'stop with a wrong token');
  t.equal(await exchange(h.port, 'ping\n'), 'pong\n', 'still running');

  t.equal(await exchange(h.port, 'dirty 3_4_2\ndirty 3_4_2 wrong\ndirty 3_4_2 s3cret-token\n\n'), '\n');
  await listener.until('the dirty answers', (lines) => lines.includes('3_4_2') && lines.filter((l) => l.startsWith('error 3_4_2 dirty')).length === 2);
  t.equal(listener.lines.filter((l) => l === '3_4_2').length, 1, 'dirty with the token re-rendered the tile');
  t.equal(listener.lines.filter((l) => l.startsWith('error 3_4_2 dirty is accepted only')).length, 2, 'without it (or with a wrong one) a clear error notice');

  t.equal(await exchange(h.port, 'expire 3_4_2\n'), refusal('3_4_2', 'expire'));
  t.equal(await exchange(h.port, `expire 3_4_2 ${TOKEN}\n`), '3_4_2\n');
  t.equal(await exchange(h.port, 'bulk 3_4_2 force\n'), refusal('3_4_2', 'bulk ... force'));
  t.equal(await exchange(h.port, 'bulk 3_4_2 force nope\n'), refusal('3_4_2', 'bulk ... force'));
  t.equal(await exchange(h.port, `bulk 3_4_2 force ${TOKEN}\n`), '3_4_2\n');
  t.equal(await exchange(h.port, 'bulk 3_4_2\n'), '3_4_2\n', 'bulk without force is not an admin command');

  // The CLI passes the token: mosaicd expire --token.
  const list = path.join(await tempDir(t), 'expired.txt');
  await writeFile(list, '3/4/2\n');
  const cli = async (args: string[]) => {
    const child = spawn(process.execPath, [BIN, 'expire', '--port', String(h.port), ...args, list], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const code = await within(new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c))), 30_000, 'mosaicd expire');
    return { code, out };
  };
  t.equal((await cli([])).code, 1, 'mosaicd expire without --token fails');
  const withToken = await cli(['--token', TOKEN]);
  t.equal(withToken.code, 0, `mosaicd expire --token succeeds ${withToken.out}`);

  const framed = await RawFramed.open(h.port);
  t.teardown(() => framed.socket.destroy());
  t.match((await framed.request({ command: 'shutdown', request_id: 1 })).json, { success: false, error: { code: 'UNAUTHORIZED', message: /shutdown is accepted only from loopback or with the admin token/ } });
  t.match((await framed.request({ command: 'shutdown', request_id: 2, token: 'wrong' })).json, { success: false, error: { code: 'UNAUTHORIZED' } });
  t.match((await framed.request({ command: 'ping', request_id: 3 })).json, { success: true }, 'the connection stays in sync after a refusal');
  t.match((await framed.request({ command: 'shutdown', request_id: 4, token: TOKEN })).json, { success: true, shutdown: true }, 'shutdown with the token');
  await within(h.daemon.closed, 30_000, 'the daemon stopping');
  await listener.until('done', (lines) => lines.includes('done'));
});

t.test('path-traversal-looking tile names are refused; only Z_X_Y.png files are ever written', async (t) => {
  const callbackPort = await freePort();
  const listener = await OrderedListener.listen(callbackPort);
  t.teardown(() => listener.close());
  const root = await tempDir(t);
  const tilesDir = path.join(root, 'tiles');
  const h = await startHard(t, { tilesDir, metatile: 1, maxZoom: 20 }, { callbackPort });
  const evil = [
    '../../etc/passwd', '1_2_3/../../x', '3_4_2/../../../etc/passwd', '..%2f..%2fetc', '3/4/../../2', '3_4_2/', '/3_4_2', '3\\4\\2',
    '99999999999_1_1', '3_99999999999_1', '3_1_99999999999999999999', '20_1048576_0', '21_0_0', '-1_0_0', '3_-1_0', '1e3_0_0', '0x3_0_0',
    '3_4_2.png', '3_4', '3_4_2_1', '３_4_2', '3_4_2\u0000', '3 _4_2',
  ];
  const lines = [...evil, ...evil.map((e) => `dirty ${e}`), ...evil.map((e) => `cancel ${e}`), 'viewport ../ 1 2 3 4', 'viewport 3 0 0 99999999999 1'];
  t.equal(await exchange(h.port, `${lines.join('\n')}\n3_4_2\n\n`), '\n');
  await listener.until('a notice per line', (got) => got.includes('3_4_2') && got.filter((l) => l.startsWith('error ')).length >= evil.length * 2 + 2, 30_000);
  t.ok(listener.lines.filter((l) => l.startsWith('error ')).length >= evil.length * 2 + 2, 'every bad name (as a tile or with dirty), and each bad viewport, got an error notice');
  t.equal(listener.lines.filter((l) => !l.startsWith('error ')).join(','), '3_4_2', 'only the valid tile was rendered');

  const framed = await RawFramed.open(h.port);
  t.teardown(() => framed.socket.destroy());
  for (const [i, tile] of evil.entries()) {
    const r = await framed.request({ command: 'render', request_id: i, tile });
    t.equal(r.json.error?.code, 'PROTOCOL_ERROR', `framed render ${JSON.stringify(tile)}: ${r.json.error?.message}`);
  }

  // The journal's folder (--state-dir, default inside the tiles folder) holds only the journal.
  const state = path.join('tiles', '.mosaicd-state');
  const everything = await readdir(root, { recursive: true });
  t.ok(everything.filter((f) => f.startsWith(state + path.sep)).every((f) => /^journal\.sqlite(-wal|-shm)?$/.test(path.basename(f))), 'the state folder holds only the journal');
  t.same(everything.filter((f) => !f.startsWith(state)).sort(), ['tiles', path.join('tiles', '3_4_2.png')], 'nothing but the one tile was written, and nothing outside the tiles folder');
  t.notOk(existsSync(path.resolve(tilesDir, '../../x')));
});
