import { ProcessingError } from '../errors.js';
import { MAX_DETECTIONS } from '../limits.js';
import type { DetectorModelConfig } from './config.js';
import { decodeImage, encodePng } from './decode.js';
import { dbDetect } from './det-post.js';
import { detPreprocess } from './det-pre.js';
import type { Quad } from './geometry.js';
import { letterbox, unletterbox } from './letterbox.js';
import { nms } from './nms.js';
import { cropRect, fitWithin, type RgbImage } from './raster.js';
import { openSession, type OpenSession } from './session.js';
import type { InferenceResult, Pipeline, PipelineOptions } from './types.js';
import { cropTextLine } from './warp.js';
import { decodeYolo, detectLayout } from './yolo-decode.js';

export interface Detection {
  className: string;
  classIndex: number;
  score: number;
  /** [TL, TR, BR, BL] in input pixels (after EXIF orientation), clamped to the image. */
  box: Quad;
}

/** A detector result's extra wire fields (docs/models.md). */
export type DetectorResultFields = { box: Quad; class_index: number };

/**
 * The `detector` kind: YOLO-family exports (letterbox → model → decode →
 * class-wise NMS → boxes in input pixels) or a DB text detector (PP-OCR's
 * det pre/post-processing). Each result is one box, best score first, with
 * its crop (or the scaled input) as the image.
 */
export class DetectorPipeline implements Pipeline {
  private readonly maxDetections: number;

  private constructor(
    readonly config: DetectorModelConfig,
    private readonly options: PipelineOptions,
    private readonly session: OpenSession,
    /** The model input size (YOLO formats). */
    private readonly size: { width: number; height: number },
  ) {
    this.maxDetections = Math.min(config.maxDetections, options.maxDetections ?? MAX_DETECTIONS);
  }

  static async load(config: DetectorModelConfig, options: PipelineOptions): Promise<DetectorPipeline> {
    const names: { input?: string; output?: string } = {};
    if (config.input.name) names.input = config.input.name;
    if (config.output.name) names.output = config.output.name;
    const session = await openSession(config.files.model, { intraOpThreads: options.intraOpThreads, allowSpinning: options.allowSpinning }, names);
    let size = { width: 0, height: 0 };
    if (config.format !== 'db') {
      const [, , h, w] = session.inputDims;
      const width = config.input.width ?? (typeof w === 'number' && w > 0 ? w : undefined);
      const height = config.input.height ?? (typeof h === 'number' && h > 0 ? h : undefined);
      if (!width || !height) {
        await session.release();
        throw new ProcessingError(
          `${config.files.model}: the input [${session.inputDims.join(', ')}] has no fixed size; set input.width and input.height in ${config.configPath}`,
        );
      }
      size = { width, height };
    }
    return new DetectorPipeline(config, options, session, size);
  }

  async run(image: Uint8Array): Promise<InferenceResult[]> {
    const img = await decodeImage(image, this.options.maxInputPixels);
    const detections = await this.detect(img);
    const { mode, maxSide } = this.config.resultImage;
    const preview = mode === 'preview' ? fitWithin(img, maxSide) : undefined;
    const previewPng = preview ? await encodePng(preview) : undefined;
    return Promise.all(
      detections.map(async (d) => {
        const picture = preview ?? fitWithin(this.crop(img, d), maxSide);
        return {
          className: d.className,
          score: d.score,
          png: previewPng ?? (await encodePng(picture)),
          width: picture.width,
          height: picture.height,
          mode: 'RGB' as const,
          extra: { box: d.box, class_index: d.classIndex } satisfies DetectorResultFields,
        };
      }),
    );
  }

  /** Boxes in input pixels, best score first, at most maxDetections. */
  async detect(img: RgbImage): Promise<Detection[]> {
    return this.config.format === 'db' ? this.detectDb(img) : this.detectYolo(img);
  }

  /**
   * The pixels of a detection: its axis-aligned box, or for a DB text box
   * the rectified line (PaddleOCR's get_rotate_crop_image), which is what a
   * text classifier downstream expects.
   */
  crop(img: RgbImage, d: Detection): RgbImage {
    if (this.config.format === 'db') return cropTextLine(img, d.box);
    const xs = d.box.map((p) => p[0]);
    const ys = d.box.map((p) => p[1]);
    const x0 = Math.max(0, Math.floor(Math.min(...xs)));
    const y0 = Math.max(0, Math.floor(Math.min(...ys)));
    const x1 = Math.min(img.width, Math.ceil(Math.max(...xs)));
    const y1 = Math.min(img.height, Math.ceil(Math.max(...ys)));
    return cropRect(img, x0, y0, Math.max(1, x1 - x0), Math.max(1, y1 - y0));
  }

  private async detectYolo(img: RgbImage): Promise<Detection[]> {
    const cfg = this.config;
    const { width, height } = this.size;
    const input = letterbox(img, width, height, { scale: cfg.input.scale, mean: cfg.input.mean, std: cfg.input.std, order: cfg.input.channelOrder }, cfg.input.padValue);
    const out = await this.session.run(input.data, input.dims);
    const classes = cfg.labels.length;
    const layout = cfg.format === 'yolov5' || cfg.format === 'yolov8' ? cfg.format : detectLayout(out.dims, classes);
    const candidates = decodeYolo(out.data, out.dims, layout, classes, cfg.confidence);
    const kept = nms(candidates, cfg.iou, this.maxDetections, cfg.classAgnosticNms);
    const detections: Detection[] = [];
    for (const c of kept) {
      const [x1, y1, x2, y2] = unletterbox([c.x1, c.y1, c.x2, c.y2], input, img.width, img.height).map(round1) as [number, number, number, number];
      if (x2 - x1 < 1 || y2 - y1 < 1) continue; // in the padding, or a sliver once clamped
      detections.push({
        className: cfg.labels[c.classIndex]!,
        classIndex: c.classIndex,
        score: c.score,
        box: [[x1, y1], [x2, y1], [x2, y2], [x1, y2]],
      });
    }
    return detections;
  }

  private async detectDb(img: RgbImage): Promise<Detection[]> {
    const db = this.config.db!;
    const input = detPreprocess(img, db);
    const out = await this.session.run(input.data, input.dims);
    const [, , mapH, mapW] = out.dims;
    if (out.dims.length !== 4 || !mapH || !mapW || out.data.length !== mapH * mapW) {
      throw new ProcessingError(`${this.config.files.model}: a DB detector outputs [1, 1, H, W], got [${out.dims.join(', ')}]`);
    }
    return dbDetect(out.data, mapW, mapH, img.width, img.height, db)
      .filter((b) => b.score >= this.config.confidence)
      .sort((a, b) => b.score - a.score)
      .slice(0, this.maxDetections)
      .map((b) => ({ className: this.config.labels[0]!, classIndex: 0, score: b.score, box: b.box }));
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

function round1(v: number): number {
  return Math.round(v * 10) / 10;
}
