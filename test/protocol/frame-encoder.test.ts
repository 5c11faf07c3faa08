import t from 'tap';
import {
  encodeFrameRequest,
  encodeFrameResponse,
  errorResponse,
  errorResponseOf,
  shutdownResponse,
  successResponse,
  type ResultItem,
} from '../../src/protocol/frame-encoder.js';
import { FrameResponseDecoder } from '../../src/protocol/frame-response-decoder.js';
import { parseFramedRequest } from '../../src/protocol/framed-request.js';
import { BusyError, ErrorCode } from '../../src/errors.js';
import { chunkings, concat, decodeAll, plain, u64 } from './fixtures/chunking.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function result(i: number, length: number, extra: Record<string, unknown> = {}): ResultItem {
  return {
    result_index: i,
    class_name: 'scratch',
    score: 0.97,
    camera_number: 2,
    image_index: i,
    image_format: 'png',
    image_length: length,
    image_width: 64,
    image_height: 32,
    image_mode: 'RGB',
    ...extra,
  };
}

t.test('exact wire bytes: shutdown answer, no images', async (t) => {
  const bytes = concat(encodeFrameResponse(shutdownResponse(1), []));
  const expected = Buffer.concat([
    hex('5a00000000000000'), // JSON length 90
    Buffer.from('{"success":true,"request_id":1,"result_count":0,"results":[],"shutdown":true,"error":null}'),
    hex('0000000000000000'), // image count 0
  ]);
  t.same(bytes, expected);
});

t.test('exact wire bytes: error answer', async (t) => {
  const bytes = concat(encodeFrameResponse(errorResponse('a', ErrorCode.BUSY, 'full'), []));
  t.same(bytes, Buffer.concat([
    hex('6900000000000000'), // 105
    Buffer.from('{"success":false,"request_id":"a","result_count":0,"results":[],"error":{"code":"BUSY","message":"full"}}'),
    hex('0000000000000000'),
  ]));
});

t.test('exact wire bytes: two images, each with its u64 length', async (t) => {
  const json = { success: true };
  const bytes = concat(encodeFrameResponse(json, [Buffer.from([0x89, 0x50, 0x4e]), new Uint8Array([0xaa])]));
  t.same(bytes, hex(`
    1000000000000000 7b2273756363657373223a747275657d
    0200000000000000
    0300000000000000 89504e
    0100000000000000 aa
  `));
});

t.test('exact wire bytes: a request', async (t) => {
  t.same(concat(encodeFrameRequest({ command: 'ping' })), hex(`
    1200000000000000 7b22636f6d6d616e64223a2270696e67227d
    0000000000000000`));
  t.same(concat(encodeFrameRequest({}, Buffer.from('PNG'))), hex('0200000000000000 7b7d 0300000000000000 504e47'));
});

t.test('images are passed through, not copied', async (t) => {
  const img = Buffer.from('image-bytes');
  const chunks = encodeFrameResponse({}, [img]);
  t.equal(chunks[2], img);
  const view = new Uint8Array(new ArrayBuffer(16), 4, 4);
  t.equal(encodeFrameResponse({}, [view])[2]!.buffer, view.buffer);
});

t.test('success JSON keeps the field names and order of wire.md §5', async (t) => {
  const r = successResponse(1001, [result(0, 1234)]);
  t.same(Object.keys(r), ['success', 'request_id', 'result_count', 'results', 'error']);
  t.equal(
    JSON.stringify(r),
    '{"success":true,"request_id":1001,"result_count":1,"results":[{"result_index":0,"class_name":"scratch","score":0.97,' +
      '"camera_number":2,"image_index":0,"image_format":"png","image_length":1234,"image_width":64,"image_height":32,' +
      '"image_mode":"RGB"}],"error":null}',
  );
});

t.test('result fields are put in §5 order, extra fields after them', async (t) => {
  const scrambled = { bbox: [1, 2, 3, 4], ...result(0, 5), text: 'AB-123' };
  const { results } = successResponse(null, [scrambled]);
  t.same(Object.keys(results[0]!), [
    'result_index', 'class_name', 'score', 'camera_number', 'image_index', 'image_format',
    'image_length', 'image_width', 'image_height', 'image_mode', 'bbox', 'text',
  ]);
});

