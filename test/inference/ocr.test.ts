import t from 'tap';
import sharp from 'sharp';
import { DEFAULT_MODELS_DIR, OcrPipeline, loadModelConfig, type InferenceResult } from '../../src/inference/index.js';
import { MAX_INPUT_PIXELS } from '../../src/limits.js';
import { textPng } from './fixtures/images.js';

// The in-process pipeline (what each worker runs), with the real PP-OCRv4 models.
const config = loadModelConfig(`${DEFAULT_MODELS_DIR}/ocr/model.json`, 'ocr');
if (config.kind !== 'ocr') throw new Error('models/ocr is not an ocr model');
const ocr = await OcrPipeline.load(config, { intraOpThreads: 1, allowSpinning: false, maxBatch: 8, maxBatchDelayMs: 2, maxInputPixels: MAX_INPUT_PIXELS });
t.teardown(() => ocr.close());

const PARAGRAPH = ['Gate 4 open', 'Shift ends 18:00', 'Main road'];
const texts = (r: InferenceResult[]) => r.map((x) => x.className);

t.test('MOSAICD 2026 and HELLO WORLD are read exactly, with box, angle and crop', async (t) => {
  for (const phrase of ['MOSAICD 2026', 'HELLO WORLD']) {
    const results = await ocr.run(await textPng([phrase]));
    t.same(texts(results), [phrase]);
    const [r] = results;
    t.ok(r!.score >= 0.5 && r!.score <= 1, `score ${r!.score}`);
    t.equal(r!.mode, 'RGB');
    t.equal(r!.extra.text_angle, 0);
    const box = r!.extra.box as [number, number][];
    t.equal(box.length, 4);
    t.ok(box.every(([x, y]) => x >= 0 && x < 640 && y >= 0 && y < 480), 'box inside the image');
    t.ok(box[1]![0] - box[0]![0] > 3 * (box[3]![1] - box[0]![1]), 'a wide, horizontal box');
    const meta = await sharp(r!.png).metadata();
    t.same([meta.format, meta.width, meta.height, meta.channels], ['png', r!.width, r!.height, 3]);
  }
});

t.test('a three-line paragraph is read line by line in reading order', async (t) => {
  const results = await ocr.run(await textPng(PARAGRAPH));
  t.same(texts(results), PARAGRAPH);
  const tops = results.map((r) => (r.extra.box as number[][])[0]![1]!);
  t.ok(tops[0]! < tops[1]! && tops[1]! < tops[2]!, 'top to bottom');
});

t.test('text rotated 180° is read through the direction classifier', async (t) => {
  const line = await ocr.run(await sharp(await textPng(['MOSAICD 2026'])).rotate(180).png().toBuffer());
  t.same(texts(line), ['MOSAICD 2026']);
  t.equal(line[0]!.extra.text_angle, 180);
  // Reading order is the rotated image's: its top line is the paragraph's last.
  const para = await ocr.run(await sharp(await textPng(PARAGRAPH)).rotate(180).png().toBuffer());
  t.same(texts(para), [...PARAGRAPH].reverse());
  t.same(para.map((r) => r.extra.text_angle), [180, 180, 180]);
});

t.test('a blank image gives no results', async (t) => {
  const blank = await sharp({ create: { width: 640, height: 480, channels: 3, background: 'white' } }).png().toBuffer();
  t.same(await ocr.run(blank), []);
  const black = await sharp({ create: { width: 64, height: 20, channels: 3, background: 'black' } }).png().toBuffer();
  t.same(await ocr.run(black), []);
});

t.test('grayscale, RGBA (transparent background), JPEG, WebP and TIFF inputs', async (t) => {
  const png = await textPng(PARAGRAPH);
  const grey = await sharp(png).toColourspace('b-w').png().toBuffer();
  t.equal((await sharp(grey).metadata()).channels, 1);
  t.same(texts(await ocr.run(grey)), PARAGRAPH, 'grayscale');
  const rgba = await textPng(PARAGRAPH, { background: 'none' });
  t.equal((await sharp(rgba).metadata()).channels, 4);
  t.same(texts(await ocr.run(rgba)), PARAGRAPH, 'RGBA');
  t.same(texts(await ocr.run(await sharp(png).jpeg({ quality: 85 }).toBuffer())), PARAGRAPH, 'JPEG');
  t.same(texts(await ocr.run(await sharp(png).webp().toBuffer())), PARAGRAPH, 'WebP');
  t.same(texts(await ocr.run(await sharp(png).tiff().toBuffer())), PARAGRAPH, 'TIFF');
});

t.test('an EXIF-rotated JPEG is read upright, boxes in displayed pixels', async (t) => {
  // Stored turned 90° counter-clockwise; orientation 6 says "turn clockwise to display".
  const jpeg = await sharp(await textPng(['HELLO WORLD'])).rotate(-90).jpeg().withMetadata({ orientation: 6 }).toBuffer();
  t.same([(await sharp(jpeg).metadata()).width, (await sharp(jpeg).metadata()).orientation], [480, 6]);
  const results = await ocr.run(jpeg);
  t.same(texts(results), ['HELLO WORLD']);
  const box = results[0]!.extra.box as [number, number][];
  t.ok(box.every(([x, y]) => x < 640 && y < 480) && box[1]![0] - box[0]![0] > 200, 'box in the 640×480 displayed frame');
  t.equal(results[0]!.extra.text_angle, 0);
});
