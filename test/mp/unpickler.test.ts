import t, { type Test } from 'tap';
import { ErrorCode, MosaicError } from '../../src/errors.js';
import { DEFAULT_PICKLE_LIMITS } from '../../src/config/daemon-config.js';
import { NdArray, PyTuple, unpickle, type PickleLimits } from '../../src/protocol/pickle/index.js';
import { DEBIAN_PY, PY, pickled, python } from './fixtures/python.js';

const limits: PickleLimits = DEFAULT_PICKLE_LIMITS;

/** The error an unpickling throws (or a failure). */
function refusal(t: Test, bytes: Uint8Array, l: PickleLimits = limits): MosaicError | undefined {
  try {
    unpickle(bytes, l);
  } catch (err) {
    if (err instanceof MosaicError) return err;
    t.fail(`not a coded error: ${String(err)}`);
    return undefined;
  }
  t.fail('the pickle was accepted');
  return undefined;
}

const IMAGE = 'np.arange(2 * 4 * 3, dtype=np.uint8).reshape(2, 4, 3)';
const EXPECTED_DATA = Array.from({ length: 24 }, (_, i) => i);

for (const [py, names] of [
  [PY, 'numpy 2.x (numpy._core)'],
  [DEBIAN_PY, 'numpy 1.x (numpy.core)'],
] as const) {
  t.test(`${names}: a uint8 H×W×3 array in a dict reads back with its shape and bytes at protocols 2, 3, 4 and 5`, async (t) => {
    const version = await python('import numpy; print(numpy.__version__)', [], py);
    t.match(version, names.includes('2.x') ? /^2\./ : /^1\./, `this Python has ${names}`);
    for (const protocol of [2, 3, 4, 5]) {
      const bytes = await pickled(`{'frame_num': 7, 'image': ${IMAGE}, 'time': '0102', 'f': 0.25, 'n': None, 'ok': True}`, protocol, py);
      const text = bytes.toString('latin1');
      t.ok(text.includes(names.includes('2.x') ? 'numpy._core' : 'numpy.core'), `protocol ${protocol} pickle names ${names}`);
      const v = unpickle(bytes, limits) as Map<string, unknown>;
      t.equal(v.get('frame_num'), 7);
      t.equal(v.get('time'), '0102');
      t.equal(v.get('f'), 0.25);
      t.equal(v.get('n'), null);
      t.equal(v.get('ok'), true);
      const image = v.get('image') as NdArray;
      t.ok(image instanceof NdArray, `protocol ${protocol}: image is an NdArray`);
      t.same(image.shape, [2, 4, 3]);
      t.same([...image.data], EXPECTED_DATA);
      t.equal(image.fortran, false);
    }
  });
}

t.test('a Fortran-ordered array keeps its order flag; a 1-D array (cv2.imencode) its length', async (t) => {
  for (const protocol of [2, 4, 5]) {
    const v = unpickle(await pickled(`[np.asfortranarray(${IMAGE}), np.frombuffer(b'\\xff\\xd8\\xff\\xe0', dtype=np.uint8)]`, protocol), limits) as NdArray[];
    t.equal(v[0]!.fortran, true, `protocol ${protocol}: fortran`);
    t.same(v[0]!.shape, [2, 4, 3]);
    t.same(v[1]!.shape, [4]);
    t.same([...v[1]!.data], [0xff, 0xd8, 0xff, 0xe0]);
  }
});

t.test('plain values: ints of every width, big ints, floats, str, bytes, bytearray, tuples, nested lists and dicts', async (t) => {
  for (const protocol of [2, 3, 4, 5]) {
    const v = unpickle(
      await pickled(`[0, 255, 256, 65536, -1, -2**31, 2**31, 2**62, -2**70, 1.5, -0.0, 'ünï🗺', b'\\x00\\xff', bytearray(b'ab'), (1, (2, 3)), {'a': [{'b': None}], 3: 'x'}, True, False]`, protocol),
      limits,
    ) as unknown[];
    t.same(v.slice(0, 9), [0, 255, 256, 65536, -1, -(2 ** 31), 2 ** 31, 2n ** 62n, -(2n ** 70n)], `protocol ${protocol}: ints`);
    t.equal(v[9], 1.5);
    t.ok(Object.is(v[10], -0));
    t.equal(v[11], 'ünï🗺');
    t.same([...(v[12] as Uint8Array)], [0, 255]);
    t.same([...(v[13] as Uint8Array)], [97, 98]);
    t.ok(v[14] instanceof PyTuple);
    t.same((v[14] as PyTuple).items[0], 1);
    const dict = v[15] as Map<unknown, unknown>;
    t.same(((dict.get('a') as unknown[])[0] as Map<string, unknown>).get('b'), null);
    t.equal(dict.get(3), 'x');
    t.same(v.slice(16), [true, false]);
  }
});

t.test('protocol 0/1 text strings are refused with a clear error, not misread', async (t) => {
  const err = refusal(t, await pickled(`'abc'`, 0));
  t.equal(err?.code, ErrorCode.PROTOCOL_ERROR);
  t.match(err?.message, /protocol 0 text strings are not supported/);
});

