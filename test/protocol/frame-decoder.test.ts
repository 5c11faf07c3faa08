import t from 'tap';
import { FrameDecoder } from '../../src/protocol/frame-decoder.js';
import { encodeFrameRequest } from '../../src/protocol/frame-encoder.js';
import { ErrorCode } from '../../src/errors.js';
import { MAX_FRAME_JSON_BYTES, MAX_PAYLOAD_BYTES } from '../../src/limits.js';
import { chunkings, concat, decodeAll, plain, randomSplit, u64 } from './fixtures/chunking.js';

const image = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 31) & 0xff));
const zeroJsonFrame = concat([u64(0), u64(3), Buffer.from('abc')]);
const frames = [
  { json: { command: 'ping', request_id: 1 }, payload: Buffer.alloc(0) },
  { json: { request_id: 'two', camera_number: 2 }, payload: image },
  { json: { command: 'render', tile: '3_4_2', note: 'ünïcödé 🗺' }, payload: Buffer.alloc(0) },
  { json: { camera_number: 0 }, payload: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x0a]) },
];
const stream = concat([
  ...frames.slice(0, 2).flatMap((f) => encodeFrameRequest(f.json, f.payload)),
  zeroJsonFrame,
  ...frames.slice(2).flatMap((f) => encodeFrameRequest(f.json, f.payload)),
]);
const expected = plain([
  ...frames.slice(0, 2).map((f) => ({ type: 'frame', json: Buffer.from(JSON.stringify(f.json)), payload: f.payload })),
  {
    type: 'bad-frame',
    error: { name: 'ProtocolError', code: ErrorCode.PROTOCOL_ERROR, message: 'frame JSON length is 0 (expected 1 or more bytes of JSON metadata)' },
    payload: Buffer.from('abc'),
  },
  ...frames.slice(2).map((f) => ({ type: 'frame', json: Buffer.from(JSON.stringify(f.json)), payload: f.payload })),
]);

t.test('whole, byte by byte, and randomly split streams decode to the same frames', async (t) => {
  for (const [label, chunks] of chunkings(stream)) {
    t.same(plain(decodeAll(new FrameDecoder(), chunks)), expected, label);
  }
});

t.test('one frame per chunk, and a storm of 1000 frames in one chunk', async (t) => {
  const perFrame = frames.map((f) => concat(encodeFrameRequest(f.json, f.payload)));
  t.equal(decodeAll(new FrameDecoder(), perFrame).length, frames.length);
  const one = concat(encodeFrameRequest({ command: 'ping' }));
  const storm = Buffer.concat(Array.from({ length: 1000 }, () => one));
  const items = decodeAll(new FrameDecoder(), [storm]);
  t.equal(items.length, 1000);
  t.ok(items.every((i) => i.type === 'frame' && i.json.toString() === '{"command":"ping"}'));
});

t.test('a frame in one chunk is not copied', async (t) => {
  const chunk = concat(encodeFrameRequest({ camera_number: 1 }, Buffer.from('PNGDATA')));
  const [item] = new FrameDecoder().push(chunk);
  t.equal(item?.type, 'frame');
  if (item?.type !== 'frame') return;
  t.equal(item.payload.buffer, chunk.buffer, 'payload is a view of the chunk');
  t.equal(item.json.buffer, chunk.buffer, 'json is a view of the chunk');
});

t.test('JSON length over the limit is fatal after its 8 bytes, before anything else is buffered', async (t) => {
  const d = new FrameDecoder({ maxJsonBytes: 100 });
  const header = u64(101);
  t.same(d.push(header.subarray(0, 7)), [], '7 bytes: nothing yet');
  const items = d.push(header.subarray(7));
  t.match(items, [{ type: 'fatal', error: { code: ErrorCode.TOO_LARGE, message: /JSON length 101 is over the limit of 100/ } }]);
  t.equal(d.bufferedBytes, 0);
  t.same(d.push(Buffer.alloc(1000)), [], 'later input is ignored');
  t.same(d.end(), [], 'no truncated report after fatal');
});

t.test('the default JSON limit is 10 MiB: 10 MiB + 1 is fatal, exactly 10 MiB is accepted', async (t) => {
  t.match(new FrameDecoder().push(u64(MAX_FRAME_JSON_BYTES + 1)), [{ type: 'fatal', error: { code: ErrorCode.TOO_LARGE } }]);
  const d = new FrameDecoder();
  t.same(d.push(u64(MAX_FRAME_JSON_BYTES)), []);
  t.equal(d.bufferedBytes, 0, 'waiting for the JSON');
});

