import t from 'tap';
import sharp from 'sharp';
import { ErrorCode, ProcessingError } from '../../src/errors.js';
import { DEFAULT_PICKLE_LIMITS } from '../../src/config/daemon-config.js';
import {
  NdArray,
  PyFloat,
  PyWritableTuple,
  encodeMpReply,
  encodeNdImage,
  frameError,
  parseMpMessage,
  pickle,
  resultsOfFramedJson,
} from '../../src/protocol/pickle/index.js';
import { pickled, pythonLoads } from './fixtures/python.js';

t.test('the writer: plain values at protocols 2 and 4 load in a Python with nothing of ours', async (t) => {
  const value = new Map<string | number, unknown>([
    ['ints', [0, 255, 256, 65535, 65536, -1, -(2 ** 31), 2 ** 31, 2 ** 53, 2n ** 100n, -(2n ** 100n)]],
    ['floats', [new PyFloat(1), 0.5, -2.25]],
    ['text', 'ünï🗺'],
    ['bytes', [new Uint8Array([0, 128, 255]), new Uint8Array(300).fill(1), new Uint8Array(0)]],
    ['nested', [new PyWritableTuple([1, 'a', null]), new PyWritableTuple([]), new Map([[1, true]]), false]],
  ]) as never;
  const expected =
    "{'ints': [0, 255, 256, 65535, 65536, -1, -2147483648, 2147483648, 9007199254740992, 1267650600228229401496703205376, -1267650600228229401496703205376], " +
    "'floats': [1.0, 0.5, -2.25], 'text': 'ünï🗺', 'bytes': [b'\\x00\\x80\\xff', b'" + '\\x01'.repeat(300) + "', b''], 'nested': [(1, 'a', None), (), {1: True}, False]}";
  for (const protocol of [2, 4] as const) t.equal(await pythonLoads(pickle(value, protocol)), expected, `protocol ${protocol}`);
});

t.test('a seed 003 message (pickle of the bytes of a pickle) gets a reply with the same nesting; a list gets a list', async (t) => {
  const one = parseMpMessage(await pickled(`pickle.dumps({'frame_num': 5, 'image': np.zeros((2, 2, 3), np.uint8)})`, 4), DEFAULT_PICKLE_LIMITS);
  t.ok(one.ok);
  if (!one.ok) return;
  t.same(one.shape, { doublePickled: true, list: false, protocol: 4 });
  t.equal(one.frames.length, 1);
  const reply = encodeMpReply(one.shape, [{ frameNum: 5, cameraNumber: 0, model: 'm', results: [{ className: 'cat', score: 1, box: [1, 2, 3, 4], extra: { text: 'x' } }] }]);
  t.equal(
    await pythonLoads(reply, { twice: true }),
    `{'frame_num': 5, 'camera_number': 0, 'model': 'm', 'results': [{'class_name': 'cat', 'score': 1.0, 'box': [1, 2, 3, 4], 'text': 'x'}], 'error': None}`,
    'the reply is the bytes of a pickle, like the request',
  );

  const list = parseMpMessage(await pickled(`[{'frame_num': 1, 'image': b'x', 'camera_number': 2, 'model': 'ocr'}, {'frame_num': 'b', 'image': 'end'}, 3]`, 2), DEFAULT_PICKLE_LIMITS);
  t.ok(list.ok);
  if (!list.ok) return;
  t.same(list.shape, { doublePickled: false, list: true, protocol: 2 });
  t.same(list.frames[0], { ok: true, frame: { frameNum: 1, cameraNumber: 2, model: 'ocr', image: Buffer.from('x') } });
  t.equal(list.frames[1]!.ok, false);
  t.match(!list.frames[1]!.ok && list.frames[1]!.error.message, /frame 1: 'image' must be a numpy uint8 array or bytes, got str/);
  t.equal(!list.frames[1]!.ok && list.frames[1]!.frameNum, 'b', 'frame_num is still echoed');
  t.match(!list.frames[2]!.ok && list.frames[2]!.error.message, /frame 2 must be a dict/);
  const errors = encodeMpReply(list.shape, [frameError('b', null, new ProcessingError('boom'))]);
  t.equal(await pythonLoads(errors), "[{'frame_num': 'b', 'camera_number': None, 'results': [], 'error': {'code': 'PROCESSING_ERROR', 'message': 'boom'}}]");
});

