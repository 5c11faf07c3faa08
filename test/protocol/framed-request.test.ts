import t from 'tap';
import { parseFramedRequest, requestIdOf } from '../../src/protocol/framed-request.js';
import { RawJsonNumber } from '../../src/protocol/request-id.js';
import { ErrorCode } from '../../src/errors.js';

const png = Buffer.from([0x89, 0x50, 0x4e, 0x47]);
const none = Buffer.alloc(0);
const parse = (json: string | object, payload: Buffer = png) =>
  parseFramedRequest(Buffer.from(typeof json === 'string' ? json : JSON.stringify(json)), payload);

t.test('process: the wire.md example', async (t) => {
  t.same(parse('{"command": "process", "request_id": 1001, "camera_number": 2}'), {
    ok: true,
    request: { requestId: 1001, type: 'process', cameraNumber: 2, payload: png },
  });
});

t.test('command defaults to process; model and client_id pass through', async (t) => {
  t.same(parse({ camera_number: 0, model: 'ocr-v2', client_id: 'cam-host-7' }), {
    ok: true,
    request: { requestId: null, clientId: 'cam-host-7', type: 'process', cameraNumber: 0, payload: png, model: 'ocr-v2' },
  });
  t.same(parse({ camera_number: 3, model: null, client_id: null }), {
    ok: true,
    request: { requestId: null, type: 'process', cameraNumber: 3, payload: png },
  }, 'optional fields sent as null count as absent');
});

t.test('request_id is echoed as given: number, string, absent or null', async (t) => {
  t.match(parse({ request_id: 7, camera_number: 1 }), { ok: true, request: { requestId: 7 } });
  t.match(parse({ request_id: 'abc-7', camera_number: 1 }), { ok: true, request: { requestId: 'abc-7' } });
  t.match(parse({ request_id: '', camera_number: 1 }), { ok: true, request: { requestId: '' } });
  t.match(parse({ request_id: 1.5, camera_number: 1 }), { ok: true, request: { requestId: 1.5 } });
  t.match(parse({ camera_number: 1 }), { ok: true, request: { requestId: null } });
  t.match(parse({ request_id: null, camera_number: 1 }), { ok: true, request: { requestId: null } });
});

t.test('a 64-bit request_id (above 2^53) is kept digit for digit', async (t) => {
  const result = parse('{"request_id": 638500000000000001, "camera_number": 1}');
  t.ok(result.ok);
  const id = result.ok ? result.request.requestId : undefined;
  t.ok(id instanceof RawJsonNumber);
  t.equal(String(id), '638500000000000001');
  const failed = parse('{"request_id": 18446744073709551615, "camera_number": true}');
  t.match(failed, { ok: false });
  t.equal(String(failed.ok ? undefined : failed.requestId), '18446744073709551615', 'also on errors');
  t.equal(requestIdOf(Buffer.from('{"a":[1,{"request_id":2}],"request_id" : -9007199254740993}')) + '', '-9007199254740993', 'nested keys are not mistaken for it');
});

