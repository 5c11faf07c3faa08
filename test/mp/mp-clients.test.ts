/**
 * Real Python multiprocessing.connection clients (pyenv python3 with numpy,
 * no cv2) against a real daemon with a real model (the text-direction
 * classifier, fast to load): the seeds' message shapes, the authkey in both
 * CPython forms, hostile pickles, and the peer rule.
 */
import t from 'tap';
import path from 'node:path';
import net from 'node:net';
import { existsSync } from 'node:fs';
import { startDaemon, tempDir } from '../helpers/daemon.js';
import { textPng } from '../inference/fixtures/images.js';
import { frameFiles } from './fixtures/frames.js';
import { script } from './fixtures/python.js';

const MODEL = { cameraModels: { '*': 'text-direction', '3': 'text-direction' }, inferenceWorkers: 1 };

/** The seeds' frame: upright text, 320×160. */
const helloFiles = async (dir: string) => frameFiles(dir, await textPng(['HELLO WORLD'], { width: 320, height: 160 }));

type Reply = { frame_num: unknown; camera_number: unknown; model?: string; results: Array<{ class_name: string; score: number; box: number[] }>; error: null | { code: string; message: string } };

// Two daemons for the whole file (starting one with a model costs seconds): one without an authkey and one
// with. Both listen on loopback only: tests send no traffic off it, so the non-loopback peer rule is unit-tested
// in auth.test.ts.
t.test('without --mp-authkey', async (t) => {
const h = await startDaemon(
  t,
  { mpPort: 0, ...MODEL, maxPayloadBytes: 1_000_000, pickleLimits: { depth: 50, memo: 1000 } },
  { inference: true, listener: false },
);

await t.test('seed 003/004 clients: numpy BGR, grey, Fortran-order and JPEG frames, lists, double and single pickling at protocols 2, 4 and 5', async (t) => {
  const files = await helloFiles(await tempDir(t));
  const scenarios = ['double-p2', 'double-p4', 'double-p5', 'single-p2', 'single-p4', 'single-p5', 'send-obj', 'jpeg-1d', 'jpeg-nx1', 'grey', 'fortran', 'list', 'camera-route', 'unknown-model'];
  const run = await script('seed_clients.py', [JSON.stringify({ port: h.daemon.mpAddress()!.port, ...files, scenarios })]);
  t.equal(run.code, 0, run.stderr);
  const out = JSON.parse(run.stdout) as Record<string, Reply | Reply[]>;
  const frameNums: Record<string, number> = { 'double-p2': 1, 'double-p4': 2, 'double-p5': 3, 'single-p2': 4, 'single-p4': 5, 'single-p5': 6, 'send-obj': 7, 'jpeg-1d': 8, 'jpeg-nx1': 9, grey: 10, fortran: 11, 'camera-route': 14 };
  for (const [name, n] of Object.entries(frameNums)) {
    const r = out[name] as Reply;
    t.equal(r.frame_num, n, `${name}: frame_num echoed`);
    t.equal(r.error, null, `${name}: no error`);
    t.equal(r.model, 'text-direction', `${name}: the camera's route`);
    t.same(r.results.map((x) => x.class_name).sort(), ['0', '180'], `${name}: the classifier's two classes`);
    const top = [...r.results].sort((a, b) => b.score - a.score)[0]!;
    t.equal(top.class_name, '0', `${name}: upright text read as 0°`);
    t.same(top.box, [0, 0, 320, 160], `${name}: the whole image as box [x, y, w, h]`);
  }
  t.equal((out['camera-route'] as Reply).camera_number, 3);
  const list = out['list'] as Reply[];
  t.ok(Array.isArray(list), 'a list request gets a list reply');
  t.same(list.map((r) => r.frame_num), [12, 13, 0]);
  t.same(list.map((r) => r.error?.code ?? null), [null, null, 'PROTOCOL_ERROR'], "seed 003's {'image': 'end'} gets an error for that frame only");
  t.match((out['unknown-model'] as Reply).error, { code: 'PROTOCOL_ERROR', message: /unknown model "no-such-model"/ });
});

await t.test('hostile pickles are refused with a clear error reply, nothing runs, the connection and the daemon carry on', async (t) => {
  const canary = path.join(await tempDir(t), 'CANARY');
  const hex = (s: string) => Buffer.from(s, 'latin1').toString('hex');
  const handmade = {
    'os.system GLOBAL protocol 0': hex(`cos\nsystem\n(S'touch ${canary}'\ntR.`),
    'os.system INST': hex(`(S'touch ${canary}'\nios\nsystem\n.`.replace(`(S'touch ${canary}'\n`, '(')),
    'posix.system OBJ': hex('(cposix\nsystem\no.'),
    'numpy.ndarray NEWOBJ': hex('\x80\x02cnumpy\nndarray\n)\x81.'),
    'numpy.ndarray NEWOBJ_EX': hex('\x80\x04\x8c\x05numpy\x8c\x07ndarray\x93)}\x92.'),
    'BINUNICODE claiming 4 GiB': hex('\x80\x02X\xff\xff\xff\xffabc.'),
    'nested 10000 deep': hex(`\x80\x02${']'.repeat(10000)}${'a'.repeat(9999)}.`),
    'a huge memo': hex(`\x80\x02N${Array.from({ length: 5000 }, (_, i) => `r${String.fromCharCode(i & 0xff, i >> 8, 0, 0)}`).join('')}.`),
    'not a pickle': hex('GET / HTTP/1.1\r\n\r\n'),
  };
  const run = await script('hostile_client.py', [JSON.stringify({ port: h.daemon.mpAddress()!.port, canary, handmade })]);
  t.equal(run.code, 0, run.stderr);
  const out = JSON.parse(run.stdout) as Record<string, { code: string; message: string }> & { after: unknown };
  const expect: Record<string, [string, RegExp]> = {
    'os.system REDUCE p2 (GLOBAL)': ['PROTOCOL_ERROR', /global posix\.system is not allowed/],
    'os.system REDUCE p4 (STACK_GLOBAL)': ['PROTOCOL_ERROR', /global posix\.system is not allowed/],
    'builtins.eval REDUCE': ['PROTOCOL_ERROR', /global builtins\.eval is not allowed/],
    'subprocess.Popen REDUCE p5': ['PROTOCOL_ERROR', /global subprocess\.Popen is not allowed/],
    'os.system inside a frame dict': ['PROTOCOL_ERROR', /global posix\.system is not allowed/],
    'os.system double-pickled': ['PROTOCOL_ERROR', /global posix\.system is not allowed/],
    '__main__.Plain NEWOBJ': ['PROTOCOL_ERROR', /global __main__\.Plain is not allowed/],
    '__main__.Plain NEWOBJ_EX-era p5': ['PROTOCOL_ERROR', /global __main__\.Plain is not allowed/],
    'numpy 1e9 shape with 4 bytes': ['PROTOCOL_ERROR', /shape \(1000000000\) needs 1000000000 bytes of uint8 data, the pickle has 4/],
    'truncated frame': ['PROTOCOL_ERROR', /truncated/],
    'os.system GLOBAL protocol 0': ['PROTOCOL_ERROR', /global os\.system is not allowed/],
    'os.system INST': ['PROTOCOL_ERROR', /INST os\.system is not allowed/],
    'posix.system OBJ': ['PROTOCOL_ERROR', /global posix\.system is not allowed/],
    'numpy.ndarray NEWOBJ': ['PROTOCOL_ERROR', /NEWOBJ numpy\.ndarray is not allowed/],
    'numpy.ndarray NEWOBJ_EX': ['PROTOCOL_ERROR', /NEWOBJ_EX numpy\.ndarray is not allowed/],
    'BINUNICODE claiming 4 GiB': ['PROTOCOL_ERROR', /truncated: needs 4294967295 more bytes/],
    'nested 10000 deep': ['TOO_LARGE', /nested deeper than 50/],
    'a huge memo': ['TOO_LARGE', /more than 1000 memo slots/],
    'not a pickle': ['PROTOCOL_ERROR', /unknown opcode|pickle/],
  };
  for (const [name, [code, message]] of Object.entries(expect)) {
    t.equal(out[name]?.code, code, `${name}: ${code}`);
    t.match(out[name]?.message, message, `${name}: ${out[name]?.message}`);
  }
  t.same(out.after, { frame_num: 99, error: null, results: 2 }, 'the same connection then serves a normal frame');
  t.notOk(existsSync(canary), 'the canary file was never created: nothing in any pickle ran');
  const again = await script('hostile_client.py', [JSON.stringify({ port: h.daemon.mpAddress()!.port, canary, handmade: {} })]);
  t.equal(again.code, 0, 'the daemon serves a new connection afterwards');
});

await t.test('a message over --max-payload-bytes gets a TOO_LARGE reply, then the connection closes; the daemon carries on', async (t) => {
  const port = h.daemon.mpAddress()!.port;
  const run = await script('oversize_client.py', [String(port)]);
  t.equal(run.code, 0, run.stderr);
  t.match(JSON.parse(run.stdout), { reply: { frame_num: null, error: { code: 'TOO_LARGE', message: /2000000 bytes is over the limit of 1000000 bytes \(--max-payload-bytes\)/ } }, then: 'EOFError' });
  const files = await helloFiles(await tempDir(t));
  const ok = await script('seed_clients.py', [JSON.stringify({ port, ...files, scenarios: ['jpeg-1d'] })]);
  t.equal(ok.code, 0, ok.stderr);
});
});