t.test('camera_number must be a non-negative int and model a non-empty str', async (t) => {
  for (const [expr, message] of [
    [`{'frame_num': 1, 'image': b'x', 'camera_number': -1}`, /'camera_number' must be a non-negative int/],
    [`{'frame_num': 1, 'image': b'x', 'camera_number': True}`, /'camera_number' must be a non-negative int, got bool/],
    [`{'frame_num': 1, 'image': b'x', 'model': ''}`, /'model' must be a non-empty str/],
    [`{'frame_num': 1}`, /has no 'image' key/],
  ] as const) {
    const m = parseMpMessage(await pickled(expr, 4), DEFAULT_PICKLE_LIMITS);
    t.ok(m.ok && !m.frames[0]!.ok, expr);
    t.match(m.ok && !m.frames[0]!.ok && m.frames[0]!.error.message, message, expr);
    t.equal(m.ok && !m.frames[0]!.ok && m.frames[0]!.error.code, ErrorCode.PROTOCOL_ERROR);
  }
});

t.test('an OCR quad becomes box [x, y, w, h] with the quad as polygon; a result without a box gets the whole image', async (t) => {
  const json = {
    success: true,
    model: 'ocr',
    results: [
      { result_index: 0, class_name: 'HELLO', score: 0.9, camera_number: 0, image_index: 0, image_format: 'png', image_length: 1, image_width: 1, image_height: 1, image_mode: 'RGB', box: [[10, 20], [110, 22], [109, 60], [9, 58]], text_angle: 0 },
      { result_index: 1, class_name: '0', score: 0.5, image_width: 1 },
    ],
  };
  const { model, results } = resultsOfFramedJson(json, 320, 160);
  t.equal(model, 'ocr');
  t.same(results[0], { className: 'HELLO', score: 0.9, box: [9, 20, 101, 40], extra: { text_angle: 0, polygon: [[10, 20], [110, 22], [109, 60], [9, 58]] } });
  t.same(results[1]!.box, [0, 0, 320, 160]);
  t.same(results[1]!.extra, {});
});

t.test('numpy images become PNGs: BGR is swapped to RGB, grey and Fortran order are kept right, encoded bytes pass through', async (t) => {
  // 1×2 BGR: pixel 0 pure blue (255, 0, 0 in BGR), pixel 1 pure red.
  const bgr = new NdArray([1, 2, 3], new Uint8Array([255, 0, 0, 0, 0, 255]), false);
  const png = await encodeNdImage(bgr, 100);
  t.same([png.width, png.height], [2, 1]);
  const rgb = await sharp(png.payload).raw().toBuffer();
  t.same([...rgb], [0, 0, 255, 255, 0, 0], 'RGB order after decoding');

  // The same image in Fortran order: element (y, x, k) at y + h * (x + w * k).
  const fortran = new NdArray([1, 2, 3], new Uint8Array([10, 20, 30, 40, 50, 60]), true);
  const f = await sharp((await encodeNdImage(fortran, 100)).payload).raw().toBuffer();
  t.same([...f], [50, 30, 10, 60, 40, 20], 'reordered from column-major: B plane (10, 20), G (30, 40), R (50, 60)');

  const greyPng = (await encodeNdImage(new NdArray([2, 2], new Uint8Array([0, 50, 100, 150]), false), 100)).payload;
  t.equal((await sharp(greyPng).metadata()).channels, 1, 'a one-channel PNG');
  const grey = await sharp(greyPng).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
  t.same([...grey.data], [0, 50, 100, 150]);

  const jpeg = await sharp({ create: { width: 4, height: 3, channels: 3, background: '#808080' } }).jpeg().toBuffer();
  for (const shape of [[jpeg.length], [jpeg.length, 1]]) {
    const e = await encodeNdImage(new NdArray(shape, jpeg, false), 100);
    t.same(e.payload, jpeg, `shape (${shape.join(', ')}) passes through`);
    t.same([e.width, e.height], [4, 3]);
  }
});

t.test('a numpy image over max input pixels is TOO_LARGE before it is encoded; odd shapes are refused', async (t) => {
  await t.rejects(encodeNdImage(new NdArray([100, 100, 3], new Uint8Array(30000), false), 9999), { code: ErrorCode.TOO_LARGE, message: /10000 pixels, over the limit of 9999/ });
  await t.rejects(encodeNdImage(new NdArray([2, 2, 2], new Uint8Array(8), false), 100), { code: ErrorCode.PROTOCOL_ERROR, message: /shape \(2, 2, 2\)/ });
  await t.rejects(encodeNdImage(new NdArray([0, 5, 3], new Uint8Array(0), false), 100), { code: ErrorCode.PROTOCOL_ERROR, message: /empty/ });
});