// Every error case of wire.md §5: PROTOCOL_ERROR, the request_id echoed when known, the field and value named.
const errors: Array<[label: string, json: string, payload: Buffer, requestId: unknown, message: RegExp]> = [
  ['JSON does not parse', '{"request_id": 5, "camera_number": ', png, null, /does not parse/],
  ['JSON is a NUL byte', '\u0000', png, null, /does not parse/],
  ['JSON is empty space', '  ', png, null, /does not parse/],
  ['root is an array', '[1, 2]', png, null, /root must be an object, got \[1,2\] \(array\)/],
  ['root is a number', '42', png, null, /root must be an object, got 42 \(number\)/],
  ['root is null', 'null', png, null, /root must be an object, got null \(null\)/],
  ['root is a string', '"process"', png, null, /root must be an object/],
  ['unknown command', '{"request_id": 5, "command": "explode"}', png, 5, /unknown command "explode" \(string\)/],
  ['command not a string', '{"request_id": 5, "command": 1}', png, 5, /command must be a string, got 1 \(number\)/],
  ['camera_number missing', '{"request_id": 5}', png, 5, /camera_number is required/],
  ['camera_number null', '{"request_id": 5, "camera_number": null}', png, 5, /camera_number is required/],
  ['camera_number boolean', '{"request_id": 5, "camera_number": true}', png, 5, /camera_number must be a non-negative integer, got true \(boolean\)/],
  ['camera_number negative', '{"request_id": "r", "camera_number": -1}', png, 'r', /camera_number .* got -1 \(number\)/],
  ['camera_number float', '{"request_id": 5, "camera_number": 1.5}', png, 5, /camera_number .* got 1.5 \(number\)/],
  ['camera_number string', '{"request_id": 5, "camera_number": "2"}', png, 5, /camera_number .* got "2" \(string\)/],
  ['camera_number too big', '{"request_id": 5, "camera_number": 9007199254740993}', png, 5, /camera_number .* got 9007199254740992 \(number\)/],
  ['process with empty payload', '{"request_id": 5, "camera_number": 2}', none, 5, /process needs an image payload/],
  ['model empty', '{"request_id": 5, "camera_number": 2, "model": ""}', png, 5, /model must be a non-empty string/],
  ['model not a string', '{"request_id": 5, "camera_number": 2, "model": 3}', png, 5, /model must be a string, got 3/],
  ['client_id not a string', '{"request_id": 5, "camera_number": 2, "client_id": {}}', png, 5, /client_id must be a string, got \{\} \(object\)/],
  ['request_id boolean', '{"request_id": true, "camera_number": 2}', png, null, /request_id must be a number, a string or absent, got true \(boolean\)/],
  ['request_id object', '{"request_id": {"a": 1}, "camera_number": 2}', png, null, /request_id must be/],
  ['render without tile', '{"request_id": 5, "command": "render"}', none, 5, /tile is required for render/],
  ['render with bad tile', '{"request_id": 5, "command": "render", "tile": "16_abc_1"}', none, 5, /tile "16_abc_1" \(string\) is not a tile name/],
  ['render with numeric tile', '{"request_id": 5, "command": "render", "tile": 3}', none, 5, /tile is required for render .* got 3 \(number\)/],
  ['cancel without tile', '{"request_id": 5, "command": "cancel"}', none, 5, /tile is required for cancel/],
  ['shutdown with numeric token', '{"request_id": 5, "command": "shutdown", "token": 1}', none, 5, /token must be a string/],
  ['viewport missing max_y', '{"request_id": 5, "command": "viewport", "z": 1, "min_x": 0, "min_y": 0, "max_x": 1}', none, 5, /max_y must be a non-negative integer for viewport, got nothing/],
  ['viewport negative', '{"request_id": 5, "command": "viewport", "z": 1, "min_x": -1, "min_y": 0, "max_x": 1, "max_y": 1}', none, 5, /min_x .* got -1/],
  ['viewport array too short', '{"request_id": 5, "command": "viewport", "viewport": [1, 2]}', none, 5, /viewport must be an array \[z, min_x, min_y, max_x, max_y\]/],
  ['viewport array bad item', '{"request_id": 5, "command": "viewport", "viewport": [1, 0, 0, "1", 1]}', none, 5, /viewport\[3\] \(max_x\) must be/],
];

t.test('every error is a PROTOCOL_ERROR naming the problem, echoing request_id when known', async (t) => {
  for (const [label, json, payload, requestId, message] of errors) {
    const result = parseFramedRequest(Buffer.from(json), payload);
    t.match(result, { ok: false, requestId, error: { code: ErrorCode.PROTOCOL_ERROR, name: 'ProtocolError', message } }, label);
    t.equal(result.ok ? 'ok' : result.requestId, requestId, `${label}: request_id`);
  }
  t.match(parseFramedRequest(Buffer.from([0x7b, 0xff, 0x7d]), png), { ok: false, error: { message: /not valid UTF-8/ } }, 'bad UTF-8 bytes');
});

t.test('render, cancel, shutdown, ping, stats', async (t) => {
  const tile = { raw: '3/4/2', z: 3, x: 4, y: 2 };
  t.same(parse({ command: 'render', request_id: 1, tile: '3/4/2' }, none), { ok: true, request: { requestId: 1, type: 'render', tile } });
  t.same(parse({ command: 'render', tile: '3_8_0' }, png), {
    ok: true,
    request: { requestId: null, type: 'render', tile: { raw: '3_8_0', z: 3, x: 8, y: 0 } },
  }, 'payload ignored; bounds are the daemon\'s');
  t.same(parse({ command: 'cancel', tile: '3/4/2', client_id: 'c' }, none), { ok: true, request: { requestId: null, clientId: 'c', type: 'cancel', tile } });
  t.same(parse({ command: 'shutdown', request_id: 'bye' }, none), { ok: true, request: { requestId: 'bye', type: 'shutdown' } });
  t.same(parse({ command: 'shutdown', token: 't' }, png), { ok: true, request: { requestId: null, type: 'shutdown', token: 't' } });
  t.same(parse({ command: 'ping' }, none), { ok: true, request: { requestId: null, type: 'ping' } });
  t.same(parse({ command: 'stats', request_id: 3 }, none), { ok: true, request: { requestId: 3, type: 'stats' } });
});

