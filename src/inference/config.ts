import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { ConfigError } from '../errors.js';
import { MAX_DETECTIONS } from '../limits.js';
import { ConfigReader, isPlainObject, readLabels } from './config-reader.js';

/**
 * The model repository: one folder per model under `modelsDir`, each with a
 * model.json. Everything here is plain data so it can be handed to workers
 * in workerData. Defaults are PaddleOCR's published inference defaults; the
 * comment on each names the file it comes from (PaddlePaddle/PaddleOCR,
 * release 2.7, the PP-OCRv4 era).
 */

export type ChannelOrder = 'RGB' | 'BGR';

export interface NormConfig {
  scale: number;
  mean: number[];
  std: number[];
  channelOrder: ChannelOrder;
}

export interface OcrModelConfig {
  kind: 'ocr';
  name: string;
  configPath: string;
  description: string;
  /** Absolute paths. `cls` is absent when the direction classifier is off. */
  files: { det: string; rec: string; dict: string; cls?: string };
  det: NormConfig & {
    limitSideLen: number;
    limitType: 'max' | 'min';
    /** Input sides are rounded to multiples of this; also bounds the number of det shapes. */
    multiple: number;
    thresh: number;
    boxThresh: number;
    unclipRatio: number;
    maxCandidates: number;
    minSize: number;
  };
  cls: NormConfig & { enabled: boolean; height: number; width: number; thresh: number; batch: number };
  rec: NormConfig & {
    height: number;
    minWidth: number;
    maxWidth: number;
    /** Padded rec widths are multiples of this (shape bucketing). */
    widthStep: number;
    useSpaceChar: boolean;
    dropScore: number;
    maxBatch: number;
  };
}

export interface ClassifierModelConfig {
  kind: 'classifier';
  name: string;
  configPath: string;
  description: string;
  files: { model: string };
  input: {
    width: number;
    height: number;
    channelOrder: ChannelOrder | 'L';
    layout: 'NCHW' | 'NHWC';
    /** fill = stretch; contain = keep aspect, top-left, zero-pad after normalising; cover = centre crop. */
    resize: 'fill' | 'contain' | 'cover';
    scale: number;
    mean: number[];
    std: number[];
    name?: string;
  };
  output: { softmax: boolean; name?: string };
  labels: string[];
  topK: number;
  minScore: number;
  maxBatch: number;
  resultImage: { mode: 'input' | 'preview'; maxSide: number };
}

/** PP-OCR's DB text detector settings (the `ocr` kind's `det`, the `detector` kind's `db`). */
export type DbDetConfig = OcrModelConfig['det'];

/**
 * An object detector: YOLO-family ONNX exports (no NMS inside the model)
 * or, with format 'db', a PP-OCR-style DB text detector.
 */
export interface DetectorModelConfig {
  kind: 'detector';
  name: string;
  configPath: string;
  description: string;
  files: { model: string };
  /** 'auto' picks yolov5 or yolov8 from the output shape (yolo-decode.ts detectLayout). */
  format: 'auto' | 'yolov5' | 'yolov8' | 'db';
  /** YOLO formats. width/height absent: the model's fixed input size. */
  input: NormConfig & { width?: number; height?: number; padValue: number; name?: string };
  output: { name?: string };
  labels: string[];
  confidence: number;
  /** NMS IoU threshold (YOLO formats; DB regions do not overlap). */
  iou: number;
  classAgnosticNms: boolean;
  /** At most this many boxes per image, best first; also capped by the daemon's --max-detections. */
  maxDetections: number;
  /** Only with format 'db'. */
  db?: DbDetConfig;
  resultImage: { mode: 'crop' | 'preview'; maxSide: number };
}

/**
 * detect → crop each box → classify each crop. The referenced models'
 * configs are resolved (and checked) when the repository loads, and carried
 * here so a worker needs nothing else.
 */
export interface PipelineModelConfig {
  kind: 'pipeline';
  name: string;
  configPath: string;
  description: string;
  detector: DetectorModelConfig;
  classifier: ClassifierModelConfig;
  /** Crops per classifier run (within a request, and across requests with --max-batch > 1). */
  maxBatch: number;
  resultImage: { maxSide: number };
}

