import 'sharp'; // sharp must be loaded on the main thread before workers use it (sharp docs: worker threads on glibc)
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { CancelledError, ConfigError, MosaicError, ProtocolError, ShuttingDownError, codeOf } from '../errors.js';
import { INFERENCE_TIMEOUT_MS, MAX_DETECTIONS, MAX_INPUT_PIXELS } from '../limits.js';
import { threadWorker } from '../pool/thread-worker.js';
import { loadModelRepository, type ModelConfig } from './config.js';
import type { WorkerInit } from './messages.js';
import type { InferenceResult } from './types.js';
import { WorkerPool } from './worker-pool.js';

export interface InferenceEngineOptions {
  /** Default: the package's models/ folder. */
  modelsDir: string;
  workers: number;
  intraOpThreads: number;
  /** Recognition (and classifier) batching across concurrent requests; 1 = off. */
  maxBatch: number;
  maxBatchDelayMs: number;
  maxInputPixels: number;
  /** Caps every detector's boxes per image. */
  maxDetections: number;
  timeoutMs: number;
  /** Model names to load at start; ready() is true once every worker has them. */
  preload: string[];
  /** Requests one worker holds at once (default: 4 with batching on, 2 with it off). */
  jobsPerWorker?: number;
}

/** ../../models from src/inference or dist/inference. */
export const DEFAULT_MODELS_DIR = fileURLToPath(new URL('../../models/', import.meta.url));

/**
 * Defaults, measured on the 2-vCPU target (PP-OCRv4, a 640×480 image with
 * four text lines):
 * - workers = cores (at most 4) × intraOpThreads 1: with 8 concurrent
 *   requests 2 × 1 did 8.5 img/s, 1 × 2 threads 7.0, 1 × 1 5.3. Two threads
 *   serve a lone request faster on an idle machine (145 vs 194 ms) but
 *   cost ~15% more CPU per image and fell to 243 ms when other processes
 *   were busy. Each worker costs ~100–150 MB RSS; lower `workers` to leave
 *   a core to tile rendering;
 * - maxBatch 1 (batching off): batching recognition crops saved no CPU
 *   (rec cost per crop flat from batch 1 to 4, +20% at 8) and 8-way
 *   throughput was the same or lower (5.1 vs 5.3, 8.3 vs 8.5 img/s). Turn
 *   it on where larger batches pay (more intra-op threads, a GPU build).
 */
export function defaultOptions(): InferenceEngineOptions {
  const cores = availableParallelism();
  return {
    modelsDir: DEFAULT_MODELS_DIR,
    workers: Math.max(1, Math.min(4, cores)),
    intraOpThreads: 1,
    maxBatch: 1,
    // With batching on: long enough to catch a neighbour's detection run (~40–200 ms);
    // a batch closes as soon as every request the worker holds has queued its crops.
    maxBatchDelayMs: 50,
    maxInputPixels: MAX_INPUT_PIXELS,
    maxDetections: MAX_DETECTIONS,
    timeoutMs: INFERENCE_TIMEOUT_MS,
    preload: [],
  };
}

interface ModelStats {
  requests: number;
  errors: number;
  errorsByCode: Record<string, number>;
  totalMs: number;
  completed: number;
  maxMs: number;
  batches: number;
  batchedItems: number;
  maxBatchSize: number;
}

export class InferenceEngine {
  private readonly stat = new Map<string, ModelStats>();
  private readonly pool: WorkerPool;
  private preloadError: MosaicError | undefined;
  private readyWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private closed = false;

  private constructor(
    readonly options: Readonly<InferenceEngineOptions>,
    private readonly models: Map<string, ModelConfig>,
  ) {
    for (const name of models.keys()) {
      this.stat.set(name, { requests: 0, errors: 0, errorsByCode: {}, totalMs: 0, completed: 0, maxMs: 0, batches: 0, batchedItems: 0, maxBatchSize: 0 });
    }
    const workerData: WorkerInit = {
      models: [...models.values()],
      intraOpThreads: options.intraOpThreads,
      // Spinning intra-op threads steal the cores other workers and the daemon need.
      allowSpinning: false,
      maxBatch: options.maxBatch,
      maxBatchDelayMs: options.maxBatchDelayMs,
      maxInputPixels: options.maxInputPixels,
      maxDetections: options.maxDetections,
      preload: options.preload,
    };
    this.pool = new WorkerPool({
      size: options.workers,
      jobsPerWorker: options.jobsPerWorker ?? (options.maxBatch > 1 ? 4 : 2),
      timeoutMs: options.timeoutMs,
      spawn: () => threadWorker(import.meta.url, 'inference-worker', workerData),
      onEvent: (e) => {
        if (e.type === 'batch') {
          const s = this.stat.get(e.model);
          if (s) {
            s.batches++;
            s.batchedItems += e.size;
            if (e.size > s.maxBatchSize) s.maxBatchSize = e.size;
          }
        } else if (e.type === 'ready') {
          this.checkReady();
        } else if (e.type === 'preload-failed') {
          this.preloadError ??= new MosaicError(e.error.code, `preloading model "${e.model}" failed: ${e.error.message}`);
          for (const w of this.readyWaiters.splice(0)) w.reject(this.preloadError);
        }
      },
    });
  }

