import { Batcher } from './batcher.js';
import { ClassifierPipeline, topLabel } from './classifier-pipeline.js';
import type { PipelineModelConfig } from './config.js';
import { decodeImage, encodePng } from './decode.js';
import { DetectorPipeline } from './detector-pipeline.js';
import type { Quad } from './geometry.js';
import { fitWithin } from './raster.js';
import type { InferenceResult, Pipeline, PipelineOptions } from './types.js';

/** A pipeline result's extra wire fields; class_name and score are the classifier's (docs/models.md). */
export type PipelineResultFields = {
  box: Quad;
  detector_class: string;
  detector_score: number;
  classifier_class: string;
  classifier_score: number;
};

/**
 * The `pipeline` kind: detect → crop each box → classify each crop. One
 * result per box: class_name and score are the classifier's best label
 * (ignoring its topK and minScore), with the detector's class and score and
 * the box as extra fields, and the crop as the image.
 *
 * Crops go through this pipeline's own batcher: a request's crops run
 * `maxBatch` at a time, and with cross-request batching on (maxBatch > 1 in
 * the engine options) crops of the requests one worker holds share runs.
 */
export class DetectClassifyPipeline implements Pipeline {
  private readonly batcher: Batcher<Float32Array, Float32Array>;
  private readonly crossRequest: boolean;

  private constructor(
    readonly config: PipelineModelConfig,
    private readonly options: PipelineOptions,
    private readonly detector: DetectorPipeline,
    private readonly classifier: ClassifierPipeline,
  ) {
    this.crossRequest = options.maxBatch > 1;
    this.batcher = new Batcher((inputs) => this.classifier.infer(inputs), {
      maxBatch: config.maxBatch,
      maxDelayMs: options.maxBatchDelayMs,
      ...(options.onBatch ? { onBatch: options.onBatch } : {}),
    });
  }

  /** Loads its own sessions of both models (a model also used on its own is loaded twice per worker). */
  static async load(config: PipelineModelConfig, options: PipelineOptions): Promise<DetectClassifyPipeline> {
    const detector = await DetectorPipeline.load(config.detector, options);
    try {
      const classifier = await ClassifierPipeline.load(config.classifier, options);
      return new DetectClassifyPipeline(config, options, detector, classifier);
    } catch (err) {
      await detector.close();
      throw err;
    }
  }

  async run(image: Uint8Array): Promise<InferenceResult[]> {
    // Without cross-request batching nobody holds, so a request's crops run as soon as they are queued.
    const release = this.crossRequest ? this.batcher.hold() : () => {};
    try {
      const img = await decodeImage(image, this.options.maxInputPixels);
      const detections = await this.detector.detect(img);
      const crops = detections.map((d) => this.detector.crop(img, d));
      const pending = this.batcher.submit(await Promise.all(crops.map((c) => this.classifier.tensor(c))));
      release();
      const probs = await pending;
      const labels = this.config.classifier.labels;
      return await Promise.all(
        detections.map(async (d, i) => {
          const best = topLabel(probs[i]!, labels);
          const picture = fitWithin(crops[i]!, this.config.resultImage.maxSide);
          return {
            className: best.label,
            score: best.score,
            png: await encodePng(picture),
            width: picture.width,
            height: picture.height,
            mode: 'RGB' as const,
            extra: {
              box: d.box,
              detector_class: d.className,
              detector_score: d.score,
              classifier_class: best.label,
              classifier_score: best.score,
            } satisfies PipelineResultFields,
          };
        }),
      );
    } finally {
      release();
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.detector.close(), this.classifier.close()]);
  }
}
