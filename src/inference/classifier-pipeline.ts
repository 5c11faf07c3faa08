import sharp from 'sharp';
import { ProcessingError } from '../errors.js';
import { Batcher } from './batcher.js';
import type { ClassifierModelConfig } from './config.js';
import { decodeImage, encodePng } from './decode.js';
import type { RgbImage } from './raster.js';
import { openSession, type OpenSession } from './session.js';
import type { InferenceResult, Pipeline, PipelineOptions } from './types.js';

export interface Label {
  label: string;
  score: number;
}

/**
 * A generic single-input image classifier: resize to the configured input,
 * normalise, run, softmax (unless the model already outputs
 * probabilities), top-k labels. Requests are batched like recognition
 * crops when the config allows a batch dimension (maxBatch > 1).
 */
export class ClassifierPipeline implements Pipeline {
  private readonly batcher: Batcher<Float32Array, Float32Array>;
  private readonly inputLen: number;

  private constructor(
    readonly config: ClassifierModelConfig,
    private readonly options: PipelineOptions,
    private readonly session: OpenSession,
  ) {
    const { width, height, channelOrder } = config.input;
    this.inputLen = width * height * (channelOrder === 'L' ? 1 : 3);
    this.batcher = new Batcher((inputs) => this.infer(inputs), {
      maxBatch: Math.max(1, Math.min(options.maxBatch, config.maxBatch)),
      maxDelayMs: options.maxBatchDelayMs,
      ...(options.onBatch ? { onBatch: options.onBatch } : {}),
    });
  }

  static async load(config: ClassifierModelConfig, options: PipelineOptions): Promise<ClassifierPipeline> {
    const names: { input?: string; output?: string } = {};
    if (config.input.name) names.input = config.input.name;
    if (config.output.name) names.output = config.output.name;
    const session = await openSession(config.files.model, { intraOpThreads: options.intraOpThreads, allowSpinning: options.allowSpinning }, names);
    return new ClassifierPipeline(config, options, session);
  }

  async run(image: Uint8Array): Promise<InferenceResult[]> {
    const release = this.batcher.hold();
    try {
      const img = await decodeImage(image, this.options.maxInputPixels);
      const [labels, preview] = await Promise.all([this.classify(img, release), this.resultImage(img)]);
      const png = await encodePng(preview);
      return labels.map((l) => ({
        className: l.label,
        score: l.score,
        png,
        width: preview.width,
        height: preview.height,
        mode: 'RGB' as const,
        extra: {},
      }));
    } finally {
      release();
    }
  }

  /**
   * Top-k labels (score ≥ minScore), best first. `release` (from the
   * batcher's hold) is called once the input is queued.
   */
  async classify(img: RgbImage, release: () => void = () => {}): Promise<Label[]> {
    const pending = this.batcher.submit([await this.tensor(img)]);
    release();
    const probs = (await pending)[0]!;
    const ranked = [...probs].map((score, i) => ({ label: this.config.labels[i]!, score })).sort((a, b) => b.score - a.score);
    return ranked.slice(0, this.config.topK).filter((l) => l.score >= this.config.minScore);
  }

  /** One sample's input tensor (without the batch dimension). A pipeline batches these itself. */
  async tensor(img: RgbImage): Promise<Float32Array> {
    const { width: W, height: H, channelOrder, layout, resize, scale, mean, std } = this.config.input;
    const { data, info } = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
      .resize(W, H, { fit: resize === 'contain' ? 'inside' : resize, position: 'centre' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    const C = channelOrder === 'L' ? 1 : 3;
    const out = new Float32Array(this.inputLen); // zero = the normalised padding for 'contain'
    for (let y = 0; y < info.height; y++) {
      for (let x = 0; x < info.width; x++) {
        const s = (y * info.width + x) * info.channels;
        for (let c = 0; c < C; c++) {
          let v: number;
          if (channelOrder === 'L') v = 0.299 * data[s]! + 0.587 * data[s + 1]! + 0.114 * data[s + 2]!; // ITU-R 601 luma, as PIL 'L'
          else v = data[s + (channelOrder === 'BGR' ? 2 - c : c)]!;
          const i = layout === 'NCHW' ? c * H * W + y * W + x : (y * W + x) * C + c;
          out[i] = (v * scale - mean[c]!) / std[c]!;
        }
      }
    }
    return out;
  }

  /** One model run over sample tensors: a probability row per sample. */
  async infer(inputs: Float32Array[]): Promise<Float32Array[]> {
    const { width: W, height: H, channelOrder, layout } = this.config.input;
    const C = channelOrder === 'L' ? 1 : 3;
    const batch = new Float32Array(inputs.length * this.inputLen);
    inputs.forEach((t, i) => batch.set(t, i * this.inputLen));
    const dims = layout === 'NCHW' ? [inputs.length, C, H, W] : [inputs.length, H, W, C];
    const out = await this.session.run(batch, dims);
    const k = this.config.labels.length;
    if (out.data.length !== inputs.length * k) {
      throw new ProcessingError(
        `${this.config.files.model}: output [${out.dims.join(', ')}] does not hold ${k} scores per image (the labels in ${this.config.configPath})`,
      );
    }
    return inputs.map((_, i) => {
      const row = out.data.slice(i * k, (i + 1) * k);
      return this.config.output.softmax ? softmax(row) : row;
    });
  }

  private async resultImage(img: RgbImage): Promise<RgbImage> {
    const { mode, maxSide } = this.config.resultImage;
    if (mode === 'input' || Math.max(img.width, img.height) <= maxSide) return img;
    const { data, info } = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
      .resize(maxSide, maxSide, { fit: 'inside' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

/** The best label of a probability row. */
export function topLabel(probs: Float32Array, labels: readonly string[]): Label {
  let best = 0;
  for (let i = 1; i < probs.length; i++) if (probs[i]! > probs[best]!) best = i;
  return { label: labels[best]!, score: probs[best]! };
}

export function softmax(x: Float32Array): Float32Array {
  let max = -Infinity;
  for (const v of x) if (v > max) max = v;
  const out = new Float32Array(x.length);
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += out[i] = Math.exp(x[i]! - max);
  for (let i = 0; i < x.length; i++) out[i]! /= sum;
  return out;
}
