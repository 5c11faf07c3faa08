import t from 'tap';
import sharp from 'sharp';
import { decodeImage } from '../../src/inference/decode.js';
import { MAX_INPUT_PIXELS } from '../../src/limits.js';
import { pngBomb } from './fixtures/images.js';

t.test('garbage and empty payloads are PROTOCOL_ERROR', async (t) => {
  await t.rejects(decodeImage(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), MAX_INPUT_PIXELS), {
    code: 'PROTOCOL_ERROR',
    message: /could not be decoded: Input buffer contains unsupported image format/,
  });
  await t.rejects(decodeImage(new Uint8Array(0), MAX_INPUT_PIXELS), { code: 'PROTOCOL_ERROR', message: /empty/ });
  const png = await sharp({ create: { width: 50, height: 50, channels: 3, background: 'white' } }).png().toBuffer();
  await t.rejects(decodeImage(png.subarray(0, 60), MAX_INPUT_PIXELS), { code: 'PROTOCOL_ERROR' }, 'truncated');
  const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>');
  await t.rejects(decodeImage(svg, MAX_INPUT_PIXELS), { code: 'PROTOCOL_ERROR', message: /unsupported image format svg/ });
});

t.test('a decompression bomb is refused from its header', async (t) => {
  const bomb = pngBomb(50_000, 50_000);
  t.ok(bomb.length < 1000, `the bomb is ${bomb.length} bytes`);
  await t.rejects(decodeImage(bomb, MAX_INPUT_PIXELS), {
    code: 'TOO_LARGE',
    message: 'the image is 50000×50000 = 2500000000 pixels, over the limit of 40000000 (maxInputPixels); it was not decoded',
  });
  // Cheap to encode, large once decoded: 10 000 × 5 000 of one colour.
  const big = await sharp({ create: { width: 10_000, height: 5_000, channels: 3, background: 'white' } }).png().toBuffer();
  await t.rejects(decodeImage(big, 1_000_000), { code: 'TOO_LARGE', message: /10000×5000/ });
});

t.test('grayscale, RGBA, 16-bit and JPEG become 8-bit RGB; alpha is flattened onto white', async (t) => {
  const grey = await sharp({ create: { width: 4, height: 2, channels: 3, background: '#404040' } }).toColourspace('b-w').png().toBuffer();
  t.equal((await sharp(grey).metadata()).channels, 1);
  const g = await decodeImage(grey, MAX_INPUT_PIXELS);
  t.same([g.width, g.height, g.data.length, g.data[0], g.data[1], g.data[2]], [4, 2, 24, 64, 64, 64]);

  const rgba = await sharp({ create: { width: 2, height: 2, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
  t.same([...(await decodeImage(rgba, MAX_INPUT_PIXELS)).data.subarray(0, 3)], [255, 255, 255]);

  const deep = await sharp({ create: { width: 2, height: 2, channels: 3, background: '#ff0000' } }).toColourspace('rgb16').png().toBuffer();
  t.same([...(await decodeImage(deep, MAX_INPUT_PIXELS)).data.subarray(0, 3)], [255, 0, 0]);

  const jpeg = await sharp({ create: { width: 16, height: 8, channels: 3, background: '#0000ff' } }).jpeg().toBuffer();
  const j = await decodeImage(jpeg, MAX_INPUT_PIXELS);
  t.same([j.width, j.height], [16, 8]);
  t.ok(j.data[2]! > 200 && j.data[0]! < 50);

  const webp = await sharp({ create: { width: 5, height: 3, channels: 3, background: 'white' } }).webp().toBuffer();
  const tiff = await sharp({ create: { width: 5, height: 3, channels: 3, background: 'white' } }).tiff().toBuffer();
  t.same([(await decodeImage(webp, MAX_INPUT_PIXELS)).width, (await decodeImage(tiff, MAX_INPUT_PIXELS)).height], [5, 3]);
});

t.test('the EXIF orientation is applied', async (t) => {
  // Stored 20 wide × 10 high with orientation 6 (rotate 90° clockwise to display): displayed 10 × 20.
  const left = await sharp({ create: { width: 10, height: 10, channels: 3, background: '#ff0000' } }).png().toBuffer();
  const stored = await sharp({ create: { width: 20, height: 10, channels: 3, background: '#0000ff' } })
    .composite([{ input: left, left: 0, top: 0 }])
    .jpeg()
    .withMetadata({ orientation: 6 })
    .toBuffer();
  const img = await decodeImage(stored, MAX_INPUT_PIXELS);
  t.same([img.width, img.height], [10, 20]);
  // The stored left half (red) is the displayed top half.
  t.ok(img.data[0]! > 200 && img.data[2]! < 60, 'top is red');
  const last = img.data.length - 3;
  t.ok(img.data[last + 2]! > 200 && img.data[last]! < 60, 'bottom is blue');
});
