/**
 * mosaicd's image-inference engine: a model repository (models/<name>/model.json),
 * PP-OCR, generic classifier, YOLO/DB detector and detect → classify pipelines, run in worker threads with
 * dynamic batching of recognition crops.
 */
export { InferenceEngine, DEFAULT_MODELS_DIR, defaultOptions, type InferenceEngineOptions } from './engine.js';
export type { InferenceResult, Pipeline, PipelineOptions } from './types.js';
export { OcrPipeline, type OcrLine } from './ocr-pipeline.js';
export { ClassifierPipeline, type Label } from './classifier-pipeline.js';
export { DetectorPipeline, type Detection, type DetectorResultFields } from './detector-pipeline.js';
export { DetectClassifyPipeline, type PipelineResultFields } from './detect-classify-pipeline.js';
export { loadPipeline } from './pipelines.js';
export {
  loadModelRepository, loadModelConfig,
  type ModelConfig, type OcrModelConfig, type ClassifierModelConfig, type DetectorModelConfig, type PipelineModelConfig,
} from './config.js';
export { decodeImage } from './decode.js';
