// The gRPC wire with real Python clients (Debian's python3-grpcio under
// /usr/bin/python3, stubs generated here with protoc): mosaicd.v1.Vision
// Process and Stream on the shipped OCR model, cancellation, seed 002's own
// Client.py, the health service, and the message size limit.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FramedClient } from '../../src/client/framed-client.js';
import { textPng } from '../inference/fixtures/images.js';
import { startDaemon, tempDir } from '../helpers/daemon.js';
import { exitCodeOf, waitForOutput } from '../helpers/processes.js';
import { run } from '../clients/fixtures/helpers.js';
import { FIXTURES, PROTO, PYTHON, generateStubs, jsonLines as lines, requirePythonGrpc, visionClient } from './fixtures/python-stubs.js';

/** Small enough that a test message can exceed it, large enough for every OCR frame here. */
const MAX_MESSAGE_BYTES = 1024 * 1024;

interface PyResult {
  request_id: string;
  success: boolean;
  error: { code: string; message: string } | null;
  model: string;
  camera_number: number;
  results: Array<{ class_name: string; score: number; image_png: boolean; image_width: number; image_height: number; box: number[][] }>;
}

t.test('Python gRPC clients against a real daemon', async (t) => {
  if (!requirePythonGrpc(t)) return;
  const dir = await tempDir(t, 'mosaicd-grpc-py-');
  const stubs = path.join(dir, 'stubs');
  await generateStubs(t, stubs);

  const h = await startDaemon(t, { grpcPort: 0, inferenceWorkers: 1, grpcMaxMessageBytes: MAX_MESSAGE_BYTES }, { inference: true });
  const grpcPort = String(h.daemon.grpcPort());
  const env = { ...process.env, MOSAICD_GRPC_STUBS: stubs, PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1' };
  const py = (args: string[]) => visionClient(t, stubs, args);

  const hello = path.join(dir, 'hello.png');
  const mosaic = path.join(dir, 'mosaic.png');
  await writeFile(hello, await textPng(['HELLO WORLD']));
  await writeFile(mosaic, await textPng(['MOSAICD 2026']));

  await t.test('Process: one frame, its text, crops as PNG, boxes, request_id echoed', async (t) => {
    const r = await py(['process', grpcPort, hello, 'p-1']);
    t.equal(r.code, 0, 'the client exits 0', { output: r.output });
    const [result] = lines(r.stdout) as unknown as PyResult[];
    t.match(result, { request_id: 'p-1', success: true, error: null, model: 'ocr', camera_number: 1 });
    t.same(result!.results.map((x) => x.class_name), ['HELLO WORLD']);
    t.ok(result!.results[0]!.image_png && result!.results[0]!.image_width > 0, 'the crop is a PNG with its size');
    t.equal(result!.results[0]!.box.length, 4, 'the box has four corners');
  });

  await t.test('Stream: results tagged with their request_ids; a bad frame gets PROTOCOL_ERROR and the stream goes on', async (t) => {
    const frames = [
      { request_id: 's-1', camera: 2, image: hello },
      { request_id: 's-2', camera: 2, bytes: 'this is not an image' },
      { request_id: 's-3', camera: 2, image: mosaic },
      { request_id: 's-4', camera: 2, image: hello },
    ];
    const r = await py(['stream', grpcPort, JSON.stringify(frames)]);
    t.equal(r.code, 0, 'the stream ends with OK', { output: r.output });
    const byId = new Map((lines(r.stdout) as unknown as PyResult[]).map((x) => [x.request_id, x]));
    t.same([...byId.keys()].sort(), ['s-1', 's-2', 's-3', 's-4'], 'one result per frame');
    t.match(byId.get('s-2'), { success: false, error: { code: 'PROTOCOL_ERROR', message: /could not be decoded/ }, results: [] });
    t.same(byId.get('s-1')?.results.map((x) => x.class_name), ['HELLO WORLD']);
    t.same(byId.get('s-3')?.results.map((x) => x.class_name), ['MOSAICD 2026']);
    t.same(byId.get('s-4')?.results.map((x) => x.class_name), ['HELLO WORLD'], 'the frame after the bad one is served');
  });

  await t.test('a cancelled Stream cancels its queued frames', async (t) => {
    const ocr = () => ((h.daemon.stats().inference as { models: Record<string, { requests: number }> }).models['ocr']?.requests ?? 0);
    const before = ocr();
    const count = 12;
    const r = await py(['cancel', grpcPort, hello, String(count)]);
    t.equal(r.code, 0, 'the client exits 0', { output: r.output });
    const out = lines(r.stdout);
    t.match(out[0], { first: { success: true } }, 'one result arrived before the cancel');
    t.match(out.at(-1), { cancelled: true, received: 1 }, 'the client saw CANCELLED');
    // Wait (on state, not on a clock) until the lane has nothing queued or running.
    for (;;) {
      const lane = h.daemon.stats().inference as { queued: number; running: number };
      if (lane.queued === 0 && lane.running === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const ran = ocr() - before;
    t.ok(ran < count, `only ${ran} of the ${count} frames reached the model`);
    const metrics = await h.daemon.metrics.scrape();
    t.match(metrics, /mosaicd_grpc_calls_total\{method="\/mosaicd\.v1\.Vision\/Stream",code="CANCELLED"\} 1/, '/metrics counts the cancelled call');
    t.match(metrics, /mosaicd_grpc_calls_in_flight\{method="\/mosaicd\.v1\.Vision\/Stream"\} 0/, 'and no call is left in flight');
  });

  await t.test("seed 002's Client.py gets the frame a camera host sent over the framed protocol", async (t) => {
    const seed = path.join(dir, 'seed002');
    await run(t, 'mkdir', ['-p', seed]);
    const client = (await readFile(path.join(FIXTURES, 'seed002', 'Client.py'), 'utf8')).replace("'127.0.0.1:50051'", `'127.0.0.1:${grpcPort}'`);
    t.ok(client.includes(`'127.0.0.1:${grpcPort}'`), 'only the port is changed');
    await writeFile(path.join(seed, 'Client.py'), client);
    // The seed's proto as it is: the stubs are generated from our shipped copy of it.
    const genSeed = await run(t, 'protoc', [`-I${PROTO}`, `--python_out=${seed}`, `--grpc_out=${seed}`, '--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin', path.join(PROTO, 'Datas.proto')]);
    t.equal(genSeed.code, 0, 'protoc generates Datas_pb2 and Datas_pb2_grpc', { output: genSeed.output });
    if (spawnSync(PYTHON, ['-c', 'import cv2']).status !== 0) {
      // No python3-opencv here: a stand-in checks the JPEG instead of showing it (fixtures/seed002/cv2_standin.py).
      await copyFile(path.join(FIXTURES, 'seed002', 'cv2_standin.py'), path.join(seed, 'cv2.py'));
    }
    const child = spawn(PYTHON, ['Client.py'], { cwd: seed, env: { ...env, CV2_STANDIN_FRAMES: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    t.teardown(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    // Camera 0 has sent nothing yet: the client is told so, prints it and asks again.
    await waitForOutput(child.stdout, 'camera 0 has sent no frame yet');
    const framed = await FramedClient.connect({ port: h.port });
    t.teardown(() => framed.close());
    const sent = await framed.process(await textPng(['CAMERA ZERO'], { width: 320, height: 240 }), { camera: 0, requestId: 'cam-0' });
    t.equal(sent.json.success, true, 'the camera host got its own result', { json: sent.json });
    const code = await exitCodeOf(child);
    t.equal(code, 0, 'the seed client exits 0 after showing a frame', { stdout, stderr });
    const shown = lines(stdout.split('\n').filter((l) => l.startsWith('{')).join('\n'));
    t.same(shown.at(-1), { shown: 'Capture Image', width: 320, height: 240 }, 'it decoded a 320×240 JPEG from base64');
  });

  await t.test('health: SERVING for the server, Vision and MainServer', async (t) => {
    for (const service of ['', 'mosaicd.v1.Vision', 'MainServer']) {
      const r = await py(['health', grpcPort, service]);
      t.equal(r.code, 0, `checked ${JSON.stringify(service)}`, { output: r.output });
      t.same(lines(r.stdout)[0], { status: 'SERVING' }, `${JSON.stringify(service)} is SERVING`);
    }
  });

  await t.test('a message over --grpc-max-message-bytes gets RESOURCE_EXHAUSTED; the next call is served', async (t) => {
    const r = await py(['oversize', grpcPort, String(MAX_MESSAGE_BYTES + 1024), hello]);
    t.equal(r.code, 0, 'the client exits 0', { output: r.output });
    const [refused, after] = lines(r.stdout);
    t.match(refused, { oversize: 'RESOURCE_EXHAUSTED' });
    t.match(after, { after: { request_id: 'after', success: true, results: [{ class_name: 'HELLO WORLD' }] } });
  });
});
