// Issue 10 over gRPC: the shipped detect → classify pipeline
// (`text-line-direction`), routed to camera 5, answered to a real Python
// client (Debian's python3-grpcio) on Vision/Process and Vision/Stream.
import t, { type Test } from 'tap';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { textPng } from '../inference/fixtures/images.js';
import { startDaemon, tempDir } from '../helpers/daemon.js';
import { generateStubs, jsonLines, requirePythonGrpc, visionClient } from './fixtures/python-stubs.js';

interface PyDetection {
  class_name: string;
  score: number;
  image_png: boolean;
  image_width: number;
  image_height: number;
  box: number[][];
  extra: { detector_class?: string; detector_score?: number; classifier_class?: string; classifier_score?: number };
  image_base64: string;
}
interface PyResult {
  request_id: string;
  success: boolean;
  error: { code: string; message: string } | null;
  model: string;
  camera_number: number;
  results: PyDetection[];
}

/** The fields every pipeline result carries, and its crop PNG decoded back at its reported size. */
async function checkPipelineResult(t: Test, r: PyResult | undefined, name: string): Promise<PyDetection[]> {
  t.match(r, { success: true, error: null, model: 'text-line-direction', camera_number: 5 }, `${name}: camera 5 is routed to the pipeline`);
  const results = r?.results ?? [];
  for (const [i, d] of results.entries()) {
    const meta = await sharp(Buffer.from(d.image_base64, 'base64')).metadata();
    t.same([meta.format, meta.width, meta.height], ['png', d.image_width, d.image_height], `${name} result ${i}: the crop PNG decodes at its reported size`);
    t.equal(d.box.length, 4, `${name} result ${i}: a four-corner box`);
    t.equal(d.extra.detector_class, 'text', `${name} result ${i}: the detector's class`);
    t.ok(d.extra.detector_score! >= 0.6 && d.extra.detector_score! <= 1, `${name} result ${i}: the detector's score (${String(d.extra.detector_score)})`);
    t.equal(d.extra.classifier_class, d.class_name, `${name} result ${i}: class_name is the classifier's class`);
    t.equal(d.extra.classifier_score, d.score, `${name} result ${i}: score is the classifier's score`);
  }
  return results;
}

t.test('detect → classify over gRPC from a Python client', async (t) => {
  if (!requirePythonGrpc(t)) return;
  const dir = await tempDir(t, 'mosaicd-grpc-pipeline-');
  const stubs = path.join(dir, 'stubs');
  await generateStubs(t, stubs);
  const h = await startDaemon(t, { grpcPort: 0, inferenceWorkers: 1, cameraModels: { '5': 'text-line-direction' } }, { inference: true });
  const port = String(h.daemon.grpcPort());

  const upright = path.join(dir, 'upright.png');
  const flipped = path.join(dir, 'flipped.png');
  await writeFile(upright, await textPng(['HELLO WORLD']));
  await writeFile(flipped, await sharp(await textPng(['MOSAICD 2026'])).rotate(180).png().toBuffer());

  await t.test('Process: an upside-down text line yields classifier class 180, an upright one 0', async (t) => {
    const down = await visionClient(t, stubs, ['process', port, flipped, 'down', '5']);
    t.equal(down.code, 0, 'the client exits 0', { output: down.output });
    const [downResult] = jsonLines(down.stdout) as unknown as PyResult[];
    t.equal(downResult?.request_id, 'down');
    const downs = await checkPipelineResult(t, downResult, 'flipped');
    t.same(downs.map((d) => d.class_name), ['180'], 'one line, upside down');
    t.ok(downs[0]!.score > 0.9, `confident (${downs[0]?.score})`);

    const up = await visionClient(t, stubs, ['process', port, upright, 'up', '5']);
    t.equal(up.code, 0, 'the client exits 0', { output: up.output });
    const ups = await checkPipelineResult(t, (jsonLines(up.stdout) as unknown as PyResult[])[0], 'upright');
    t.same(ups.map((d) => d.class_name), ['0'], 'one line, upright');
  });

  await t.test('Stream: both frames on one call, each answered with its own request_id and class', async (t) => {
    const frames = [
      { request_id: 's-down', camera: 5, image: flipped },
      { request_id: 's-up', camera: 5, image: upright },
    ];
    const r = await visionClient(t, stubs, ['stream', port, JSON.stringify(frames)]);
    t.equal(r.code, 0, 'the stream ends with OK', { output: r.output });
    const byId = new Map((jsonLines(r.stdout) as unknown as PyResult[]).map((x) => [x.request_id, x]));
    t.same([...byId.keys()].sort(), ['s-down', 's-up'], 'one result per frame');
    t.same((await checkPipelineResult(t, byId.get('s-down'), 's-down')).map((d) => d.class_name), ['180'], 's-down: upside down');
    t.same((await checkPipelineResult(t, byId.get('s-up'), 's-up')).map((d) => d.class_name), ['0'], 's-up: upright');
  });
});