t.test('with --mp-authkey', async (t) => {
const h = await startDaemon(t, { mpPort: 0, mpAuthkey: 'right key', ...MODEL }, { inference: true, listener: false });

await t.test('a Python 3.11 client with the right key is served, a wrong or missing key is refused', async (t) => {
  const files = await helloFiles(await tempDir(t));
  const port = h.daemon.mpAddress()!.port;
  const ok = await script('seed_clients.py', [JSON.stringify({ port, authkey: 'right key', ...files, scenarios: ['double-p4'] })]);
  t.equal(ok.code, 0, ok.stderr);
  t.equal((JSON.parse(ok.stdout) as Record<string, Reply>)['double-p4']!.error, null);

  const wrong = await script('seed_clients.py', [JSON.stringify({ port, authkey: 'wrong key', ...files, scenarios: ['double-p4'] })]);
  t.not(wrong.code, 0);
  t.match(wrong.stderr, /AuthenticationError: digest sent was rejected/);

  const none = await script('seed_clients.py', [JSON.stringify({ port, ...files, scenarios: ['double-p4'] })]);
  t.not(none.code, 0, 'a client without the key gets no answer');
  t.notMatch(none.stdout, /frame_num/);
});

await t.test('the Python 3.12+ {digest} form (a script speaking it; no 3.12 here) in both directions', async (t) => {
  const port = String(h.daemon.mpAddress()!.port);
  for (const digest of ['sha256', 'sha3_384', 'md5']) {
    const ok = await script('py312_client.py', [port, 'right key', digest]);
    t.equal(ok.code, 0, ok.stderr);
    t.same(JSON.parse(ok.stdout), { listener_digest: 'sha256', our_answer: '#WELCOME#', their_answer: 'right', reply: { frame_num: 42, error_code: 'PROTOCOL_ERROR' } }, digest);
  }
  const bad = await script('py312_client.py', [port, 'wrong key', 'sha256']);
  t.equal(bad.code, 0, bad.stderr);
  t.same(JSON.parse(bad.stdout), { listener_digest: 'sha256', our_answer: '#FAILURE#' });
});
});
