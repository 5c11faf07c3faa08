import { ClassifierPipeline } from './classifier-pipeline.js';
import type { ModelConfig } from './config.js';
import { DetectClassifyPipeline } from './detect-classify-pipeline.js';
import { DetectorPipeline } from './detector-pipeline.js';
import { OcrPipeline } from './ocr-pipeline.js';
import type { Pipeline, PipelineOptions } from './types.js';

/** The pipeline for a model's kind. */
export function loadPipeline(config: ModelConfig, options: PipelineOptions): Promise<Pipeline> {
  switch (config.kind) {
    case 'ocr':
      return OcrPipeline.load(config, options);
    case 'classifier':
      return ClassifierPipeline.load(config, options);
    case 'detector':
      return DetectorPipeline.load(config, options);
    case 'pipeline':
      return DetectClassifyPipeline.load(config, options);
  }
}
