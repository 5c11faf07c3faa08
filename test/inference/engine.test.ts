import t from 'tap';
import sharp from 'sharp';
import { InferenceEngine, type InferenceResult } from '../../src/inference/index.js';
import { pngBomb, textPng } from './fixtures/images.js';

// Through the worker threads, with the real models.
// A long batch delay makes batching deterministic: a batch then closes when every
// request the worker holds has queued its crops (a lone request never waits).
const engine = await InferenceEngine.create({ workers: 1, intraOpThreads: 1, maxBatch: 8, maxBatchDelayMs: 5000, jobsPerWorker: 4, preload: ['ocr'] });
t.teardown(() => engine.close());
await engine.whenReady();

const texts = (r: InferenceResult[]) => r.map((x) => x.className);
type ModelStat = { requests: number; errors: number; batches: number; maxBatchSize: number; errorsByCode: Record<string, number> };
const stat = (model: string) => engine.stats()[model] as ModelStat;

t.test('models, readiness, a request through a worker', async (t) => {
  t.same(engine.modelNames(), ['ocr', 'text-direction', 'text-line-direction', 'text-lines']);
  t.ok(engine.hasModel('ocr'));
  t.notOk(engine.hasModel('nope'));
  t.ok(engine.ready());
  const results = await engine.process('ocr', await textPng(['MOSAICD 2026']));
  t.same(texts(results), ['MOSAICD 2026']);
  t.ok(results[0]!.png instanceof Uint8Array);
  t.equal((await sharp(results[0]!.png).metadata()).width, results[0]!.width);
  t.same(Object.keys(results[0]!.extra).sort(), ['box', 'text_angle']);
});

t.test('bad input: garbage, a decompression bomb, an empty payload, an unknown model', async (t) => {
  await t.rejects(engine.process('ocr', new TextEncoder().encode('definitely not an image')), { code: 'PROTOCOL_ERROR', message: /could not be decoded/ });
  await t.rejects(engine.process('ocr', pngBomb(50_000, 50_000)), { code: 'TOO_LARGE', message: /50000×50000 .* it was not decoded/ });
  await t.rejects(engine.process('ocr', new Uint8Array(0)), { code: 'PROTOCOL_ERROR', message: /empty/ });
  await t.rejects(engine.process('yolo', await textPng(['x'])), { code: 'PROTOCOL_ERROR', message: /unknown model "yolo" \(available: ocr, text-direction, text-line-direction, text-lines\)/ });
  t.match(stat('ocr').errorsByCode, { PROTOCOL_ERROR: 2, TOO_LARGE: 1 });
});

t.test('the classifier kind returns top-k labels with the (preview) image', async (t) => {
  const line = await sharp(await textPng(['HELLO WORLD'])).extract({ left: 100, top: 200, width: 440, height: 80 }).png().toBuffer();
  const upright = await engine.process('text-direction', line);
  t.same(texts(upright), ['0', '180']);
  t.ok(upright[0]!.score > 0.9 && Math.abs(upright[0]!.score + upright[1]!.score - 1) < 1e-4, 'probabilities, best first');
  t.same([upright[0]!.width, upright[0]!.height], [256, 47], 'a preview at most 256 px');
  const flipped = await engine.process('text-direction', await sharp(line).rotate(180).png().toBuffer());
  t.equal(flipped[0]!.className, '180');
});

t.test('concurrent requests are batched and read the same as sequential ones', async (t) => {
  // Two line lengths far apart, so each batched run holds copies of one crop
  // and pads it exactly as a lone request does.
  const images = [await textPng(['MOSAICD 2026']), await textPng(['ALPHA'])];
  const before = stat('ocr');
  const sequential: string[][] = [];
  for (const img of images) sequential.push(texts(await engine.process('ocr', img)));
  t.same(sequential, [['MOSAICD 2026'], ['ALPHA']]);
  t.equal(stat('ocr').maxBatchSize, 1, 'one crop per run so far');
  const batch = Array.from({ length: 8 }, (_, i) => images[i % 2]!);
  const concurrent = (await Promise.all(batch.map((img) => engine.process('ocr', img)))).map(texts);
  t.same(concurrent, batch.map((_, i) => sequential[i % 2]));
  const after = stat('ocr');
  t.ok(after.maxBatchSize > 1, `a batch of ${after.maxBatchSize}`);
  t.ok(after.batches - before.batches < 10, `${after.batches - before.batches} rec runs for 10 requests`);
});

t.test('a request past timeoutMs fails with TIMEOUT and its worker is replaced', async (t) => {
  const slow = await InferenceEngine.create({ workers: 1, timeoutMs: 1 });
  t.teardown(() => slow.close());
  await t.rejects(slow.process('ocr', await textPng(['HELLO'])), { code: 'TIMEOUT', message: /ran longer than 1 ms; its worker was replaced/ });
  t.match(slow.poolStats(), { timeouts: 1, restarts: 1 });
});

t.test('close is idempotent and refuses new work', async (t) => {
  const e = await InferenceEngine.create({ workers: 1 });
  await e.whenReady();
  await Promise.all([e.close(), e.close()]);
  await e.close();
  t.notOk(e.ready());
  await t.rejects(e.process('ocr', await textPng(['HELLO'])), { code: 'SHUTTING_DOWN' });
});
