import t from 'tap';
import sharp from 'sharp';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModelConfig, loadModelRepository, type DetectorModelConfig } from '../../src/inference/config.js';
import { DetectorPipeline } from '../../src/inference/detector-pipeline.js';
import { letterbox, unletterbox } from '../../src/inference/letterbox.js';
import { nms } from '../../src/inference/nms.js';
import { makeImage } from '../../src/inference/raster.js';
import type { PipelineOptions } from '../../src/inference/types.js';
import { configFromArgv } from '../../src/cli/options.js';
import { MAX_DETECTIONS, MAX_INPUT_PIXELS } from '../../src/limits.js';
import { constantModel } from './fixtures/onnx-graph.js';

/**
 * The detector decodes the raw output of a tiny ONNX graph built here (the
 * output is a constant, so the boxes are known) with the real onnxruntime.
 * Model input 640 × 640; the test image is 1280 × 720, so the letterbox
 * scale is 0.5 and the image sits 140 px below the top of the model input.
 *
 * Boxes in model pixels (cx, cy, w, h) and their scores per class [cat, dog]:
 *   A  320, 320, 100, 100  [0.9, 0.0]   → kept: cat 0.9, input box 540,260 – 740,460
 *   B  330, 320, 100, 100  [0.8, 0.0]   → dropped: a cat overlapping A (IoU 0.82)
 *   C  330, 320, 100, 100  [0.0, 0.7]   → kept: a dog overlapping A (another class)
 *   D  100, 100,  50,  50  [0.0, 0.1]   → dropped: below the 0.25 confidence
 */
const LABELS = ['cat', 'dog'];
const BOXES: [number, number, number, number, number, number][] = [
  [320, 320, 100, 100, 0.9, 0.0],
  [330, 320, 100, 100, 0.8, 0.0],
  [330, 320, 100, 100, 0.0, 0.7],
  [100, 100, 50, 50, 0.0, 0.1],
];
const A = { className: 'cat', classIndex: 0, box: [[540, 260], [740, 260], [740, 460], [540, 460]] };
const C = { className: 'dog', classIndex: 1, box: [[560, 260], [760, 260], [760, 460], [560, 460]] };

/** YOLOv8 layout [1, 4 + C, N]: attribute-major. */
function v8Output(): number[] {
  const rows = BOXES.map(([cx, cy, w, h, s0, s1]) => [cx, cy, w, h, s0, s1]);
  const out: number[] = [];
  for (let k = 0; k < 6; k++) for (const r of rows) out.push(r[k]!);
  return out;
}

/** YOLOv5 layout [1, N, 5 + C]: objectness 1 on these rows (score = class score), plus two rows the threshold drops. */
function v5Output(): number[] {
  const rows = BOXES.map(([cx, cy, w, h, s0, s1]) => [cx, cy, w, h, 1, s0, s1]);
  rows.push([200, 200, 40, 40, 0.2, 1, 0]); // objectness under 0.25: skipped before the class scores
  rows.push([400, 400, 40, 40, 0.5, 0, 0.4]); // 0.5 × 0.4 = 0.2 < 0.25
  rows.push([500, 500, 40, 40, 0, 0, 0]);
  return rows.flat();
}

const OPTIONS: PipelineOptions = { intraOpThreads: 1, allowSpinning: false, maxBatch: 1, maxBatchDelayMs: 0, maxInputPixels: MAX_INPUT_PIXELS };

function modelDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'mosaicd-detector-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A detector folder: model.onnx (constant output), labels.txt, model.json. */
function detector(t: { teardown(fn: () => void): void }, output: { dims: number[]; values: number[] }, json: Record<string, unknown> = {}): DetectorModelConfig {
  const dir = modelDir(t);
  writeFileSync(join(dir, 'model.onnx'), constantModel({ dims: [1, 3, 640, 640] }, output));
  writeFileSync(join(dir, 'labels.txt'), `${LABELS.join('\n')}\n`);
  writeFileSync(join(dir, 'model.json'), JSON.stringify({ kind: 'detector', files: { model: 'model.onnx', labels: 'labels.txt' }, ...json }));
  const config = loadModelConfig(join(dir, 'model.json'), 'test-detector');
  if (config.kind !== 'detector') throw new Error('not a detector');
  return config;
}

async function run(t: { teardown(fn: () => void): void }, config: DetectorModelConfig, options: Partial<PipelineOptions> = {}) {
  const pipeline = await DetectorPipeline.load(config, { ...OPTIONS, ...options });
  t.teardown(() => void pipeline.close());
  const image = await sharp({ create: { width: 1280, height: 720, channels: 3, background: '#808080' } }).png().toBuffer();
  return pipeline.run(image);
}

const summary = (results: { className: string; extra: Record<string, unknown> }[]) =>
  results.map((r) => ({ className: r.className, classIndex: r.extra.class_index, box: r.extra.box }));

