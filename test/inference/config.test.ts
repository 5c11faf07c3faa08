import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_MODELS_DIR, InferenceEngine } from '../../src/inference/index.js';
import { loadModelRepository } from '../../src/inference/config.js';

const shippedOcr = JSON.parse(readFileSync(join(DEFAULT_MODELS_DIR, 'ocr', 'model.json'), 'utf8')) as Record<string, unknown>;
const shippedCls = JSON.parse(readFileSync(join(DEFAULT_MODELS_DIR, 'text-direction', 'model.json'), 'utf8')) as Record<string, unknown>;

type T = { teardown(fn: () => void): void };

function repo(t: T, models: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'mosaicd-models-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, config] of Object.entries(models)) {
    mkdirSync(join(dir, name));
    if (config !== undefined) writeFileSync(join(dir, name, 'model.json'), typeof config === 'string' ? config : JSON.stringify(config));
  }
  return dir;
}

t.test('the shipped repository validates', async (t) => {
  const models = loadModelRepository(DEFAULT_MODELS_DIR);
  t.same([...models.keys()], ['ocr', 'text-direction', 'text-line-direction', 'text-lines']);
  const ocr = models.get('ocr')!;
  t.equal(ocr.kind, 'ocr');
  if (ocr.kind === 'ocr') {
    t.match(ocr.files.det, /ch_PP-OCRv4_det_infer\.onnx$/);
    t.equal(ocr.det.boxThresh, 0.6);
    t.equal(ocr.rec.dropScore, 0.5);
  }
  const cls = models.get('text-direction')!;
  t.equal(cls.kind, 'classifier');
  if (cls.kind === 'classifier') t.same(cls.labels, ['0', '180']);
});

const cases: [string, Record<string, unknown>, RegExp][] = [
  ['unknown kind', { ...shippedCls, kind: 'segmenter' }, /field "kind" must be one of "ocr", "classifier", "detector", "pipeline", got "segmenter"/],
  ['misspelled field', { ...shippedCls, topk: 2 }, /field "topk" is not a known field/],
  ['threshold out of range', { ...shippedOcr, det: { ...(shippedOcr.det as object), boxThresh: 1.5 } }, /field "det.boxThresh" must be a number in 0 .. 1, got 1.5/],
  ['wrong type', { ...shippedOcr, rec: { ...(shippedOcr.rec as object), height: '48' } }, /field "rec.height" must be an integer/],
  ['std of zero', { ...shippedCls, input: { ...(shippedCls.input as object), std: [0.5, 0, 0.5] } }, /field "input.std" must be an array of 3 positive numbers/],
  ['missing file', { ...shippedCls, files: { model: 'nope.onnx' } }, /field "files.model" names .*nope\.onnx, which does not exist/],
  ['path escaping the folder', { ...shippedCls, files: { model: '../../etc/passwd' } }, /field "files.model" must stay inside/],
  ['package not installed', { ...shippedCls, files: { model: { package: '@nobody/no-such-models', path: 'a.onnx' } } }, /field "files.model" names the npm package "@nobody\/no-such-models", which is not installed/],
  ['no labels', { ...shippedCls, labels: undefined }, /field "labels" is required/],
  ['topK above the labels', { ...shippedCls, topK: 3 }, /field "topK" must be an integer in 1 .. 2, got 3/],
  ['missing files', { kind: 'ocr' }, /field "files" is required/],
];

for (const [name, config, message] of cases) {
  t.test(`invalid config: ${name} → CONFIG_ERROR naming the file and field`, async (t) => {
    const dir = repo(t, { mine: config });
    t.throws(() => loadModelRepository(dir), { code: 'CONFIG_ERROR', message: new RegExp(`mine[/\\\\]model\\.json: ${message.source}`) });
  });
}

t.test('bad JSON, a folder without model.json, a bad model name', async (t) => {
  t.throws(() => loadModelRepository(repo(t, { broken: '{"kind": ' })), { code: 'CONFIG_ERROR', message: /broken[/\\]model\.json: not valid JSON/ });
  t.throws(() => loadModelRepository(repo(t, { empty: undefined })), { code: 'CONFIG_ERROR', message: /empty: a model folder needs a model\.json/ });
  t.throws(() => loadModelRepository(repo(t, { 'bad name': shippedCls })), { code: 'CONFIG_ERROR', message: /not a valid model name/ });
});

t.test('InferenceEngine.create validates configs and options before starting workers', async (t) => {
  await t.rejects(InferenceEngine.create({ modelsDir: repo(t, { mine: { ...shippedCls, kind: 'x' } }) }), { code: 'CONFIG_ERROR', message: /mine[/\\]model\.json: field "kind"/ });
  await t.rejects(InferenceEngine.create({ modelsDir: '/nonexistent/models' }), { code: 'CONFIG_ERROR', message: /does not exist/ });
  await t.rejects(InferenceEngine.create({ preload: ['nope'] }), { code: 'CONFIG_ERROR', message: /preload names model "nope"/ });
  await t.rejects(InferenceEngine.create({ workers: 0 }), { code: 'CONFIG_ERROR', message: /workers must be an integer/ });
});