t.test('a pickle of the bytes of another pickle (seed 003) reads as bytes; the inner pickle then reads', async (t) => {
  const outer = await pickled(`pickle.dumps({'frame_num': 1, 'image': ${IMAGE}})`, 4);
  const inner = unpickle(outer, limits);
  t.ok(inner instanceof Uint8Array);
  const v = unpickle(inner as Uint8Array, limits) as Map<string, unknown>;
  t.ok(v.get('image') instanceof NdArray);
});

t.test('every global outside the allow-list is refused naming module.name, via GLOBAL, STACK_GLOBAL and INST', async (t) => {
  const cases: Array<[string, Buffer]> = [
    ['os.system', Buffer.from("cos\nsystem\n(S'touch /tmp/x'\ntR.", 'latin1')],
    ['posix.system', await pickled(`type('A', (), {'__reduce__': lambda self: (__import__('os').system, ('true',))})()`, 2)],
    ['posix.system', await pickled(`type('A', (), {'__reduce__': lambda self: (__import__('os').system, ('true',))})()`, 4)],
    ['builtins.eval', await pickled(`type('A', (), {'__reduce__': lambda self: (eval, ('1+1',))})()`, 4)],
    ['subprocess.Popen', await python(`import pickle, subprocess, sys\nsys.stdout.write(pickle.dumps(type('A', (), {'__reduce__': lambda self: (subprocess.Popen, (['true'],))})(), protocol=5).hex())`).then((h) => Buffer.from(h, 'hex'))],
    ['os.system', Buffer.from('(ios\nsystem\n.', 'latin1')],
    ['copyreg._reconstructor', await pickled(`__import__('collections').OrderedDict`, 0).then(() => Buffer.from('ccopyreg\n_reconstructor\n.', 'latin1'))],
    ['__main__.C', Buffer.from('\x80\x02c__main__\nC\n)\x81.', 'latin1')],
  ];
  for (const [name, bytes] of cases) {
    const err = refusal(t, bytes);
    t.equal(err?.code, ErrorCode.PROTOCOL_ERROR, name);
    t.match(err?.message, new RegExp(`${name.replace('.', '\\.')} is not allowed`), `${name}: the message names it`);
  }
});

t.test('OBJ, NEWOBJ and NEWOBJ_EX are refused even on an allowed class; REDUCE only calls the allow-list', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['OBJ', '(cnumpy\nndarray\no.', /OBJ numpy\.ndarray is not allowed/],
    ['NEWOBJ', '\x80\x02cnumpy\nndarray\n)\x81.', /NEWOBJ numpy\.ndarray is not allowed/],
    ['NEWOBJ_EX', '\x80\x04\x8c\x05numpy\x8c\x07ndarray\x93)}\x92.', /NEWOBJ_EX numpy\.ndarray is not allowed/],
    ['REDUCE on ndarray', '\x80\x02cnumpy\nndarray\n)R.', /REDUCE on numpy\.ndarray/],
    ['REDUCE on a str', '\x80\x02X\x01\x00\x00\x00a)R.', /REDUCE on str/],
    ['BUILD on a dict', '\x80\x02}}b.', /BUILD on a dict/],
    ['a class as a value', '\x80\x02]cnumpy\nndarray\na.', /class or function numpy\.ndarray/],
    ['a dtype other than uint8', "\x80\x02cnumpy\ndtype\nX\x02\x00\x00\x00f8\x89\x88\x87R.", /numpy dtype "f8" is not accepted/],
    ['_codecs.encode with another codec', '\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x05\x00\x00\x00utf-7\x86R.', /only as _codecs\.encode\(str, 'latin1'\)/],
    ['persistent id', '\x80\x02X\x01\x00\x00\x00aQ.', /persistent ids/],
    ['extension registry', '\x80\x02\x82\x01.', /extension registry/],
    ['out-of-band buffer', '\x80\x05\x97.', /out-of-band buffers/],
    ['a set', '\x80\x04\x8f.', /sets are not supported/],
    ['an unknown opcode', '\x80\x02\xff.', /unknown opcode 0xff/],
  ];
  for (const [label, text, message] of cases) {
    const err = refusal(t, Buffer.from(text, 'latin1'));
    t.equal(err?.code, ErrorCode.PROTOCOL_ERROR, label);
    t.match(err?.message, message, label);
  }
});

t.test('a numpy shape of 1e9 elements with 4 bytes of data is refused before any allocation', async (t) => {
  // _reconstruct + BUILD (numpy 1.x names), shape (1000000000,), data b'abcd'
  const build =
    '\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85C\x01b\x87R' +
    '(K\x01J\x00\xca\x9a;\x85cnumpy\ndtype\nX\x02\x00\x00\x00u1\x89\x88\x87R(K\x03X\x01\x00\x00\x00|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89C\x04abcdtb.';
  const err = refusal(t, Buffer.from(build, 'latin1'));
  t.equal(err?.code, ErrorCode.PROTOCOL_ERROR);
  t.match(err?.message, /shape \(1000000000\) needs 1000000000 bytes of uint8 data, the pickle has 4/);
  const frombuffer =
    '\x80\x05\x8c\x13numpy._core.numeric\x8c\x0b_frombuffer\x93(C\x04abcdcnumpy\ndtype\nX\x02\x00\x00\x00u1\x89\x88\x87RJ\x00\xca\x9a;J\x00\xca\x9a;\x86X\x01\x00\x00\x00Ct' + 'R.';
  const err2 = refusal(t, Buffer.from(frombuffer, 'latin1'));
  t.match(err2?.message, /shape \(1000000000, 1000000000\) needs/);
});