t.test('extra response fields go between results and error; §5 fields cannot be replaced', async (t) => {
  t.same(Object.keys(successResponse('x', [], { timings: { total_ms: 3 } })), ['success', 'request_id', 'result_count', 'results', 'timings', 'error']);
  t.throws(() => successResponse(1, [], { success: false }), TypeError);
  t.throws(() => successResponse(1, [], { error: 'x' }), TypeError);
});

t.test('error and shutdown JSON', async (t) => {
  t.same(errorResponse(1001, ErrorCode.PROTOCOL_ERROR, 'bad'), {
    success: false, request_id: 1001, result_count: 0, results: [], error: { code: 'PROTOCOL_ERROR', message: 'bad' },
  });
  t.same(errorResponseOf(null, new BusyError('queue full (512 of 512)')).error, { code: 'BUSY', message: 'queue full (512 of 512)' });
  t.same(errorResponseOf(null, new Error('boom')).error, { code: 'PROCESSING_ERROR', message: 'boom' }, 'uncoded errors are processing errors');
  t.same(Object.keys(shutdownResponse(1)), ['success', 'request_id', 'result_count', 'results', 'shutdown', 'error']);
});

t.test('request_id round trip: number, string, null, and a 64-bit id digit for digit', async (t) => {
  for (const text of ['1001', '"abc"', 'null', '638500000000000001', '18446744073709551615', '-1.5', '1e400']) {
    const parsed = parseFramedRequest(Buffer.from(`{"request_id":${text},"command":"ping"}`), Buffer.alloc(0));
    if (!parsed.ok) {
      t.fail(text);
      continue;
    }
    const wire = concat(encodeFrameResponse(successResponse(parsed.request.requestId, []), []));
    const json = wire.subarray(8, wire.length - 8).toString();
    t.ok(json.startsWith(`{"success":true,"request_id":${text},`), `${text} -> ${json}`);
  }
});

t.test('FrameResponseDecoder: same responses in every chunking', async (t) => {
  const images = [Buffer.alloc(70_000, 7), Buffer.alloc(0), Buffer.from([1, 2, 3])];
  const responses = [
    { json: successResponse(1, images.map((img, i) => result(i, img.length))), images },
    { json: errorResponse(2, ErrorCode.PROTOCOL_ERROR, 'x'), images: [] },
    { json: shutdownResponse('s'), images: [] },
  ];
  const stream = concat(responses.flatMap((r) => encodeFrameResponse(r.json, r.images)));
  const expected = plain(responses.map((r) => ({ type: 'response', json: Buffer.from(JSON.stringify(r.json)), images: r.images })));
  for (const [label, chunks] of chunkings(stream, 10)) {
    t.same(plain(decodeAll(new FrameResponseDecoder(), chunks)), expected, label);
  }
});

t.test('FrameResponseDecoder: limits are fatal at once; a mid-response end is truncated', async (t) => {
  t.match(new FrameResponseDecoder({ maxJsonBytes: 10 }).push(u64(11)), [{ type: 'fatal', error: { code: ErrorCode.TOO_LARGE } }]);
  t.match(new FrameResponseDecoder().push(u64(0)), [{ type: 'fatal', error: { code: ErrorCode.PROTOCOL_ERROR } }]);
  t.match(new FrameResponseDecoder().push(u64(2n ** 60n)), [{ type: 'fatal', error: { message: /1152921504606846976/ } }]);
  const head = concat([u64(2), Buffer.from('{}')]);
  t.match(new FrameResponseDecoder({ maxImageCount: 2 }).push(concat([head, u64(3)])), [{ type: 'fatal', error: { code: ErrorCode.TOO_LARGE, message: /image count 3/ } }]);
  t.match(new FrameResponseDecoder({ maxImageBytes: 4 }).push(concat([head, u64(1), u64(5)])), [{ type: 'fatal', error: { code: ErrorCode.TOO_LARGE, message: /image length 5/ } }]);
  const one = concat(encodeFrameResponse({ a: 1 }, [Buffer.from('img')]));
  for (let cut = 1; cut < one.length; cut++) {
    t.match(decodeAll(new FrameResponseDecoder(), [one.subarray(0, cut)]), [{ type: 'truncated', error: { code: ErrorCode.PROTOCOL_ERROR } }], `cut at ${cut}`);
  }
  t.match(decodeAll(new FrameResponseDecoder(), [one]), [{ type: 'response' }], 'clean end');
});
