// The gRPC codecs: Vision messages ↔ typed requests and replies, and what a
// seed 002 Request.msg asks for. No sockets.
import t from 'tap';
import { BadTileError, ProcessingError } from '../../src/errors.js';
import { successResponse } from '../../src/protocol/frame-encoder.js';
import { errorResult, frameToRequest, replyToResult } from '../../src/transport/grpc/vision-codec.js';
import { parseViewerRequest } from '../../src/transport/grpc/camera-viewer.js';
import { peerAddress } from '../../src/transport/grpc/vision-handlers.js';

const image = Buffer.from([0x89, 0x50, 0x4e, 0x47]);

t.test('frameToRequest: a Frame becomes the same process request a framed client would send', async (t) => {
  t.same(frameToRequest({ camera_number: 3, request_id: 'r1', model: '', image }), {
    ok: true,
    request: { type: 'process', requestId: 'r1', cameraNumber: 3, payload: image },
  }, 'an empty model means the camera\'s model');
  t.same(frameToRequest({ camera_number: 0, request_id: '', model: 'text-direction', image }), {
    ok: true,
    request: { type: 'process', requestId: null, cameraNumber: 0, payload: image, model: 'text-direction' },
  }, 'an empty request_id is no request_id');
});

t.test('frameToRequest: an empty image is a PROTOCOL_ERROR that keeps the request_id', async (t) => {
  const r = frameToRequest({ camera_number: 1, request_id: 'r2', model: '', image: Buffer.alloc(0) });
  t.equal(r.ok, false);
  if (r.ok) return;
  t.equal(r.requestId, 'r2');
  t.match(r.error, { code: 'PROTOCOL_ERROR', message: /empty image/ });
});

t.test('replyToResult: results keep the §5 fields, the crop PNG, the box as points and other fields as JSON', async (t) => {
  const crop = Buffer.from('png-bytes');
  const json = successResponse('r3', [
    {
      result_index: 0,
      class_name: 'HELLO',
      score: 0.9,
      camera_number: 2,
      image_index: 0,
      image_format: 'png',
      image_length: crop.length,
      image_width: 40,
      image_height: 10,
      image_mode: 'RGB',
      box: [[1, 2], [41, 2], [41, 12], [1, 12]],
      text_angle: 180,
    },
  ], { model: 'ocr', elapsed_ms: 12.5 });
  const result = replyToResult({ json, images: [crop] }, 2);
  t.same(result, {
    request_id: 'r3',
    success: true,
    results: [{
      result_index: 0,
      class_name: 'HELLO',
      score: 0.9,
      camera_number: 2,
      image: crop,
      image_format: 'png',
      image_width: 40,
      image_height: 10,
      image_mode: 'RGB',
      box: [{ x: 1, y: 2 }, { x: 41, y: 2 }, { x: 41, y: 12 }, { x: 1, y: 12 }],
      extra_json: '{"text_angle":180}',
    }],
    error: null,
    model: 'ocr',
    elapsed_ms: 12.5,
    camera_number: 2,
  });
});

t.test('errorResult: the error code as a field; a bad tile reads as PROTOCOL_ERROR as on the framed wire', async (t) => {
  t.match(errorResult('r4', new ProcessingError('model failed'), 5), { request_id: 'r4', success: false, results: [], error: { code: 'PROCESSING_ERROR', message: 'model failed' }, camera_number: 5 });
  t.match(errorResult(null, new BadTileError('no such tile')), { request_id: '', error: { code: 'PROTOCOL_ERROR' } });
});

t.test("parseViewerRequest: the seed's message is camera 0; a number or camera=N picks a camera; boxes asks for results drawn", async (t) => {
  t.same(parseViewerRequest('give me the stream!!'), { camera: 0, boxes: false });
  t.same(parseViewerRequest(''), { camera: 0, boxes: false });
  t.same(parseViewerRequest('2'), { camera: 2, boxes: false });
  t.same(parseViewerRequest('camera=7, boxes'), { camera: 7, boxes: true });
  t.same(parseViewerRequest('Camera:3 BOXES'), { camera: 3, boxes: true });
  t.same(parseViewerRequest('camera=99999999999999999999'), { camera: 0, boxes: false }, 'an absurd number is not a camera');
});

t.test('peerAddress: the address part of a gRPC peer', async (t) => {
  t.equal(peerAddress('127.0.0.1:5000'), '127.0.0.1');
  t.equal(peerAddress('ipv4:127.0.0.1:5000'), '127.0.0.1');
  t.equal(peerAddress('[::1]:5000'), '::1');
  t.equal(peerAddress('ipv6:[::1]:5000'), '::1');
});
