import t from 'tap';
import { encodePalettePng } from '../../src/render/png-palette.js';
import { decode } from './fixtures/helpers.js';

function image(w: number, h: number, colour: (x: number, y: number) => [number, number, number]): Uint8Array {
  const out = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const c = colour(x, y), o = (y * w + x) * 4;
    out.set([...c, 255], o);
  }
  return out;
}

t.test('≤256 colours: an exact palette PNG that decodes to the same pixels', async (t) => {
  // 256 distinct colours in 16-pixel blocks.
  const src = image(64, 256, (x, y) => [(x >> 4) * 60, (y >> 4) * 16, 7]);
  const d = await decode(encodePalettePng(src, 64, 256));
  t.equal(d.width, 64);
  t.equal(d.height, 256);
  t.ok(d.isPalette);
  let differ = 0;
  for (let p = 0; p < 64 * 256; p++) for (let c = 0; c < 3; c++) if (d.rgb[p * 3 + c] !== src[p * 4 + c]) differ++;
  t.equal(differ, 0, 'every pixel decodes to its own colour');
});

t.test('>256 colours: median cut, dominant colours exact, small error elsewhere', async (t) => {
  // A flat fill with a gradient stripe of 1,024 colours.
  const src = image(256, 256, (x, y) => (y < 200 ? [170, 211, 223] : [x, (y - 200) * 4, 255 - x]));
  const d = await decode(encodePalettePng(src, 256, 256));
  t.ok(d.isPalette);
  let maxErr = 0, flatExact = true;
  for (let p = 0; p < 256 * 256; p++) {
    for (let c = 0; c < 3; c++) {
      const e = Math.abs(d.rgb[p * 3 + c]! - src[p * 4 + c]!);
      if (p < 200 * 256 && e !== 0) flatExact = false;
      maxErr = Math.max(maxErr, e);
    }
  }
  t.ok(flatExact, 'the flat fill keeps its exact colour');
  t.ok(maxErr <= 16, `gradient within 16 levels (max ${maxErr})`);
});

t.test('the same pixels always give the same bytes', async (t) => {
  const src = image(256, 256, (x, y) => [(x * 7) & 255, (y * 3) & 255, (x ^ y) & 255]);
  t.same(Buffer.from(encodePalettePng(src, 256, 256)), Buffer.from(encodePalettePng(src, 256, 256)));
});

t.test('a tile encoded straight out of a wider image (stride) is the same PNG as the tile copied out first', async (t) => {
  // 3 tiles of 64 px side by side, 1,024 colours in the middle one (median cut), few in the others.
  const w = 192, h = 64;
  const img = image(w, h, (x, y) => (x >= 64 && x < 128 ? [x * 4 - 256, y * 4, (x ^ y) & 255] : [170 + (x >> 5), 211, 223]));
  for (const x0 of [0, 64, 128]) {
    const tile = new Uint8Array(64 * 64 * 4);
    for (let y = 0; y < 64; y++) tile.set(img.subarray(4 * (y * w + x0), 4 * (y * w + x0 + 64)), 4 * y * 64);
    const strided = encodePalettePng(img.subarray(4 * x0), 64, 64, { stride: w });
    t.same(Buffer.from(strided), Buffer.from(encodePalettePng(tile, 64, 64)), `tile at x ${x0}`);
  }
});