export type ModelConfig = OcrModelConfig | ClassifierModelConfig | DetectorModelConfig | PipelineModelConfig;

/** Looks up another model of the repository by name (for pipelines). */
export type ModelResolver = (name: string) => ModelConfig | undefined;

// ppocr/data/imaug/operators.py NormalizeImage: scale 1/255, ImageNet mean/std,
// applied in array order to cv2's BGR image (tools/infer/predict_det.py pre_process_list).
const DET_MEAN = [0.485, 0.456, 0.406];
const DET_STD = [0.229, 0.224, 0.225];
// tools/infer/predict_cls.py and predict_rec.py resize_norm_img: /255, -0.5, /0.5.
const HALF = [0.5, 0.5, 0.5];

const MODEL_KINDS = ['ocr', 'classifier', 'detector', 'pipeline'] as const;

// ultralytics/utils/ops.py non_max_suppression: conf_thres 0.25, iou_thres 0.45;
// ultralytics/data/augment.py LetterBox: padding value 114.
const YOLO_CONFIDENCE = 0.25;
const YOLO_IOU = 0.45;
const YOLO_PAD = 114;

export function loadModelRepository(modelsDir: string): Map<string, ModelConfig> {
  const dir = resolve(modelsDir);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new ConfigError(`models directory ${dir} does not exist or is not a directory`);
  }
  const files = new Map<string, string>();
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const file = join(dir, entry.name, 'model.json');
    if (!existsSync(file)) throw new ConfigError(`${join(dir, entry.name)}: a model folder needs a model.json`);
    files.set(entry.name, file);
  }
  // Depth-first, so a pipeline is read after the models it names; `loading` catches cycles.
  const loaded = new Map<string, ModelConfig>();
  const loading: string[] = [];
  const load = (name: string): ModelConfig | undefined => {
    const done = loaded.get(name);
    if (done) return done;
    const file = files.get(name);
    if (!file) return undefined;
    if (loading.includes(name)) {
      throw new ConfigError(`${file}: models reference each other in a cycle (${[...loading.slice(loading.indexOf(name)), name].join(' → ')})`);
    }
    loading.push(name);
    const config = loadModelConfig(file, name, load);
    loading.pop();
    loaded.set(name, config);
    return config;
  };
  const models = new Map<string, ModelConfig>();
  for (const name of files.keys()) models.set(name, load(name)!);
  return models;
}