t.test('huge lengths are compared as u64, never rounded into range', async (t) => {
  for (const n of [2n ** 53n + 1n, 2n ** 56n - 1n, 0x00ffffffffffffffn, 2n ** 64n - 1n]) {
    const [item] = new FrameDecoder().push(u64(n));
    t.match(item, { type: 'fatal', error: { code: ErrorCode.TOO_LARGE, message: new RegExp(`JSON length ${n} `) } }, `JSON length ${n}`);
  }
  const json = Buffer.from('{"request_id":9}');
  const head = concat([u64(json.length), json]);
  for (const n of [BigInt(MAX_PAYLOAD_BYTES) + 1n, 2n ** 53n + 1n, 2n ** 56n - 1n]) {
    const items = new FrameDecoder().push(concat([head, u64(n), Buffer.alloc(10)]));
    t.match(items, [{ type: 'fatal', error: { code: ErrorCode.TOO_LARGE, message: new RegExp(`payload length ${n} `) } }], `payload ${n}`);
    t.same(items[0] && 'json' in items[0] ? items[0].json : undefined, json, 'the JSON comes along so the answer can echo request_id');
  }
});

t.test('payload length over the limit is fatal after its 8 bytes', async (t) => {
  const d = new FrameDecoder({ maxPayloadBytes: 10 });
  t.same(d.push(concat([u64(2), Buffer.from('{}'), u64(11).subarray(0, 4)])), []);
  t.match(d.push(u64(11).subarray(4)), [{ type: 'fatal', error: { code: ErrorCode.TOO_LARGE, message: /payload length 11 is over the limit of 10/ } }]);
  t.equal(d.bufferedBytes, 0);
  const ok = new FrameDecoder({ maxPayloadBytes: 10 });
  t.match(ok.push(concat(encodeFrameRequest({}, Buffer.alloc(10)))), [{ type: 'frame' }], 'exactly the limit is fine');
});

t.test('a JSON length of 0 is a bad frame the stream survives (its payload is skipped)', async (t) => {
  const next = concat(encodeFrameRequest({ command: 'ping' }));
  for (const payload of [Buffer.alloc(0), Buffer.from('xyz')]) {
    const bytes = concat([u64(0), u64(payload.length), payload, next]);
    for (const [label, chunks] of chunkings(bytes, 5)) {
      t.match(decodeAll(new FrameDecoder(), chunks), [
        { type: 'bad-frame', error: { code: ErrorCode.PROTOCOL_ERROR } },
        { type: 'frame', json: Buffer.from('{"command":"ping"}') },
      ], `${payload.length}-byte payload, ${label}`);
    }
  }
  t.match(new FrameDecoder({ maxPayloadBytes: 5 }).push(concat([u64(0), u64(6)])), [{ type: 'fatal', error: { code: ErrorCode.TOO_LARGE } }], 'its payload length is still limited');
});

t.test('a stream that ends mid-frame is reported as truncated, at every cut point', async (t) => {
  const one = concat(encodeFrameRequest({ camera_number: 1 }, Buffer.from('PNG')));
  for (let cut = 1; cut < one.length; cut++) {
    const items = decodeAll(new FrameDecoder(), randomSplit(one.subarray(0, cut), cut));
    t.match(items, [{ type: 'truncated', error: { code: ErrorCode.PROTOCOL_ERROR, message: /stream ended mid-frame/ } }], `cut at ${cut}`);
  }
  t.match(decodeAll(new FrameDecoder(), [one.subarray(0, 5)]), [{ type: 'truncated', error: { message: '5 of 8 bytes of the JSON length' } }]);
  t.match(decodeAll(new FrameDecoder(), [one.subarray(0, one.length - 1)]), [{ type: 'truncated', error: { message: /2 of 3 bytes of the payload/ } }]);
});

t.test('a clean end between frames is fine', async (t) => {
  const one = concat(encodeFrameRequest({ command: 'ping' }));
  t.same(decodeAll(new FrameDecoder(), []), []);
  t.match(decodeAll(new FrameDecoder(), [one, one]), [{ type: 'frame' }, { type: 'frame' }]);
  const d = new FrameDecoder();
  d.end();
  t.same(d.push(one), [], 'input after end() is ignored');
});

t.test('options are validated', async (t) => {
  t.throws(() => new FrameDecoder({ maxJsonBytes: 0 }), RangeError);
  t.throws(() => new FrameDecoder({ maxPayloadBytes: -1 }), RangeError);
  t.doesNotThrow(() => new FrameDecoder({ maxPayloadBytes: 0 }));
});