t.test('YOLOv8 layout [1, 4+C, N]: threshold, class-wise NMS, boxes mapped back through the letterbox of a 1280×720 image', async (t) => {
  const config = detector(t, { dims: [1, 6, 4], values: v8Output() });
  t.equal(config.format, 'auto');
  const results = await run(t, config);
  t.same(summary(results), [A, C], 'A and C kept (best first); B suppressed by A; D under the threshold');
  t.ok(Math.abs(results[0]!.score - 0.9) < 1e-6 && Math.abs(results[1]!.score - 0.7) < 1e-6, 'scores are the class scores');
  const crop = await sharp(results[0]!.png).metadata();
  t.same([crop.width, crop.height, results[0]!.width, results[0]!.height], [200, 200, 200, 200], 'the result image is the 200×200 crop of the box');
});

t.test('YOLOv5 layout [1, N, 5+C]: score = objectness × class score, rows under the threshold dropped', async (t) => {
  const results = await run(t, detector(t, { dims: [1, 7, 7], values: v5Output() }));
  t.same(summary(results), [A, C]);
});

t.test('an explicit format that does not fit the output is a PROCESSING_ERROR naming the shape', async (t) => {
  await t.rejects(run(t, detector(t, { dims: [1, 6, 4], values: v8Output() }, { format: 'yolov5' })), {
    code: 'PROCESSING_ERROR',
    message: /yolov5 output \[1, 6, 4\] does not hold 2 class scores per box/,
  });
});

t.test('confidence, class-agnostic NMS and maxDetections (the model field and the daemon cap)', async (t) => {
  t.same(summary(await run(t, detector(t, { dims: [1, 6, 4], values: v8Output() }, { confidence: 0.75 }))), [A], 'confidence 0.75 keeps only A');
  t.same(summary(await run(t, detector(t, { dims: [1, 6, 4], values: v8Output() }, { classAgnosticNms: true }))), [A], 'class-agnostic NMS also drops the dog');
  t.same(summary(await run(t, detector(t, { dims: [1, 6, 4], values: v8Output() }, { iou: 0.9 }))).map((r) => r.className), ['cat', 'cat', 'dog'], 'IoU 0.9 keeps B');
  t.same(summary(await run(t, detector(t, { dims: [1, 6, 4], values: v8Output() }, { maxDetections: 1 }))), [A], 'maxDetections 1');
  t.same(summary(await run(t, detector(t, { dims: [1, 6, 4], values: v8Output() }), { maxDetections: 1 })), [A], 'the daemon cap (--max-detections) wins over the model default');
  t.equal(detector(t, { dims: [1, 6, 4], values: v8Output() }).maxDetections, MAX_DETECTIONS, 'the default is MAX_DETECTIONS');
  t.equal(configFromArgv({ 'max-detections': 7 }, {}).maxDetections, 7, '--max-detections sets maxDetections');
  t.equal(configFromArgv({}, { MOSAICD_MAX_DETECTIONS: '7' }).maxDetections, 7, 'so does MOSAICD_MAX_DETECTIONS');
});

t.test('a box entirely in the letterbox padding is not reported; one reaching past the image is clamped', async (t) => {
  // Model y 20..80 is padding (the image starts at 140); the second box (model 610..650 × 300..340) runs past the right edge.
  const values = [[320, 50, 100, 60, 0.9, 0], [630, 320, 40, 40, 0, 0.8]];
  const out: number[] = [];
  for (let k = 0; k < 6; k++) for (const r of values) out.push(r[k]!);
  const results = await run(t, detector(t, { dims: [1, 6, 2], values: out }));
  t.same(summary(results), [{ className: 'dog', classIndex: 1, box: [[1220, 320], [1280, 320], [1280, 400], [1220, 400]] }]);
});

t.test('labels: a JSON list file; the input size from config when the model has a dynamic one', async (t) => {
  const dir = modelDir(t);
  writeFileSync(join(dir, 'model.onnx'), constantModel({ dims: [1, 3, 'h', 'w'] }, { dims: [1, 6, 4], values: v8Output() }));
  writeFileSync(join(dir, 'labels.json'), JSON.stringify(LABELS));
  const json = { kind: 'detector', files: { model: 'model.onnx', labels: 'labels.json' } };
  writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
  const dynamic = loadModelConfig(join(dir, 'model.json'), 'dyn') as DetectorModelConfig;
  t.same(dynamic.labels, LABELS);
  await t.rejects(DetectorPipeline.load(dynamic, OPTIONS), { code: 'PROCESSING_ERROR', message: /has no fixed size; set input.width and input.height/ });
  writeFileSync(join(dir, 'model.json'), JSON.stringify({ ...json, input: { width: 640, height: 640 } }));
  t.same(summary(await run(t, loadModelConfig(join(dir, 'model.json'), 'dyn') as DetectorModelConfig)), [A, C]);
});

t.test('letterbox: aspect kept, centred, 114 grey padding; unletterbox maps back and clamps', async (t) => {
  const img = makeImage(4, 2);
  img.data.fill(255);
  const lb = letterbox(img, 4, 4, { scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1], order: 'RGB' }, 114);
  t.same([lb.scale, lb.padX, lb.padY, lb.dims], [1, 0, 1, [1, 3, 4, 4]]);
  const rows = [0, 1, 2, 3].map((y) => lb.data[y * 4]);
  t.same(rows.map((v) => Math.round(v! * 255)), [114, 255, 255, 114], 'rows 0 and 3 are padding');
  t.same(unletterbox([-5, 0, 3, 9], lb, 4, 2), [0, 0, 3, 2], 'clamped to the 4×2 image');
});