/** `resolve` finds the models a pipeline names; without it a pipeline config is refused. */
export function loadModelConfig(file: string, name: string, resolve?: ModelResolver): ModelConfig {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
    throw new ConfigError(`${file}: the folder name "${name}" is not a valid model name (letters, digits, . _ -)`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${file}: not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const r = ConfigReader.root(file, parsed);
  const kind = r.oneOf('kind', MODEL_KINDS);
  let config: ModelConfig;
  if (kind === 'ocr') config = readOcr(r, name);
  else if (kind === 'classifier') config = readClassifier(r, name);
  else if (kind === 'detector') config = readDetector(r, name);
  else config = readPipeline(r, name, resolve);
  r.done();
  return config;
}

function readOcr(r: ConfigReader, name: string): OcrModelConfig {
  const description = r.string('description', 'PP-OCR text detection and recognition');
  const f = r.object('files', true);
  const det = r.object('det');
  const cls = r.object('cls');
  const rec = r.object('rec');
  const clsEnabled = cls.boolean('enabled', true);
  const files: OcrModelConfig['files'] = {
    det: fileRef(f, 'det'),
    rec: fileRef(f, 'rec'),
    dict: fileRef(f, 'dict'),
  };
  if (clsEnabled) files.cls = fileRef(f, 'cls');
  else if (f.has('cls')) f.raw('cls');
  f.done();

  const config: OcrModelConfig = {
    kind: 'ocr',
    name,
    configPath: r.file,
    description,
    files,
    det: readDbDet(det),
    cls: {
      ...norm(cls, 1 / 255, HALF, HALF, 'BGR'),
      enabled: clsEnabled, // utility.py has use_angle_cls off; we default it on so upside-down text reads
      height: cls.number('height', 48, { min: 8, max: 1024, integer: true }), // utility.py cls_image_shape "3, 48, 192"
      width: cls.number('width', 192, { min: 8, max: 4096, integer: true }),
      thresh: cls.number('thresh', 0.9, { min: 0, max: 1 }), // utility.py cls_thresh
      batch: cls.number('batch', 6, { min: 1, max: 256, integer: true }), // utility.py cls_batch_num
    },
    rec: {
      ...norm(rec, 1 / 255, HALF, HALF, 'BGR'),
      height: rec.number('height', 48, { min: 8, max: 1024, integer: true }), // utility.py rec_image_shape "3, 48, 320"
      minWidth: rec.number('minWidth', 320, { min: 8, max: 16384, integer: true }),
      maxWidth: rec.number('maxWidth', 3840, { min: 8, max: 65536, integer: true }), // ours: bounds memory for absurdly long crops
      // Ours: rec batches are padded to a multiple of this, bounding the shapes ORT sees to
      // maxWidth / widthStep. Coarser steps padded more and read fewer lines exactly in our tests.
      widthStep: rec.number('widthStep', 32, { min: 8, max: 4096, integer: true }),
      useSpaceChar: rec.boolean('useSpaceChar', true), // utility.py use_space_char
      dropScore: rec.number('dropScore', 0.5, { min: 0, max: 1 }), // utility.py drop_score
      maxBatch: rec.number('maxBatch', 32, { min: 1, max: 1024, integer: true }),
    },
  };
  const { rec: rc } = config;
  if (rc.maxWidth < rc.minWidth) rec.fail('maxWidth', `must be ≥ rec.minWidth (${rc.minWidth}), got ${rc.maxWidth}`);
  det.done();
  cls.done();
  rec.done();
  return config;
}

function readDbDet(det: ConfigReader): DbDetConfig {
  return {
    ...norm(det, 1 / 255, DET_MEAN, DET_STD, 'BGR'),
    limitSideLen: det.number('limitSideLen', 960, { min: 32, max: 8192, integer: true }), // tools/infer/utility.py det_limit_side_len
    limitType: det.oneOf('limitType', ['max', 'min'] as const, 'max'), // tools/infer/utility.py det_limit_type
    multiple: det.number('multiple', 32, { min: 32, max: 256, integer: true }), // operators.py DetResizeForTest: multiples of 32
    thresh: det.number('thresh', 0.3, { min: 0, max: 1 }), // utility.py det_db_thresh
    boxThresh: det.number('boxThresh', 0.6, { min: 0, max: 1 }), // utility.py det_db_box_thresh
    unclipRatio: det.number('unclipRatio', 1.5, { min: 0, exclusiveMin: true, max: 10 }), // utility.py det_db_unclip_ratio
    maxCandidates: det.number('maxCandidates', 1000, { min: 1, max: 100000, integer: true }), // db_postprocess.py max_candidates
    minSize: det.number('minSize', 3, { min: 0, max: 1000 }), // db_postprocess.py self.min_size
  };
}

function readDetector(r: ConfigReader, name: string): DetectorModelConfig {
  const description = r.string('description', 'object detector');
  const f = r.object('files', true);
  const model = fileRef(f, 'model');
  const labelsFile = f.has('labels') ? fileRef(f, 'labels') : undefined;
  f.done();
  const format = r.oneOf('format', ['auto', 'yolov5', 'yolov8', 'db'] as const, 'auto');

  const inp = r.object('input');
  const input: DetectorModelConfig['input'] = {
    ...norm(inp, 1 / 255, [0, 0, 0], [1, 1, 1], 'RGB'), // Ultralytics: RGB, /255, no mean/std
    padValue: inp.number('padValue', YOLO_PAD, { min: 0, max: 255 }),
  };
  if (inp.has('width') || inp.has('height')) {
    input.width = inp.number('width', undefined, { min: 32, max: 8192, integer: true });
    input.height = inp.number('height', undefined, { min: 32, max: 8192, integer: true });
  }
  const inputName = inp.optionalString('name');
  if (inputName) input.name = inputName;
  if (format === 'db') {
    // DB pre-processing has its own size and normalisation; a value here would be silently ignored.
    for (const k of ['width', 'height', 'scale', 'mean', 'std', 'channelOrder', 'padValue']) {
      if (inp.has(k)) inp.fail(k, 'is not used with format "db" (the db object sets the size and normalisation)');
    }
  }
  inp.done();

  const out = r.object('output');
  const output: DetectorModelConfig['output'] = {};
  const outputName = out.optionalString('name');
  if (outputName) output.name = outputName;
  out.done();

  const labels = readLabels(r, f, labelsFile, {
    fallback: format === 'db' ? ['text'] : undefined,
    missing: 'is required (class names in output order), or give files.labels',
  });

  let db: DbDetConfig | undefined;
  if (r.has('db')) {
    if (format !== 'db') r.fail('db', `is only used with "format": "db" (format is ${JSON.stringify(format)})`);
  }
  if (format === 'db') {
    const d = r.object('db');
    db = readDbDet(d);
    d.done();
    if (labels.length !== 1) r.fail('labels', `must hold one label with format "db" (a DB map has one class), got ${labels.length}`);
  }

  const ri = r.object('resultImage');
  const config: DetectorModelConfig = {
    kind: 'detector',
    name,
    configPath: r.file,
    description,
    files: { model },
    format,
    input,
    output,
    labels,
    confidence: r.number('confidence', YOLO_CONFIDENCE, { min: 0, max: 1 }),
    iou: r.number('iou', YOLO_IOU, { min: 0, max: 1 }),
    classAgnosticNms: r.boolean('classAgnosticNms', false),
    maxDetections: r.number('maxDetections', MAX_DETECTIONS, { min: 1, max: 100_000, integer: true }),
    resultImage: {
      mode: ri.oneOf('mode', ['crop', 'preview'] as const, 'crop'),
      maxSide: ri.number('maxSide', 1024, { min: 1, max: 65536, integer: true }),
    },
  };
  if (db) config.db = db;
  ri.done();
  return config;
}

function readPipeline(r: ConfigReader, name: string, resolve: ModelResolver | undefined): PipelineModelConfig {
  const description = r.string('description', 'detect → crop → classify');
  if (!resolve) r.fail('kind', 'is "pipeline", which is loaded with its model repository (loadModelRepository)');
  const ref = <K extends ModelConfig['kind']>(key: string, kind: K): Extract<ModelConfig, { kind: K }> => {
    const target = r.string(key);
    if (target === name) r.fail(key, `names this pipeline itself ("${name}")`);
    const config = resolve(target);
    if (!config) r.fail(key, `names the model "${target}", which is not in the model repository`);
    if (config.kind !== kind) r.fail(key, `must name a ${kind} model; "${target}" is a ${config.kind}`);
    return config as Extract<ModelConfig, { kind: K }>;
  };
  const detector = ref('detector', 'detector');
  const classifier = ref('classifier', 'classifier');
  const ri = r.object('resultImage');
  const config: PipelineModelConfig = {
    kind: 'pipeline',
    name,
    configPath: r.file,
    description,
    detector,
    classifier,
    maxBatch: r.number('maxBatch', classifier.maxBatch, { min: 1, max: 1024, integer: true }),
    resultImage: { maxSide: ri.number('maxSide', detector.resultImage.maxSide, { min: 1, max: 65536, integer: true }) },
  };
  ri.done();
  return config;
}

function readClassifier(r: ConfigReader, name: string): ClassifierModelConfig {
  const description = r.string('description', 'image classifier');
  const f = r.object('files', true);
  const model = fileRef(f, 'model');
  const labelsFile = f.has('labels') ? fileRef(f, 'labels') : undefined;
  f.done();

  const inp = r.object('input', true);
  const channelOrder = inp.oneOf('channelOrder', ['RGB', 'BGR', 'L'] as const, 'RGB');
  const channels = channelOrder === 'L' ? 1 : 3;
  const input: ClassifierModelConfig['input'] = {
    width: inp.number('width', undefined, { min: 1, max: 8192, integer: true }),
    height: inp.number('height', undefined, { min: 1, max: 8192, integer: true }),
    channelOrder,
    layout: inp.oneOf('layout', ['NCHW', 'NHWC'] as const, 'NCHW'),
    resize: inp.oneOf('resize', ['fill', 'contain', 'cover'] as const, 'fill'),
    scale: inp.number('scale', 1 / 255, {}),
    mean: inp.numbers('mean', new Array<number>(channels).fill(0), channels),
    std: inp.numbers('std', new Array<number>(channels).fill(1), channels, { positive: true }),
  };
  const inputName = inp.optionalString('name');
  if (inputName) input.name = inputName;
  inp.done();

  const out = r.object('output');
  const output: ClassifierModelConfig['output'] = { softmax: out.boolean('softmax', true) };
  const outputName = out.optionalString('name');
  if (outputName) output.name = outputName;
  out.done();

  const labels = readLabels(r, f, labelsFile, { missing: 'is required (an array of class names in output order), or give files.labels' });

  const ri = r.object('resultImage');
  const config: ClassifierModelConfig = {
    kind: 'classifier',
    name,
    configPath: r.file,
    description,
    files: { model },
    input,
    output,
    labels,
    topK: r.number('topK', Math.min(5, labels.length), { min: 1, max: labels.length, integer: true }),
    minScore: r.number('minScore', 0, { min: 0, max: 1 }),
    // 1 by default: many exported classifiers have a fixed batch dimension of 1.
    maxBatch: r.number('maxBatch', 1, { min: 1, max: 1024, integer: true }),
    resultImage: {
      mode: ri.oneOf('mode', ['input', 'preview'] as const, 'preview'),
      maxSide: ri.number('maxSide', 256, { min: 1, max: 65536, integer: true }),
    },
  };
  ri.done();
  return config;
}

function norm(r: ConfigReader, scale: number, mean: number[], std: number[], order: ChannelOrder): NormConfig {
  return {
    scale: r.number('scale', scale, {}),
    mean: r.numbers('mean', mean, 3),
    std: r.numbers('std', std, 3, { positive: true }),
    channelOrder: r.oneOf('channelOrder', ['RGB', 'BGR'] as const, order),
  };
}

/**
 * A file is either a path relative to the model folder or
 * `{"package": "...", "path": "..."}` inside an installed npm package,
 * found with createRequire's lookup paths (the package's `exports` may not
 * list asset files, so we locate its folder rather than require.resolve a
 * subpath). Nothing is ever downloaded.
 */
function fileRef(r: ConfigReader, key: string): string {
  const v = r.raw(key);
  const modelDir = resolve(r.file, '..');
  if (v === undefined) r.fail(key, 'is required');
  let base: string;
  let rel: string;
  let where: string;
  if (typeof v === 'string') {
    base = modelDir;
    rel = v;
    where = `the model folder ${modelDir}`;
  } else if (isPlainObject(v)) {
    const sub = new ConfigReader(r.file, v, r.path(key));
    const pkg = sub.string('package');
    rel = sub.string('path');
    sub.done();
    const root = findPackageRoot(pkg, [r.file, import.meta.url]);
    if (!root) r.fail(key, `names the npm package "${pkg}", which is not installed (npm install ${pkg})`);
    base = root;
    where = `package ${pkg} (${root})`;
  } else {
    r.fail(key, 'must be a path relative to the model folder or {"package": "...", "path": "..."}');
  }
  if (rel.length === 0 || isAbsolute(rel)) r.fail(key, `must be a relative path, got ${JSON.stringify(rel)}`);
  const full = resolve(base, rel);
  const inside = relative(base, full);
  if (inside.startsWith('..') || inside.split(sep).includes('..')) r.fail(key, `must stay inside ${where}, got ${JSON.stringify(rel)}`);
  if (!existsSync(full) || !statSync(full).isFile()) r.fail(key, `names ${full}, which does not exist in ${where}`);
  return full;
}

function findPackageRoot(pkg: string, from: string[]): string | undefined {
  for (const f of from) {
    const paths = createRequire(f).resolve.paths(pkg) ?? [];
    for (const p of paths) {
      const dir = join(p, pkg);
      if (existsSync(join(dir, 'package.json'))) return dir;
    }
  }
  return undefined;
}
