import { resizeBilinear, type Normalisation, type RgbImage } from './raster.js';

/** Where the image landed inside the model input: input = (model − pad) / scale. */
export interface LetterboxMap {
  scale: number;
  padX: number;
  padY: number;
}

export interface LetterboxInput extends LetterboxMap {
  data: Float32Array;
  dims: [1, 3, number, number];
}

/**
 * Ultralytics' LetterBox (ultralytics/data/augment.py, auto=False,
 * center=True): scale to fit width × height keeping the aspect ratio,
 * centre, pad with `padValue` (114 grey); then NCHW planes normalised
 * as (value · scale − mean) / std in `norm.order`. The resize is OpenCV's
 * INTER_LINEAR, as cv2.resize in LetterBox.
 */
export function letterbox(img: RgbImage, width: number, height: number, norm: Normalisation, padValue: number): LetterboxInput {
  const r = Math.min(width / img.width, height / img.height);
  const w = Math.max(1, Math.min(width, Math.round(img.width * r)));
  const h = Math.max(1, Math.min(height, Math.round(img.height * r)));
  // LetterBox: top = round(dh - 0.1), left = round(dw - 0.1), so an odd pad puts the extra pixel after.
  const padX = Math.round((width - w) / 2 - 0.1);
  const padY = Math.round((height - h) / 2 - 0.1);
  const resized = w === img.width && h === img.height ? img : resizeBilinear(img, w, h);
  const plane = width * height;
  const data = new Float32Array(3 * plane);
  for (let p = 0; p < 3; p++) {
    const src = norm.order === 'BGR' ? 2 - p : p;
    const k = norm.scale / norm.std[p]!;
    const b = norm.mean[p]! / norm.std[p]!;
    const base = p * plane;
    data.fill(padValue * k - b, base, base + plane);
    for (let y = 0; y < h; y++) {
      let si = y * w * 3 + src;
      const row = base + (y + padY) * width + padX;
      for (let x = 0; x < w; x++, si += 3) data[row + x] = resized.data[si]! * k - b;
    }
  }
  return { data, dims: [1, 3, height, width], scale: r, padX, padY };
}

/**
 * ultralytics/utils/ops.py scale_boxes + clip_boxes: an [x1, y1, x2, y2] box
 * in model-input pixels back to the original image's, clamped to it.
 */
export function unletterbox(box: readonly [number, number, number, number], map: LetterboxMap, srcW: number, srcH: number): [number, number, number, number] {
  const fx = (v: number) => clamp((v - map.padX) / map.scale, 0, srcW);
  const fy = (v: number) => clamp((v - map.padY) / map.scale, 0, srcH);
  return [fx(box[0]), fy(box[1]), fx(box[2]), fy(box[3])];
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