t.test('lengths are checked against the bytes left: oversized and truncated pickles are refused', async (t) => {
  const cases: Array<[string, Buffer]> = [
    ['BINUNICODE claiming 4 GiB', Buffer.from('\x80\x02X\xff\xff\xff\xffabc.', 'latin1')],
    ['BINBYTES8 claiming 2^63', Buffer.concat([Buffer.from('\x80\x04\x8e', 'latin1'), Buffer.from('ffffffffffffff7f', 'hex'), Buffer.from('ab.')])],
    ['BYTEARRAY8 claiming 2^64-1', Buffer.concat([Buffer.from('\x80\x05\x96', 'latin1'), Buffer.alloc(8, 0xff), Buffer.from('.')])],
    ['a real pickle cut short', (await pickled(`{'frame_num': 1, 'image': ${IMAGE}}`, 4)).subarray(0, 100)],
    ['no STOP', Buffer.from('\x80\x02N', 'latin1')],
    ['empty', Buffer.alloc(0)],
  ];
  for (const [label, bytes] of cases) {
    const err = refusal(t, bytes);
    t.equal(err?.code, ErrorCode.PROTOCOL_ERROR, label);
    t.match(err?.message, /truncated/, `${label}: ${err?.message}`);
  }
});

t.test('deep nesting, a huge memo, too many values and a huge int are refused as TOO_LARGE', async (t) => {
  const small: PickleLimits = { depth: 10, items: 1000, memo: 50, intBytes: 16 };
  const nested = Buffer.from(`\x80\x02${']'.repeat(20)}${'a'.repeat(19)}.`, 'latin1');
  t.match(refusal(t, nested, small)?.message, /nested deeper than 10 \(--pickle-limit depth=10\)/);
  // Nesting through the memo: each list is appended into a fresh one (constant stack).
  let viaMemo = '\x80\x02]q\x00';
  for (let i = 0; i < 20; i++) viaMemo += `]h\x00aq\x00`;
  t.match(refusal(t, Buffer.from(`${viaMemo}.`, 'latin1'), small)?.message, /nested deeper than 10/);
  const marks = Buffer.from(`\x80\x02${'('.repeat(20)}.`, 'latin1');
  t.match(refusal(t, marks, small)?.message, /nested deeper than 10/);
  let memo = '\x80\x02N';
  for (let i = 0; i < 60; i++) memo += `r${String.fromCharCode(i, 0, 0, 0)}`;
  const err = refusal(t, Buffer.from(`${memo}.`, 'latin1'), small);
  t.equal(err?.code, ErrorCode.TOO_LARGE);
  t.match(err?.message, /more than 50 memo slots \(--pickle-limit memo=50\)/);
  const many = Buffer.from(`\x80\x02(${'N'.repeat(2000)}l.`, 'latin1');
  t.match(refusal(t, many, small)?.message, /more than 1000 values \(--pickle-limit items=1000\)/);
  const big = Buffer.concat([Buffer.from('\x80\x02\x8b', 'latin1'), Buffer.from([17, 0, 0, 0]), Buffer.alloc(17, 1), Buffer.from('.')]);
  t.match(refusal(t, big, small)?.message, /integer longer than 16 bytes \(--pickle-limit intBytes=16\)/);
});

t.test('cycles cannot be built: a list appended into itself, or changed once nested, is refused', async (t) => {
  t.match(refusal(t, Buffer.from('\x80\x02]q\x00h\x00a.', 'latin1'))?.message, /a container into itself/);
  t.match(refusal(t, Buffer.from('\x80\x02]q\x00]h\x00ah\x00Na.', 'latin1'))?.message, /APPEND to a list already inside a container/);
  t.match(refusal(t, Buffer.from('\x80\x02}q\x00]h\x00a0X\x01\x00\x00\x00kNs.', 'latin1'))?.message, /SETITEM on a dict already inside a container/);
});

t.test('the allowed functions are only ours: nothing named in a pickle is looked up or imported', async (t) => {
  // A module that exists in Node too is still refused: names are keys of our table, not lookups.
  t.match(refusal(t, Buffer.from('cfs\nwriteFileSync\n.', 'latin1'))?.message, /global fs\.writeFileSync is not allowed/);
  t.match(refusal(t, Buffer.from('cchild_process\nexecSync\n.', 'latin1'))?.message, /child_process\.execSync is not allowed/);
  t.match(refusal(t, Buffer.from('cnumpy\n__class__\n.', 'latin1'))?.message, /numpy\.__class__ is not allowed/);
  t.match(refusal(t, Buffer.from('cnumpy\nconstructor\n.', 'latin1'))?.message, /numpy\.constructor is not allowed/);
});
