import t from 'tap';
import { ctcGreedyDecode, parseCharset } from '../../src/inference/ctc.js';
import { boxScoreFast, filterBoxes, unclip } from '../../src/inference/det-post.js';
import { detInputSize } from '../../src/inference/det-pre.js';
import { getMiniBoxes, minAreaRect, orderPointsClockwise, pyRound, sortedBoxes, type Point, type Quad } from '../../src/inference/geometry.js';
import { regionOutlines } from '../../src/inference/components.js';
import { makeImage, resizeBilinear, rotate180, rotate90ccw } from '../../src/inference/raster.js';
import { perspectiveTransform, warpPerspective } from '../../src/inference/warp.js';
import { recPaddedWidth } from '../../src/inference/rec.js';
import { loadModelRepository } from '../../src/inference/config.js';
import { DEFAULT_MODELS_DIR, type OcrModelConfig } from '../../src/inference/index.js';

const ocr = loadModelRepository(DEFAULT_MODELS_DIR).get('ocr') as OcrModelConfig;

t.test('pyRound rounds halves to even like Python', async (t) => {
  t.same([0.5, 1.5, 2.5, -2.5, 2.4, 2.6].map(pyRound), [0, 2, 2, -2, 2, 3]);
});

t.test('det input size: limit 960 max, multiples of 32, no upscaling, minimum 32', async (t) => {
  t.same(detInputSize(640, 480, ocr.det), { w: 640, h: 480 });
  t.same(detInputSize(1920, 1080, ocr.det), { w: 960, h: 544 }); // 540 → round(16.875)*32
  t.same(detInputSize(100, 50, ocr.det), { w: 96, h: 64 }); // round(3.125)=3, round(1.5625)=2
  t.same(detInputSize(10, 10, ocr.det), { w: 32, h: 32 });
});

t.test('min-area rectangle of a rotated rectangle and Paddle corner order', async (t) => {
  const a = Math.PI / 6;
  const rot = ([x, y]: Point): Point => [100 + x * Math.cos(a) - y * Math.sin(a), 100 + x * Math.sin(a) + y * Math.cos(a)];
  const pts: Point[] = [];
  for (let x = 0; x <= 40; x += 2) for (let y = 0; y <= 10; y += 2) pts.push(rot([x, y]));
  const r = minAreaRect(pts);
  t.ok(Math.abs(Math.max(...r.sides) - 40) < 1e-6 && Math.abs(Math.min(...r.sides) - 10) < 1e-6);
  const { box, sside } = getMiniBoxes([[10, 20], [50, 20], [50, 30], [10, 30], [30, 25]]);
  t.same(box, [[10, 20], [50, 20], [50, 30], [10, 30]]);
  t.equal(sside, 10);
  t.same(orderPointsClockwise([[50, 30], [10, 20], [10, 30], [50, 20]]), [[10, 20], [50, 20], [50, 30], [10, 30]]);
});

t.test('regions: 8-connected, outline keeps each row extremes', async (t) => {
  const w = 6, h = 4;
  const bm = new Uint8Array(w * h);
  for (const [x, y] of [[0, 0], [1, 1], [2, 1], [4, 3], [5, 3]] as const) bm[y * w + x] = 1;
  const regions = regionOutlines(bm, w, h, 10);
  t.same(regions, [[[0, 0], [1, 1], [2, 1]], [[4, 3], [5, 3]]]);
  t.equal(regionOutlines(bm, w, h, 1).length, 1, 'max candidates');
});

t.test('box score, unclip, filter', async (t) => {
  const w = 20, h = 10;
  const pred = new Float32Array(w * h);
  for (let y = 2; y <= 5; y++) for (let x = 2; x <= 9; x++) pred[y * w + x] = 1;
  const box: Quad = [[2, 2], [9, 2], [9, 5], [2, 5]];
  t.equal(boxScoreFast(pred, w, h, box), 1);
  t.ok(boxScoreFast(pred, w, h, [[2, 2], [19, 2], [19, 5], [2, 5]]) < 0.5);
  // distance = area·1.5/perimeter = 21·1.5/20 = 1.575, on Clipper's integer grid
  t.same(getMiniBoxes(unclip(box, 1.5)).box, [[0, 0], [11, 0], [11, 7], [0, 7]]);
  t.same(filterBoxes([[[0, 0], [3, 0], [3, 10], [0, 10]], [[5, 5], [30, 5], [30, 20], [5, 20]]], 25, 25), [[[5, 5], [24, 5], [24, 20], [5, 20]]]);
});