t.test('nms keeps the best of overlapping boxes per class and stops at maxDetections', async (t) => {
  const box = (x: number, score: number, classIndex: number) => ({ x1: x, y1: 0, x2: x + 10, y2: 10, score, classIndex });
  const kept = nms([box(0, 0.5, 0), box(1, 0.9, 0), box(1, 0.8, 1), box(50, 0.1, 0)], 0.45, 10);
  t.same(kept.map((k) => [k.x1, k.score]), [[1, 0.9], [1, 0.8], [50, 0.1]]);
  t.equal(nms([box(0, 0.5, 0), box(20, 0.4, 0), box(40, 0.3, 0)], 0.45, 2).length, 2);
});

t.test('pipeline configs: references are checked at load', async (t) => {
  const dir = modelDir(t);
  const write = (name: string, json: unknown) => {
    mkdirSync(join(dir, name), { recursive: true });
    writeFileSync(join(dir, name, 'model.json'), JSON.stringify(json));
  };
  write('cls', { kind: 'classifier', files: { model: 'm.onnx' }, input: { width: 8, height: 8 }, labels: ['a'] });
  writeFileSync(join(dir, 'cls', 'm.onnx'), constantModel({ dims: [1, 3, 8, 8] }, { dims: [1, 1], values: [1] }));
  write('det', { kind: 'detector', files: { model: 'm.onnx' }, labels: ['x'] });
  writeFileSync(join(dir, 'det', 'm.onnx'), constantModel({ dims: [1, 3, 64, 64] }, { dims: [1, 5, 1], values: [1, 1, 1, 1, 1] }));
  write('p', { kind: 'pipeline', detector: 'det', classifier: 'cls' });
  const ok = loadModelRepository(dir).get('p')!;
  t.equal(ok.kind, 'pipeline');
  if (ok.kind === 'pipeline') t.same([ok.detector.name, ok.classifier.name, ok.maxBatch, ok.resultImage.maxSide], ['det', 'cls', 1, 1024]);
  const refuse = (json: unknown, message: RegExp) => {
    write('p', json);
    t.throws(() => loadModelRepository(dir), { code: 'CONFIG_ERROR', message }, String(message));
  };
  refuse({ kind: 'pipeline', detector: 'nope', classifier: 'cls' }, /p.model\.json: field "detector" names the model "nope", which is not in the model repository/);
  refuse({ kind: 'pipeline', detector: 'cls', classifier: 'cls' }, /field "detector" must name a detector model; "cls" is a classifier/);
  refuse({ kind: 'pipeline', detector: 'det', classifier: 'det' }, /field "classifier" must name a classifier model; "det" is a detector/);
  refuse({ kind: 'pipeline', detector: 'det', classifier: 'p' }, /field "classifier" names this pipeline itself/);
  write('q', { kind: 'pipeline', detector: 'det', classifier: 'p' });
  refuse({ kind: 'pipeline', detector: 'det', classifier: 'q' }, /models reference each other in a cycle \(p → q → p\)|field "classifier" must name a classifier model; "q" is a pipeline/);
  rmSync(join(dir, 'q'), { recursive: true });
  refuse({ kind: 'pipeline', detector: 'det', classifier: 'cls', maxBatch: 0 }, /field "maxBatch" must be an integer in 1 .. 1024, got 0/);
  t.throws(() => loadModelConfig(join(dir, 'p', 'model.json'), 'p'), { code: 'CONFIG_ERROR', message: /loaded with its model repository/ });
});

t.test('detector configs: db-only fields and a missing labels list are refused', async (t) => {
  const dir = modelDir(t);
  writeFileSync(join(dir, 'm.onnx'), constantModel({ dims: [1, 3, 64, 64] }, { dims: [1, 5, 1], values: [1, 1, 1, 1, 1] }));
  const load = (json: unknown) => {
    writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
    return () => loadModelConfig(join(dir, 'model.json'), 'd');
  };
  t.throws(load({ kind: 'detector', files: { model: 'm.onnx' } }), { message: /field "labels" is required/ });
  t.throws(load({ kind: 'detector', files: { model: 'm.onnx' }, labels: ['a'], db: {} }), { message: /field "db" is only used with "format": "db"/ });
  t.throws(load({ kind: 'detector', files: { model: 'm.onnx' }, labels: ['a'], iou: 2 }), { message: /field "iou" must be a number in 0 .. 1/ });
  t.same((load({ kind: 'detector', format: 'db', files: { model: 'm.onnx' } })() as DetectorModelConfig).labels, ['text'], 'db: one class, "text" by default');
  t.throws(load({ kind: 'detector', format: 'db', files: { model: 'm.onnx' }, input: { scale: 1 } }), { message: /field "input.scale" is not used with format "db"/ });
});
