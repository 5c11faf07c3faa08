/**
 * Input size limits, each at and past the limit (and pipelining past
 * MAX_PIPELINED_REQUESTS, which pauses reading instead of refusing): line length
 * (MAX_LINE_BYTES, --max-line-bytes), frame JSON (MAX_FRAME_JSON_BYTES,
 * 10 MiB, --max-frame-json-bytes), payload (MAX_PAYLOAD_BYTES,
 * --max-payload-bytes) and decoded pixels (MAX_INPUT_PIXELS,
 * --max-input-pixels). The daemon keeps serving after every refusal.
 */
import t from 'tap';
import sharp from 'sharp';
import { MAX_FRAME_JSON_BYTES, MAX_INPUT_PIXELS } from '../../src/limits.js';
import { MAX_PIPELINED_REQUESTS } from '../../src/transport/framed-session.js';
import { DEFAULT_CONFIG } from '../../src/config/daemon-config.js';
import { OrderedListener, RawFramed, connect, exchange, frame, freePort, pngBomb, readUntil, startHard, u64 } from './fixtures/lib.js';

/** A ping frame whose JSON is exactly `size` bytes (padded with a string field). */
function pingJsonOfSize(size: number, requestId: number): Buffer {
  const base = JSON.stringify({ command: 'ping', request_id: requestId, pad: '' });
  const json = Buffer.from(JSON.stringify({ command: 'ping', request_id: requestId, pad: 'x'.repeat(size - base.length) }));
  if (json.length !== size) throw new Error(`padding went wrong: ${json.length} != ${size}`);
  return json;
}

function rawFrame(json: Buffer, payload: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([u64(json.length), json, u64(payload.length), payload]);
}

t.test('line length: --max-line-bytes at the limit is served, one byte past is refused and skipped', async (t) => {
  const callbackPort = await freePort();
  const listener = await OrderedListener.listen(callbackPort);
  t.teardown(() => listener.close());
  const h = await startHard(t, { maxLineBytes: 64 }, { callbackPort });

  const atLimit = `${' '.repeat(60)}ping`; // 64 bytes; trimmed to `ping`
  const pastLimit = `${' '.repeat(61)}ping`; // 65 bytes
  t.equal(Buffer.byteLength(atLimit), 64);
  const socket = await connect(h.port);
  t.teardown(() => socket.destroy());
  socket.write(`${atLimit}\n`);
  t.equal(await readUntil(socket, 'pong\n'), 'pong\n', 'a 64-byte line is a command like any other');
  socket.write(`${atLimit}\r\n`);
  t.equal(await readUntil(socket, 'pong\n'), 'pong\n', '64 bytes plus \\r\\n is still within the limit (the terminator does not count)');

  socket.write(`${pastLimit}\nping\n`);
  const reply = await readUntil(socket, 'pong\n');
  t.equal(reply, 'pong\n', 'the connection stays in sync: the next line is served');
  await listener.until('the line-too-long notice', (lines) => lines.some((l) => l.includes('line too long')));
  const notice = listener.lines.find((l) => l.includes('line too long'))!;
  t.match(notice, /^error \S+ line too long \(65 bytes or more, limit 64\)$/, `clear error notice: ${notice}`);

  // A line far past the limit (1 MiB) is dropped as it streams in, never buffered whole.
  socket.write(`${'y'.repeat(1024 * 1024)}\nping\n`);
  await readUntil(socket, 'pong\n');
  await listener.until('the second notice', (lines) => lines.filter((l) => l.includes('line too long')).length === 2);
  t.equal(listener.lines.filter((l) => l.includes('line too long')).length, 2, 'only the two lines past the limit got a notice, not the one ending in \\r\\n');
  t.ok(await exchange(h.port, 'ping\n').then((r) => r === 'pong\n'), 'a fresh connection is served');
  t.equal(DEFAULT_CONFIG.maxLineBytes, 4096, 'the default is MAX_LINE_BYTES, 4096');
});

