/**
 * Issue 10 over multiprocessing.connection: the shipped detect → classify
 * pipeline (`text-line-direction`), routed to camera 3, answered to a real
 * seed 003/004-style Python client (pyenv python3 + numpy) sending a numpy
 * BGR frame with `camera_number`, double-pickled.
 */
import t, { type Test } from 'tap';
import sharp from 'sharp';
import { startDaemon, tempDir } from '../helpers/daemon.js';
import { textPng } from '../inference/fixtures/images.js';
import { frameFiles, type FrameFiles } from './fixtures/frames.js';
import { script } from './fixtures/python.js';

interface PipelineResult {
  class_name: string;
  score: number;
  box: number[];
  polygon: number[][];
  detector_class: string;
  detector_score: number;
  classifier_class: string;
  classifier_score: number;
}
interface Reply {
  frame_num: unknown;
  camera_number: unknown;
  model?: string;
  results: PipelineResult[];
  error: null | { code: string; message: string };
}

const h = await startDaemon(t, { mpPort: 0, inferenceWorkers: 1, cameraModels: { '3': 'text-line-direction' } }, { inference: true, listener: false });
const port = h.daemon.mpAddress()!.port;

/** Sends `files` as seed_clients.py's 'camera-route' frame (frame_num 14, camera 3) and checks the pipeline's fields. */
async function send(t: Test, files: FrameFiles): Promise<PipelineResult[]> {
  const run = await script('seed_clients.py', [JSON.stringify({ port, ...files, scenarios: ['camera-route'] })]);
  t.equal(run.code, 0, 'the client exits 0', { stderr: run.stderr });
  const r = (JSON.parse(run.stdout) as Record<string, Reply>)['camera-route']!;
  t.match(r, { frame_num: 14, camera_number: 3, model: 'text-line-direction', error: null }, 'camera 3 is routed to the pipeline');
  for (const [i, x] of r.results.entries()) {
    t.equal(x.box.length, 4, `result ${i}: box [x, y, w, h]`);
    const [bx, by, bw, bh] = x.box as [number, number, number, number];
    t.ok(bx >= 0 && by >= 0 && bw > 0 && bh > 0 && bx + bw <= files.width + 1 && by + bh <= files.height + 1, `result ${i}: the box lies in the frame (${x.box.join(', ')})`);
    t.equal(x.polygon.length, 4, `result ${i}: the detector's quad kept as polygon`);
    t.equal(x.detector_class, 'text', `result ${i}: the detector's class`);
    t.ok(x.detector_score >= 0.6 && x.detector_score <= 1, `result ${i}: the detector's score (${x.detector_score})`);
    t.equal(x.classifier_class, x.class_name, `result ${i}: class_name is the classifier's class`);
    t.equal(x.classifier_score, x.score, `result ${i}: score is the classifier's score`);
  }
  return r.results;
}

t.test('a numpy BGR frame of an upside-down text line yields classifier class 180; an upright one 0', async (t) => {
  const dir = await tempDir(t);
  const flipped = await frameFiles(dir, await sharp(await textPng(['MOSAICD 2026'])).rotate(180).png().toBuffer(), 'flipped');
  const down = await send(t, flipped);
  t.same(down.map((x) => x.class_name), ['180'], 'one line, upside down');
  t.ok(down[0]!.score > 0.9, `confident (${down[0]?.score})`);
  const upright = await frameFiles(dir, await textPng(['HELLO WORLD']), 'upright');
  t.same((await send(t, upright)).map((x) => x.class_name), ['0'], 'one line, upright');
});
