import { readFile } from 'node:fs/promises';
import { ProcessingError } from '../errors.js';
import { Batcher } from './batcher.js';
import { classifyDirections } from './cls.js';
import type { OcrModelConfig } from './config.js';
import { ctcGreedyDecode, parseCharset, type Decoded } from './ctc.js';
import { decodeImage, encodePng } from './decode.js';
import { dbPostprocess } from './det-post.js';
import { detPreprocess } from './det-pre.js';
import { sortedBoxes, type Quad } from './geometry.js';
import type { RgbImage } from './raster.js';
import { recBatchTensor, recFitsRun, recNaturalWidth, recPaddedWidth } from './rec.js';
import { openSession, type OpenSession } from './session.js';
import type { InferenceResult, Pipeline, PipelineOptions } from './types.js';
import { cropTextLine } from './warp.js';

export interface OcrLine {
  text: string;
  score: number;
  /** [TL, TR, BR, BL] in input pixels (after EXIF orientation). */
  box: Quad;
  /** 180 when the direction classifier turned the crop upright. */
  angle: 0 | 180;
  /** The upright, rectified line. */
  image: RgbImage;
}

/**
 * PP-OCR det → crop → cls → rec in-process (tools/infer/predict_system.py
 * TextSystem). The engine runs one per model inside each worker; benches
 * can also use it directly.
 */
export class OcrPipeline implements Pipeline {
  private readonly recBatcher: Batcher<RgbImage, Decoded>;

  private constructor(
    readonly config: OcrModelConfig,
    private readonly options: PipelineOptions,
    private readonly det: OpenSession,
    private readonly cls: OpenSession | undefined,
    private readonly rec: OpenSession,
    private readonly charset: string[],
  ) {
    const r = config.rec;
    this.recBatcher = new Batcher((crops) => this.recognise(crops), {
      maxBatch: Math.max(1, Math.min(options.maxBatch, r.maxBatch)),
      maxDelayMs: options.maxBatchDelayMs,
      compare: (a, b) => a.width / a.height - b.width / b.height,
      fits: (first, next, count) => recFitsRun(recPaddedWidth(recNaturalWidth(first, r), r), recPaddedWidth(recNaturalWidth(next, r), r), count),
      ...(options.onBatch ? { onBatch: options.onBatch } : {}),
    });
  }

  static async load(config: OcrModelConfig, options: PipelineOptions): Promise<OcrPipeline> {
    const settings = { intraOpThreads: options.intraOpThreads, allowSpinning: options.allowSpinning };
    const charset = parseCharset(await readFile(config.files.dict, 'utf8'), config.rec.useSpaceChar);
    const det = await openSession(config.files.det, settings);
    const cls = config.files.cls ? await openSession(config.files.cls, settings) : undefined;
    const rec = await openSession(config.files.rec, settings);
    return new OcrPipeline(config, options, det, cls, rec, charset);
  }

  async run(image: Uint8Array): Promise<InferenceResult[]> {
    const release = this.recBatcher.hold();
    try {
      const img = await decodeImage(image, this.options.maxInputPixels);
      const lines = await this.readLines(img, release);
      return await Promise.all(lines.map(async (line) => ({
        className: line.text,
        score: line.score,
        png: await encodePng(line.image),
        width: line.image.width,
        height: line.image.height,
        mode: 'RGB' as const,
        extra: { box: line.box, text_angle: line.angle },
      })));
    } finally {
      release();
    }
  }

  /**
   * Reads the text lines of a decoded image, in reading order.
   * `release` (from the rec batcher's hold) is called once this request's
   * crops are queued, so the batcher knows it need not wait for them.
   */
  async readLines(img: RgbImage, release: () => void = () => {}): Promise<OcrLine[]> {
    const cfg = this.config;
    const input = detPreprocess(img, cfg.det);
    const out = await this.det.run(input.data, input.dims);
    const [, , mapH, mapW] = out.dims;
    if (out.dims.length !== 4 || !mapH || !mapW || out.data.length !== mapH * mapW) {
      throw new ProcessingError(`${cfg.files.det}: unexpected detection output shape [${out.dims.join(', ')}]`);
    }
    const boxes = sortedBoxes(dbPostprocess(out.data, mapW, mapH, img.width, img.height, cfg.det).map((box) => ({ box })));
    const crops = boxes.map(({ box }) => cropTextLine(img, box));
    const oriented = this.cls
      ? await classifyDirections(crops, cfg.cls, this.cls.run)
      : crops.map((image) => ({ image, angle: 0 as const }));
    const pending = this.recBatcher.submit(oriented.map((o) => o.image));
    release();
    const decoded = await pending;
    const lines: OcrLine[] = [];
    decoded.forEach((d, i) => {
      // predict_system.py: keep results with score >= drop_score.
      if (d.score >= cfg.rec.dropScore && d.text.length > 0) {
        lines.push({ text: d.text, score: d.score, box: boxes[i]!.box, angle: oriented[i]!.angle, image: oriented[i]!.image });
      }
    });
    return lines;
  }

  /** One recogniser run, padded to the widest crop's padded width. */
  private async recognise(crops: RgbImage[]): Promise<Decoded[]> {
    const r = this.config.rec;
    const width = Math.max(...crops.map((c) => recPaddedWidth(recNaturalWidth(c, r), r)));
    const input = recBatchTensor(crops, width, r);
    const out = await this.rec.run(input.data, input.dims);
    const [n, steps, classes] = out.dims;
    if (out.dims.length !== 3 || n !== crops.length || !steps || classes !== this.charset.length) {
      throw new ProcessingError(
        `${this.config.files.rec}: recognition output [${out.dims.join(', ')}] does not fit ` +
          `${crops.length} crops and the ${this.charset.length} classes of ${this.config.files.dict}`,
      );
    }
    return ctcGreedyDecode(out.data, n, steps, classes, this.charset);
  }

  async close(): Promise<void> {
    await Promise.all([this.det.release(), this.cls?.release(), this.rec.release()]);
  }
}
