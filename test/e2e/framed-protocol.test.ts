import t from 'tap';
import net from 'node:net';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import sharp from 'sharp';
import { startDaemon, tempDir, type Harness } from '../helpers/daemon.js';
import { BIN } from '../helpers/processes.js';
import { FramedClient } from '../../src/client/framed-client.js';
import { encodeFrameRequest } from '../../src/protocol/frame-encoder.js';
import { FrameResponseDecoder } from '../../src/protocol/frame-response-decoder.js';

/** Printed text as a PNG (DejaVu Sans ships with the machines). */
async function textPng(lines: string[], size = 56): Promise<Buffer> {
  const height = 60 + lines.length * size * 1.6;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="720" height="${height}"><rect width="100%" height="100%" fill="white"/>${lines
    .map((l, i) => `<text x="40" y="${40 + (i + 1) * size * 1.4}" font-family="DejaVu Sans" font-size="${size}" fill="black">${l}</text>`)
    .join('')}</svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

/** Writes raw bytes, half-closes, and decodes every response frame the daemon sends back. */
async function rawExchange(port: number, bytes: Buffer) {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await once(socket, 'connect');
  const decoder = new FrameResponseDecoder();
  const responses: Array<Record<string, unknown>> = [];
  socket.on('data', (c: Buffer) => {
    for (const item of decoder.push(c)) if (item.type === 'response') responses.push(JSON.parse(item.json.toString()));
  });
  socket.end(bytes);
  await once(socket, 'close');
  return responses;
}

const frame = (json: object, payload?: Uint8Array) => Buffer.concat(encodeFrameRequest(json, payload));
const rawFrame = (jsonText: string, payload: Uint8Array = Buffer.alloc(0)) => {
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(jsonText)));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(payload.length));
  return Buffer.concat([head, Buffer.from(jsonText), len, payload]);
};

// One daemon with inference for every case that does not need its own
// configuration: loading the OCR models is most of a start.
let shared: Promise<Harness> | undefined;
const sharedDaemon = (): Promise<Harness> => (shared ??= startDaemon(t, {}, { inference: true }));

t.test('OCR over TCP: printed text is read exactly, with boxes and crops', async (t) => {
  const h = await sharedDaemon();
  const client = await FramedClient.connect({ port: h.port });
  t.teardown(() => client.close());
  const r = await client.process(await textPng(['MOSAICD 2026', 'HELLO WORLD']), { camera: 2, requestId: 1001 });
  t.equal(r.json.success, true, JSON.stringify(r.json.error));
  t.equal(r.json.request_id, 1001);
  t.same(r.json.results.map((x) => x.class_name), ['MOSAICD 2026', 'HELLO WORLD']);
  for (const [i, res] of r.json.results.entries()) {
    t.match(res, { result_index: i, camera_number: 2, image_index: i, image_format: 'png', image_mode: 'RGB', text_angle: 0 });
    t.ok((res.score as number) > 0.8);
    t.equal((res.box as number[][]).length, 4);
    const meta = await sharp(r.images[i]!).metadata();
    t.same([meta.width, meta.height], [res.image_width, res.image_height], 'the crop PNG is the size the JSON says');
    t.equal(r.images[i]!.length, res.image_length);
  }
  const blank = await client.process(await sharp({ create: { width: 320, height: 200, channels: 3, background: 'white' } }).png().toBuffer());
  t.match(blank.json, { success: true, result_count: 0, results: [] }, 'a blank image: success, no results');
});

t.test('every error case answers with its code and the stream stays in sync', async (t) => {
  const h = await sharedDaemon();
  const png = await textPng(['OK']);
  const bytes = Buffer.concat([
    rawFrame('{"command":"process","request_id":1,"camera_number":true}', png),
    rawFrame('not json', png),
    rawFrame('[1,2,3]'),
    rawFrame('{"command":"fly","request_id":"x"}'),
    frame({ command: 'process', request_id: 5 }, png),
    frame({ command: 'process', request_id: 6, camera_number: -1 }, png),
    frame({ command: 'process', request_id: 7, camera_number: 0 }),
    frame({ command: 'process', request_id: 8, camera_number: 0 }, Buffer.from('definitely not an image')),
    frame({ command: 'process', request_id: 9, camera_number: 0, model: 'nope' }, png),
    frame({ command: 'render', request_id: 10, tile: '3_8_0' }),
    frame({ command: 'ping', request_id: 11 }),
  ]);
  const responses = await rawExchange(h.port, bytes);
  t.equal(responses.length, 11, 'one answer per request');
  const codes = responses.map((r) => (r.error as { code: string } | null)?.code ?? 'ok');
  t.same(codes, ['PROTOCOL_ERROR', 'PROTOCOL_ERROR', 'PROTOCOL_ERROR', 'PROTOCOL_ERROR', 'PROTOCOL_ERROR', 'PROTOCOL_ERROR', 'PROTOCOL_ERROR', 'PROTOCOL_ERROR', 'PROTOCOL_ERROR', 'PROTOCOL_ERROR', 'ok']);
  t.same(responses.map((r) => r.request_id), [1, null, null, 'x', 5, 6, 7, 8, 9, 10, 11], 'request ids echoed where they could be read');
  for (const r of responses.slice(0, 10)) t.match(r, { success: false, result_count: 0, results: [] });
});