  /** Reads and validates every model config (ConfigError naming the file and field), then starts the workers. */
  static async create(options: Partial<InferenceEngineOptions> = {}): Promise<InferenceEngine> {
    const opts = resolveOptions(options);
    const models = loadModelRepository(opts.modelsDir);
    for (const name of opts.preload) {
      if (!models.has(name)) {
        throw new ConfigError(`preload names model "${name}", which is not in ${opts.modelsDir} (models: ${[...models.keys()].join(', ') || 'none'})`);
      }
    }
    return new InferenceEngine(opts, models);
  }

  modelNames(): string[] {
    return [...this.models.keys()];
  }

  hasModel(name: string): boolean {
    return this.models.has(name);
  }

  /** The validated config of a model (kind, files, thresholds). */
  modelConfig(name: string): ModelConfig | undefined {
    return this.models.get(name);
  }

  async process(model: string, image: Uint8Array, signal?: AbortSignal): Promise<InferenceResult[]> {
    if (this.closed) throw new ShuttingDownError();
    const s = this.stat.get(model);
    if (!s) throw new ProtocolError(`unknown model "${model}" (available: ${this.modelNames().join(', ')})`);
    s.requests++;
    const started = performance.now();
    try {
      if (!(image instanceof Uint8Array) || image.byteLength === 0) throw new ProtocolError('the image payload is empty');
      const results = await this.pool.run(model, image, signal);
      const ms = performance.now() - started;
      s.completed++;
      s.totalMs += ms;
      if (ms > s.maxMs) s.maxMs = ms;
      return results;
    } catch (err) {
      if (!(err instanceof CancelledError)) {
        s.errors++;
        const code = codeOf(err);
        s.errorsByCode[code] = (s.errorsByCode[code] ?? 0) + 1;
      }
      throw err;
    }
  }

  /** True once every worker has loaded the preloaded models (and until close()). */
  ready(): boolean {
    return !this.closed && this.preloadError === undefined && this.pool.ready();
  }

  /** Resolves when ready(); rejects if a preload failed. */
  whenReady(): Promise<void> {
    if (this.preloadError) return Promise.reject(this.preloadError);
    if (this.ready()) return Promise.resolve();
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  /** Per model: requests, errors, mean/max ms of completed requests, batched model runs (rec for OCR) and their mean/max size. */
  stats(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [name, s] of this.stat) {
      out[name] = {
        requests: s.requests,
        errors: s.errors,
        errorsByCode: { ...s.errorsByCode },
        meanMs: s.completed ? round(s.totalMs / s.completed) : 0,
        maxMs: round(s.maxMs),
        batches: s.batches,
        meanBatchSize: s.batches ? round(s.batchedItems / s.batches) : 0,
        maxBatchSize: s.maxBatchSize,
      };
    }
    return out;
  }

  /** Workers alive, queued and running requests, restarts, timeouts, crashes. */
  poolStats(): Record<string, number> {
    return this.pool.stats();
  }

  /** Idempotent. Refuses new requests, fails queued ones (SHUTTING_DOWN), waits for running ones, stops the workers. */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.readyWaiters.splice(0)) w.reject(new ShuttingDownError());
    await this.pool.close();
  }

  private checkReady(): void {
    if (this.ready()) for (const w of this.readyWaiters.splice(0)) w.resolve();
  }
}

function resolveOptions(partial: Partial<InferenceEngineOptions>): InferenceEngineOptions {
  const d = defaultOptions();
  const o: InferenceEngineOptions = { ...d };
  for (const [k, v] of Object.entries(partial)) if (v !== undefined) (o as unknown as Record<string, unknown>)[k] = v;
  const int = (key: keyof InferenceEngineOptions, min: number, max: number) => {
    const v = o[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new ConfigError(`inference option ${key} must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
    }
  };
  int('workers', 1, 256);
  int('intraOpThreads', 1, 256);
  int('maxBatch', 1, 1024);
  int('maxBatchDelayMs', 0, 10_000);
  int('maxInputPixels', 1, Number.MAX_SAFE_INTEGER);
  int('maxDetections', 1, 100_000);
  int('timeoutMs', 1, 2_147_483_647);
  if (o.jobsPerWorker !== undefined) int('jobsPerWorker', 1, 1024);
  if (typeof o.modelsDir !== 'string' || o.modelsDir.length === 0) throw new ConfigError('inference option modelsDir must be a path');
  if (!Array.isArray(o.preload) || !o.preload.every((p) => typeof p === 'string')) {
    throw new ConfigError('inference option preload must be an array of model names');
  }
  return o;
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}
