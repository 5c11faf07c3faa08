import * as ort from 'onnxruntime-node';

export interface TensorOut {
  data: Float32Array;
  dims: readonly number[];
}

/** Runs a model on one float32 input; the pipelines see only this, never ORT. */
export type TensorRunner = (data: Float32Array, dims: readonly number[]) => Promise<TensorOut>;

export interface SessionSettings {
  intraOpThreads: number;
  /** Let idle intra-op threads spin-wait (ORT's default). Only matters with intraOpThreads > 1. */
  allowSpinning: boolean;
  /** ORT's per-shape memory-pattern planning (default off; see openSession). */
  memPattern?: boolean;
}

export interface OpenSession {
  run: TensorRunner;
  /** The input's declared shape: numbers for fixed dimensions, names for dynamic ones (empty if unknown). */
  inputDims: readonly (number | string)[];
  release(): Promise<void>;
}

/**
 * One ORT CPU session. session.run() does its native work synchronously on
 * the calling thread (onnxruntime-node backend.js wraps it in setImmediate),
 * so this is only ever called inside an inference worker.
 */
export async function openSession(path: string, settings: SessionSettings, names: { input?: string; output?: string } = {}): Promise<OpenSession> {
  const session = await ort.InferenceSession.create(path, {
    executionProviders: ['cpu'],
    intraOpNumThreads: settings.intraOpThreads,
    interOpNumThreads: 1,
    // Sequential: PARALLEL only helps branchy graphs and measured slower here (notes §5).
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    // Off: the memory pattern is planned and cached per input shape. With varied image
    // sizes it measured the same CPU per image and ~100 MB more RSS than without.
    enableMemPattern: settings.memPattern ?? false,
    extra: { session: { intra_op: { allow_spinning: settings.allowSpinning ? '1' : '0' } } },
  });
  const input = names.input ?? session.inputNames[0];
  const output = names.output ?? session.outputNames[0];
  if (!input || !session.inputNames.includes(input)) {
    throw new Error(`${path}: no input named ${JSON.stringify(input)} (inputs: ${session.inputNames.join(', ')})`);
  }
  if (!output || !session.outputNames.includes(output)) {
    throw new Error(`${path}: no output named ${JSON.stringify(output)} (outputs: ${session.outputNames.join(', ')})`);
  }
  const meta = session.inputMetadata.find((m) => m.name === input);
  const inputDims = meta?.isTensor ? meta.shape : [];
  return {
    inputDims,
    async run(data, dims) {
      const feeds = { [input]: new ort.Tensor('float32', data, dims) };
      const result = await session.run(feeds, [output]);
      const t = result[output]!;
      if (t.type !== 'float32') throw new Error(`${path}: output ${output} is ${t.type}, expected float32`);
      return { data: t.data as Float32Array, dims: t.dims };
    },
    release: () => session.release(),
  };
}