t.test('frame JSON: the default 10 MiB limit, exactly at it and one byte past', async (t) => {
  const h = await startHard(t);
  t.equal(DEFAULT_CONFIG.maxFrameJsonBytes, 10 * 1024 * 1024);
  const conn = await RawFramed.open(h.port);
  t.teardown(() => conn.socket.destroy());
  conn.write(rawFrame(pingJsonOfSize(MAX_FRAME_JSON_BYTES, 1)));
  const [ok] = await conn.waitFor(1);
  t.match(ok!.json, { success: true, request_id: 1, pong: true }, 'a 10 MiB JSON is served');

  conn.write(rawFrame(pingJsonOfSize(MAX_FRAME_JSON_BYTES + 1, 2)));
  const [, refused] = await conn.waitFor(2);
  t.equal(refused!.json.success, false);
  t.equal(refused!.json.error?.code, 'TOO_LARGE');
  t.match(refused!.json.error?.message, /frame JSON length 10485761 is over the limit of 10485760 bytes/);
  await conn.closed;
  t.equal(conn.socket.destroyed, true, 'the connection closes after TOO_LARGE (a length over the limit cannot be resynchronised)');
  t.equal(conn.responses.length, 2, 'with no answer after the TOO_LARGE one');

  const fresh = await RawFramed.open(h.port);
  t.teardown(() => fresh.socket.destroy());
  t.match((await fresh.request({ command: 'ping', request_id: 3 })).json, { success: true, pong: true }, 'the daemon keeps serving');

  // MAX_PIPELINED_REQUESTS (64) is a read pause, not a refusal: far more may be pipelined.
  const n = MAX_PIPELINED_REQUESTS * 16;
  const pipe = await RawFramed.open(h.port);
  t.teardown(() => pipe.socket.destroy());
  pipe.write(Buffer.concat(Array.from({ length: n }, (_, i) => frame(i % 8 === 7 ? { command: 'render', request_id: i, tile: '1_1_1' } : { command: 'ping', request_id: i }))), n);
  const answers = await pipe.waitFor(n, 60_000);
  t.same(answers.map((a) => a.json.request_id), Array.from({ length: n }, (_, i) => i), `${n} pipelined requests (past MAX_PIPELINED_REQUESTS = ${MAX_PIPELINED_REQUESTS}) all answered, in order`);
  t.ok(answers.every((a) => a.json.success), 'all of them successfully');
});

t.test('frame JSON and payload limits set by flag: at the limit served, past it TOO_LARGE and closed', async (t) => {
  const h = await startHard(t, { maxFrameJsonBytes: 4096, maxPayloadBytes: 1024 });

  const a = await RawFramed.open(h.port);
  t.teardown(() => a.socket.destroy());
  a.write(rawFrame(pingJsonOfSize(4096, 1)));
  a.write(rawFrame(pingJsonOfSize(4096, 2), Buffer.alloc(1024, 7)));
  const [j, p] = await a.waitFor(2);
  t.match(j!.json, { success: true, request_id: 1 }, 'JSON of exactly --max-frame-json-bytes');
  t.match(p!.json, { success: true, request_id: 2 }, 'payload of exactly --max-payload-bytes');
  a.write(rawFrame(pingJsonOfSize(4097, 3)));
  const [, , tooBig] = await a.waitFor(3);
  t.match(tooBig!.json, { success: false, error: { code: 'TOO_LARGE', message: /frame JSON length 4097 is over the limit of 4096/ } });
  await a.closed;

  const b = await RawFramed.open(h.port);
  t.teardown(() => b.socket.destroy());
  b.write(rawFrame(Buffer.from(JSON.stringify({ command: 'ping', request_id: 'big-payload' })), Buffer.alloc(1025)));
  const [payloadTooBig] = await b.waitFor(1);
  t.match(payloadTooBig!.json, {
    success: false,
    request_id: 'big-payload',
    error: { code: 'TOO_LARGE', message: /frame payload length 1025 is over the limit of 1024/ },
  }, 'the request_id is echoed: the JSON was read before the payload length');
  await b.closed;

  // Only the length is needed to refuse: a client claiming 2^55 bytes is answered at once.
  const c = await RawFramed.open(h.port);
  t.teardown(() => c.socket.destroy());
  c.write(u64(2n ** 55n));
  const [huge] = await c.waitFor(1);
  t.equal(huge!.json.error?.code, 'TOO_LARGE');
  await c.closed;

  const d = await RawFramed.open(h.port);
  t.teardown(() => d.socket.destroy());
  t.match((await d.request({ command: 'stats', request_id: 9 })).json, { success: true }, 'still serving');
});