t.test('a length over the limit is answered TOO_LARGE, then the connection closes', async (t) => {
  const h = await startDaemon(t, { maxFrameJsonBytes: 1024 });
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(1025n);
  const responses = await rawExchange(h.port, Buffer.concat([head, Buffer.alloc(64)]));
  t.equal(responses.length, 1);
  t.match(responses[0], { success: false, error: { code: 'TOO_LARGE' } });
  t.ok(await h.client.ping(), 'the daemon still serves new connections');
});

t.test('pipelined requests come back in request order', async (t) => {
  const h = await sharedDaemon();
  const bytes = Buffer.concat([
    frame({ command: 'render', request_id: 'a', tile: '4_3_5' }),
    frame({ command: 'ping', request_id: 'b' }),
    frame({ command: 'render', request_id: 'c', tile: '2_1_1' }),
    frame({ command: 'stats', request_id: 'd' }),
    frame({ command: 'viewport', request_id: 'e', z: 4, min_x: 0, min_y: 0, max_x: 3, max_y: 3 }),
    frame({ command: 'render', request_id: 'f', tile: '4_3_5' }),
  ]);
  const responses = await rawExchange(h.port, bytes);
  t.same(responses.map((r) => r.request_id), ['a', 'b', 'c', 'd', 'e', 'f']);
  t.ok(responses.every((r) => r.success === true));
  t.match(responses[0]!.results, [{ class_name: '4_3_5', image_width: 256, image_height: 256 }]);
});

t.test('a framed client and a line client share the port at once', async (t) => {
  const h = await sharedDaemon();
  const framed = await FramedClient.connect({ port: h.port });
  t.teardown(() => framed.close());
  const [rendered] = await Promise.all([framed.render('5_16_11'), h.client.request(['5_17_11'], { barrier: true })]);
  t.equal(rendered.json.success, true);
  const png = await sharp(rendered.images[0]!).metadata();
  t.same([png.width, png.height], [256, 256]);
  await h.listener!.waitFor(['5_17_11']);
});

t.test('stdio mode: a real child process whose stdout carries only frames', async (t) => {
  const tilesDir = await tempDir(t);
  const child = spawn(process.execPath, [BIN, 'stdio', '--tiles-dir', tilesDir, '--log-level', 'debug'], { stdio: ['pipe', 'pipe', 'pipe'] });
  t.teardown(() => child.kill('SIGKILL'));
  const stdout: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => stdout.push(c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  child.stdin.end(
    Buffer.concat([
      frame({ command: 'ping', request_id: 1 }),
      frame({ command: 'process', request_id: 2, camera_number: 0 }, await textPng(['HELLO WORLD'])),
      frame({ command: 'render', request_id: 3, tile: '1_0_0' }),
      rawFrame('{"command":"process","request_id":4,"camera_number":false}', Buffer.from([1])),
    ]),
  );
  const [code] = (await once(child, 'exit')) as [number];
  t.equal(code, 0, `EOF on stdin: exit 0\n${stderr}`);
  // Parse stdout completely: it must be exactly four frames and nothing else.
  const decoder = new FrameResponseDecoder();
  const items = [...decoder.push(Buffer.concat(stdout)), ...decoder.end()];
  t.same(items.map((i) => i.type), ['response', 'response', 'response', 'response'], 'nothing but frames on stdout');
  const json = items.map((i) => (i.type === 'response' ? JSON.parse(i.json.toString()) : null));
  t.same(json.map((j) => j.request_id), [1, 2, 3, 4]);
  t.equal(json[1].results[0].class_name, 'HELLO WORLD');
  t.equal(json[2].results[0].class_name, '1_0_0');
  t.equal(json[3].error.code, 'PROTOCOL_ERROR');
  t.match(stderr, /"level":/, 'the logs went to stderr');
});

t.test('stdio mode: shutdown answers, then the process exits 0', async (t) => {
  const client = FramedClient.spawn(process.execPath, [BIN, 'stdio', '--no-inference', '--log-level', 'warn']);
  const r = await client.shutdown();
  t.match(r.json, { success: true, result_count: 0, results: [], shutdown: true, error: null });
  t.equal(await client.exited(), 0);
});