t.test('sorted_boxes: top to bottom, same line (< 10 px) left to right', async (t) => {
  const q = (x: number, y: number): { box: Quad; id: string } => ({ box: [[x, y], [x + 5, y], [x + 5, y + 5], [x, y + 5]], id: `${x},${y}` });
  t.same(sortedBoxes([q(50, 12), q(0, 40), q(10, 10), q(0, 15)]).map((b) => b.id), ['0,15', '10,10', '50,12', '0,40']);
});

t.test('homography maps the corners; warp of an axis-aligned box is a crop', async (t) => {
  const m = perspectiveTransform([[0, 0], [4, 0], [4, 2], [0, 2]], [[10, 20], [18, 21], [17, 26], [9, 25]]);
  const ap = (x: number, y: number) => {
    const z = m[6]! * x + m[7]! * y + m[8]!;
    return [(m[0]! * x + m[1]! * y + m[2]!) / z, (m[3]! * x + m[4]! * y + m[5]!) / z].map((v) => Math.round(v * 1e6) / 1e6);
  };
  t.same(ap(4, 2), [17, 26]);
  t.same(ap(0, 2), [9, 25]);
  const img = makeImage(8, 8);
  for (let i = 0; i < 64; i++) img.data.fill(i, i * 3, i * 3 + 3);
  const out = warpPerspective(img, perspectiveTransform([[0, 0], [3, 0], [3, 2], [0, 2]], [[2, 3], [5, 3], [5, 5], [2, 5]]), 3, 2);
  t.same([...out.data.filter((_, i) => i % 3 === 0)], [26, 27, 28, 34, 35, 36]);
});

t.test('rotations and resize', async (t) => {
  const img = makeImage(3, 2);
  for (let i = 0; i < 6; i++) img.data.fill(i + 1, i * 3, i * 3 + 3);
  const r90 = rotate90ccw(img); // [[1,2,3],[4,5,6]] → [[3,6],[2,5],[1,4]]
  t.same([r90.width, r90.height, ...r90.data.filter((_, i) => i % 3 === 0)], [2, 3, 3, 6, 2, 5, 1, 4]);
  t.same([...rotate180(img).data.filter((_, i) => i % 3 === 0)], [6, 5, 4, 3, 2, 1]);
  const up = resizeBilinear(img, 6, 4);
  t.equal(up.data[0], 1);
  t.equal(up.data[up.data.length - 1], 6);
});

t.test('rec padded widths: at least 320, multiples of the step, capped', async (t) => {
  t.equal(recPaddedWidth(100, ocr.rec), 320);
  t.equal(recPaddedWidth(321, ocr.rec), 352);
  t.equal(recPaddedWidth(3830, ocr.rec), 3840);
});

t.test('CTC greedy decode: blank 0, repeats merged, dict[i-1], space last, mean probability', async (t) => {
  const charset = parseCharset('a\r\nb\nc', true);
  t.same(charset, ['', 'a', 'b', 'c', ' ']);
  t.same(parseCharset('a\nb\n', false), ['', 'a', 'b']);
  const C = charset.length;
  const steps = [1, 1, 0, 1, 4, 2, 0];
  const probs = new Float32Array(steps.length * C);
  steps.forEach((c, i) => {
    probs.fill(0.01, i * C, (i + 1) * C);
    probs[i * C + c] = c === 4 ? 0.6 : 0.9;
  });
  const [d] = ctcGreedyDecode(probs, 1, steps.length, C, charset);
  t.equal(d!.text, 'aa b');
  t.ok(Math.abs(d!.score - (0.9 * 3 + 0.6) / 4) < 1e-6);
  t.same(ctcGreedyDecode(new Float32Array(C).fill(0).fill(1, 0, 1), 1, 1, C, charset), [{ text: '', score: 0 }]);
});