t.test('decoded pixels: a tiny PNG claiming 50,000 × 50,000 is TOO_LARGE before decoding; the daemon keeps serving', async (t) => {
  // Defaults (MAX_INPUT_PIXELS = 40,000,000), one inference worker, the small classifier model.
  const h = await startHard(t, { inference: true, inferenceWorkers: 1 });
  t.equal(DEFAULT_CONFIG.maxInputPixels, MAX_INPUT_PIXELS);
  const conn = await RawFramed.open(h.port);
  t.teardown(() => conn.socket.destroy());
  const bomb = pngBomb(50_000, 50_000);
  t.ok(bomb.length < 2048, `the bomb is ${bomb.length} bytes`);

  const refused = await conn.request({ command: 'process', request_id: 1, camera_number: 0, model: 'text-direction' }, bomb);
  t.match(refused.json, { success: false, request_id: 1, error: { code: 'TOO_LARGE', message: /50000×50000 = 2500000000 pixels, over the limit of 40000000/ } });

  // At the limit the header passes the pixel check (the truncated data then fails to decode, or decodes);
  // one row more is refused on the header alone.
  const atLimit = await conn.request({ command: 'process', request_id: 2, camera_number: 0, model: 'text-direction' }, pngBomb(8000, 5000));
  t.not(atLimit.json.error?.code, 'TOO_LARGE', `8000 × 5000 = MAX_INPUT_PIXELS is not too large (${atLimit.json.error?.code ?? 'success'})`);
  const past = await conn.request({ command: 'process', request_id: 3, camera_number: 0, model: 'text-direction' }, pngBomb(8000, 5001));
  t.equal(past.json.error?.code, 'TOO_LARGE', '8000 × 5001 is');

  // The OCR model refuses it the same way.
  const ocr = await conn.request({ command: 'process', request_id: 4, camera_number: 0 }, bomb);
  t.equal(ocr.json.error?.code, 'TOO_LARGE');

  const png = await sharp({ create: { width: 192, height: 48, channels: 3, background: '#ffffff' } }).png().toBuffer();
  const ok = await conn.request({ command: 'process', request_id: 5, camera_number: 0, model: 'text-direction' }, png);
  t.match(ok.json, { success: true, request_id: 5 }, 'a normal image right after is processed');
  t.ok(ok.images.length > 0);
});

t.test('inference queue: past --inference-queue-limit a process request is answered BUSY', async (t) => {
  const h = await startHard(t, { inference: true, inferenceWorkers: 1, inferenceQueueLimit: 1 });
  const conn = await RawFramed.open(h.port);
  t.teardown(() => conn.socket.destroy());
  const png = await sharp({ create: { width: 192, height: 48, channels: 3, background: '#ffffff' } }).png().toBuffer();
  // Eight requests in one write: two run (one worker × 2 in flight), one waits, the rest are refused.
  conn.write(Buffer.concat(Array.from({ length: 8 }, (_, i) => frame({ command: 'process', request_id: i, camera_number: 0, model: 'text-direction' }, png))), 8);
  const answers = await conn.waitFor(8, 60_000);
  const codes = answers.map((a) => a.json.error?.code ?? 'ok');
  t.same(answers.map((a) => a.json.request_id), [0, 1, 2, 3, 4, 5, 6, 7], 'answered in order');
  t.same(codes, ['ok', 'ok', 'ok', 'BUSY', 'BUSY', 'BUSY', 'BUSY', 'BUSY'], `two running, one queued, the rest BUSY: ${codes.join(' ')}`);
  t.match(answers[3]!.json.error?.message, /the inference queue is full \(1 requests\)/);
  t.equal(DEFAULT_CONFIG.inferenceQueueLimit, 256);
});
