import t, { type Test } from 'tap';
import sharp from 'sharp';
import { DEFAULT_MODELS_DIR, DetectClassifyPipeline, loadModelRepository } from '../../src/inference/index.js';
import type { PipelineOptions } from '../../src/inference/types.js';
import { MAX_INPUT_PIXELS } from '../../src/limits.js';
import { textPng } from './fixtures/images.js';

// The shipped text-line-direction pipeline in-process (what each worker runs).
const shipped = loadModelRepository(DEFAULT_MODELS_DIR).get('text-line-direction')!;
if (shipped.kind !== 'pipeline') throw new Error('models/text-line-direction is not a pipeline');
const config = shipped;

async function load(t: Test, options: Partial<PipelineOptions>, batches: number[]): Promise<DetectClassifyPipeline> {
  const p = await DetectClassifyPipeline.load(config, {
    intraOpThreads: 1, allowSpinning: false, maxBatch: 1, maxBatchDelayMs: 10_000, maxInputPixels: MAX_INPUT_PIXELS,
    onBatch: (n) => batches.push(n), ...options,
  });
  t.teardown(() => p.close());
  return p;
}

const upright = await textPng(['HELLO WORLD']);
const flipped = await sharp(await textPng(['MOSAICD 2026'])).rotate(180).png().toBuffer();

t.test('with cross-request batching on, the crops of two concurrent requests share one classifier run', async (t) => {
  const batches: number[] = [];
  const p = await load(t, { maxBatch: 8 }, batches);
  const [a, b] = await Promise.all([p.run(upright), p.run(flipped)]);
  t.same([a.map((r) => r.className), b.map((r) => r.className)], [['0'], ['180']]);
  t.same(batches, [2], 'one run of two crops (no wait: the batch closed when both requests had queued theirs)');
});

t.test('with it off, each request\'s crops run on their own', async (t) => {
  const batches: number[] = [];
  const p = await load(t, { maxBatch: 1 }, batches);
  const [a, b] = await Promise.all([p.run(upright), p.run(flipped)]);
  t.same([a.map((r) => r.className), b.map((r) => r.className)], [['0'], ['180']]);
  t.same(batches, [1, 1]);
});

t.test('an image without text yields no results, not an error', async (t) => {
  const p = await load(t, {}, []);
  const blank = await sharp({ create: { width: 320, height: 240, channels: 3, background: 'white' } }).png().toBuffer();
  t.same(await p.run(blank), []);
});
