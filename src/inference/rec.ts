import type { OcrModelConfig } from './config.js';
import { resizeBilinear, writeChw, type RgbImage } from './raster.js';

type RecConfig = OcrModelConfig['rec'];

/** A run's padded widths summed over its crops stay under this (ours: bounds rec activation memory). */
export const MAX_REC_BATCH_COLUMNS = 8 * 1280;

/**
 * Crops whose padded widths differ by more than this factor do not share a
 * run (ours). Recognition cost grows with batch × width and on CPU a batch
 * saves little per-run overhead, so padding a short line to a long one's
 * width costs more than a separate run.
 */
export const MAX_REC_PAD_RATIO = 1.25;

/**
 * The width a crop is resized to at the recogniser's height, keeping its
 * aspect ratio: ceil(48 · w / h) (tools/infer/predict_rec.py
 * resize_norm_img), capped at rec.maxWidth (ours, a memory bound).
 */
export function recNaturalWidth(img: RgbImage, rec: RecConfig): number {
  return Math.max(1, Math.min(rec.maxWidth, Math.ceil((rec.height * img.width) / img.height)));
}

/**
 * The padded width for a crop of natural width `w`: predict_rec.py pads a
 * batch to int(48 · max_wh_ratio) with max_wh_ratio ≥ 320/48, i.e. at
 * least 320; we round up to a multiple of widthStep so ORT sees a bounded
 * set of shapes.
 */
export function recPaddedWidth(w: number, rec: RecConfig): number {
  const need = Math.max(rec.minWidth, w);
  return Math.max(need, Math.min(Math.ceil(need / rec.widthStep) * rec.widthStep, rec.maxWidth));
}

/** Whether a crop of padded width `next` may join a run that starts at `first` and has `count` crops. */
export function recFitsRun(first: number, next: number, count: number): boolean {
  return next <= first * MAX_REC_PAD_RATIO && (count + 1) * next <= Math.max(MAX_REC_BATCH_COLUMNS, next);
}

/**
 * One [n, 3, H, W] batch: each crop resized to (min(W, natural width), H),
 * normalised (x/255 − 0.5)/0.5 in BGR plane order, zero-padded on the
 * right (predict_rec.py resize_norm_img).
 */
export function recBatchTensor(crops: RgbImage[], width: number, rec: RecConfig): { data: Float32Array; dims: [number, 3, number, number] } {
  const h = rec.height;
  const data = new Float32Array(crops.length * 3 * h * width);
  const norm = { scale: rec.scale, mean: rec.mean, std: rec.std, order: rec.channelOrder };
  crops.forEach((crop, i) => {
    const w = Math.min(width, recNaturalWidth(crop, rec));
    writeChw(resizeBilinear(crop, w, h), norm, data, i * 3 * h * width, width);
  });
  return { data, dims: [crops.length, 3, h, width] };
}
