import { ClassifierPipeline } from './classifier-pipeline.js';
import type { ModelConfig } from './config.js';
import { OcrPipeline } from './ocr-pipeline.js';
import type { Pipeline, PipelineOptions } from './types.js';

/** The pipeline for a model's kind. */
export function loadPipeline(config: ModelConfig, options: PipelineOptions): Promise<Pipeline> {
  return config.kind === 'ocr' ? OcrPipeline.load(config, options) : ClassifierPipeline.load(config, options);
}