t.test('viewport: named fields or the array form', async (t) => {
  const expected = { ok: true, request: { requestId: 4, type: 'viewport', z: 12, minX: 2047, minY: 1361, maxX: 2050, maxY: 1363 } };
  t.same(parse({ command: 'viewport', request_id: 4, z: 12, min_x: 2047, min_y: 1361, max_x: 2050, max_y: 1363 }, none), expected);
  t.same(parse({ command: 'viewport', request_id: 4, viewport: [12, 2047, 1361, 2050, 1363] }, none), expected);
});

t.test('command names match in any ASCII case, as the seed\'s Python server lower-cased them', async (t) => {
  t.same(parse({ command: 'PROCESS', request_id: 1, camera_number: 2 }), {
    ok: true,
    request: { requestId: 1, type: 'process', cameraNumber: 2, payload: png },
  });
  t.same(parse({ command: 'Render', tile: '3_4_2' }, none), {
    ok: true,
    request: { requestId: null, type: 'render', tile: { raw: '3_4_2', z: 3, x: 4, y: 2 } },
  });
  t.same(parse({ command: 'STATS' }, none), { ok: true, request: { requestId: null, type: 'stats' } }, 'the type is the lower-case name');
  t.same(parse({ command: 'Ping' }, none), { ok: true, request: { requestId: null, type: 'ping' } });
  t.match(parse({ command: 'ViewPort', viewport: [1, 0, 0, 1, 1] }, none), { ok: true, request: { type: 'viewport', z: 1 } });
  t.match(parse({ command: 'CANCEL', tile: '1/0/0' }, none), { ok: true, request: { type: 'cancel' } });
  t.match(parse({ command: 'ShutDown', token: 't' }, none), { ok: true, request: { type: 'shutdown', token: 't' } });
});

t.test('an unknown command in any case is a PROTOCOL_ERROR naming the received name and every known command', async (t) => {
  for (const command of ['EXPLODE', 'Process ', 'pro\u0130cess', '\u212Aill']) {
    const result = parse({ request_id: 9, command }, none);
    t.match(result, {
      ok: false,
      requestId: 9,
      error: {
        code: ErrorCode.PROTOCOL_ERROR,
        message: /^unknown command .* \(expected one of process, render, shutdown, ping, stats, viewport, cancel\)$/,
      },
    }, JSON.stringify(command));
    t.match(result.ok ? '' : result.error.message, `unknown command ${JSON.stringify(command)}`, `${JSON.stringify(command)}: named as received`);
  }
});

t.test('unknown fields are ignored', async (t) => {
  t.match(parse({ camera_number: 1, future_field: { deep: [1] } }), { ok: true });
});

t.test('requestIdOf: for answering frames that never parsed fully', async (t) => {
  t.equal(requestIdOf(Buffer.from('{"request_id": 12}')), 12);
  t.equal(requestIdOf(Buffer.from('{"request_id": "x"}')), 'x');
  t.equal(requestIdOf(Buffer.from('{"request_id": true}')), null);
  t.equal(requestIdOf(Buffer.from('not json')), null);
});

t.test('the raw request_id scan is not fooled by strings, escapes or nesting', async (t) => {
  const cases: Array<[string, string]> = [
    ['{"x":"}\\"request_id\\":1,","request_id":9007199254740993}', '9007199254740993'],
    ['{"request\\u005fid":12345678901234567890}', '12345678901234567890'],
    ['{"request_id":1,"request_id":\n 99999999999999999999 }', '99999999999999999999'],
    ['{"a":{"request_id":"no"},"b":[[],{}],"request_id":-1e400}', '-1e400'],
  ];
  for (const [json, text] of cases) t.equal(String(requestIdOf(Buffer.from(json))), text, json);
});
