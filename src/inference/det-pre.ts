import type { OcrModelConfig } from './config.js';
import { resizeBilinear, writeChw, type RgbImage } from './raster.js';

export interface DetInput {
  data: Float32Array;
  dims: [1, 3, number, number];
}

/** Det inputs never exceed this side, whatever limitType says (ours: a memory bound for 'min' on panoramas). */
const MAX_DET_SIDE = 4096;

/**
 * ppocr/data/imaug/operators.py DetResizeForTest.resize_image_type0:
 * scale so the longer side is at most limitSideLen ('max'; no upscaling) or
 * the shorter at least limitSideLen ('min'), truncate, then round each side
 * to a multiple of 32 (Python round, i.e. half to even), minimum 32.
 * The multiple-of-32 rounding is also our det shape bucketing: with the
 * 960 'max' default ORT sees at most 30 × 30 input shapes.
 */
export function detInputSize(width: number, height: number, det: OcrModelConfig['det']): { w: number; h: number } {
  const limit = det.limitSideLen;
  let ratio = 1;
  if (det.limitType === 'max') {
    if (Math.max(height, width) > limit) ratio = height > width ? limit / height : limit / width;
  } else if (Math.min(height, width) < limit) {
    ratio = height < width ? limit / height : limit / width;
  }
  const m = det.multiple;
  let h = Math.max(pyRoundInt(Math.trunc(height * ratio) / m) * m, m);
  let w = Math.max(pyRoundInt(Math.trunc(width * ratio) / m) * m, m);
  if (Math.max(h, w) > MAX_DET_SIDE) {
    const k = MAX_DET_SIDE / Math.max(h, w);
    h = Math.max(Math.floor((h * k) / m) * m, m);
    w = Math.max(Math.floor((w * k) / m) * m, m);
  }
  return { w, h };
}

/** Resize (cv2.resize, bilinear) and normalise in the configured plane order (BGR for Paddle). */
export function detPreprocess(img: RgbImage, det: OcrModelConfig['det']): DetInput {
  const { w, h } = detInputSize(img.width, img.height, det);
  const resized = w === img.width && h === img.height ? img : resizeBilinear(img, w, h);
  const data = new Float32Array(3 * w * h);
  writeChw(resized, { scale: det.scale, mean: det.mean, std: det.std, order: det.channelOrder }, data, 0, w);
  return { data, dims: [1, 3, h, w] };
}

function pyRoundInt(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : r;
}
