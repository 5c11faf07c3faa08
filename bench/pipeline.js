// Pipeline benchmark (issue 10 item 4): the shipped text-line-direction
// pipeline (DB text detector → crops → text-direction classifier) on a
// 640×480 page of four lines. In-process: the detector alone vs the whole
// pipeline (what classifying the crops costs), and a request's four crops
// classified one per run vs in one batch. Through the daemon: images/s with
// 1 and 8 clients, cross-request crop batching off (--max-batch 1) vs on (8).
import { FramedClient } from '../dist/client/framed-client.js';
import { DetectClassifyPipeline, DetectorPipeline, DEFAULT_MODELS_DIR, decodeImage, loadModelRepository } from '../dist/inference/index.js';
import { textImage } from './inference.js';
import { startDaemon, median, fmt, processRates } from './lib.js';

const MODEL = 'text-line-direction';
const CAMERA = 7;
const OPTIONS = { intraOpThreads: 1, allowSpinning: false, maxBatch: 1, maxBatchDelayMs: 0, maxInputPixels: 40_000_000 };

/** Images per second of `fn` run `n` times in a row, median of `runs`. */
async function rate(fn, { n, runs }) {
  await fn();
  const rates = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await fn();
    rates.push(n / ((performance.now() - t0) / 1000));
  }
  return median(rates);
}

export async function pipelineBench({ runs = 3 } = {}) {
  const image = await textImage();
  const rows = [];
  const repo = loadModelRepository(DEFAULT_MODELS_DIR);
  const config = repo.get(MODEL);

  // In-process, one image at a time on this thread.
  const detector = await DetectorPipeline.load(config.detector, OPTIONS);
  const img = await decodeImage(image, OPTIONS.maxInputPixels);
  const detectOnly = await rate(() => detector.detect(img), { n: 10, runs });
  await detector.close();
  const inproc = {};
  for (const maxBatch of [1, 8]) {
    const p = await DetectClassifyPipeline.load({ ...config, maxBatch }, OPTIONS);
    inproc[maxBatch] = await rate(() => p.run(image), { n: 10, runs });
    await p.close();
  }

  const daemon = {};
  for (const batch of [1, 8]) {
    const d = await startDaemon(['--max-batch', String(batch), '--preload', MODEL, '--camera-model', `${CAMERA}=${MODEL}`], { inference: true });
    try {
      const client = await FramedClient.connect({ port: d.port });
      const rates = await processRates(client, image, {
        camera: CAMERA,
        runs,
        check: (json) => {
          if (json.result_count !== 4) throw new Error(`expected 4 lines, got ${json.result_count}`);
        },
      });
      const stats = (await client.stats()).json.stats.inference.models[MODEL];
      client.close();
      daemon[batch] = {
        ...rates,
        meanBatchSize: stats.meanBatchSize,
        maxBatchSize: stats.maxBatchSize,
      };
    } finally {
      await d.stop();
    }
  }

  rows.push({ figure: 'text-lines detector alone, in-process, 640x480', value: `${fmt(detectOnly, 2)} images/s` });
  rows.push({ figure: 'pipeline (4 crops) in-process, crops one per run', value: `${fmt(inproc[1], 2)} images/s` });
  rows.push({ figure: 'pipeline in-process, 4 crops in one run', value: `${fmt(inproc[8], 2)} images/s` });
  rows.push({ figure: 'pipeline / detector alone (crop batch 8)', value: fmt(inproc[8] / detectOnly, 2) });
  rows.push({ figure: 'crop batch 8 / 1, in-process', value: fmt(inproc[8] / inproc[1], 2) });
  rows.push({ figure: 'pipeline through the daemon, 1 client', value: `${fmt(daemon[1].single.imagesPerSecond, 2)} images/s, p50 ${fmt(daemon[1].single.p50, 0)} ms` });
  rows.push({ figure: 'daemon / in-process, 1 client', value: fmt(daemon[1].single.imagesPerSecond / inproc[8], 2) });
  rows.push({ figure: '8 clients, --max-batch 1 (crops batched per request)', value: `${fmt(daemon[1].eight.imagesPerSecond, 2)} images/s, p50 ${fmt(daemon[1].eight.p50, 0)} / p95 ${fmt(daemon[1].eight.p95, 0)} ms, mean batch ${fmt(daemon[1].meanBatchSize)}` });
  rows.push({ figure: '8 clients, --max-batch 8 (also across requests)', value: `${fmt(daemon[8].eight.imagesPerSecond, 2)} images/s, p50 ${fmt(daemon[8].eight.p50, 0)} / p95 ${fmt(daemon[8].eight.p95, 0)} ms, mean batch ${fmt(daemon[8].meanBatchSize)}` });
  rows.push({ figure: 'cross-request batching on / off, 8 clients', value: fmt(daemon[8].eight.imagesPerSecond / daemon[1].eight.imagesPerSecond, 2) });
  return { rows, detectOnly, inproc, daemon };
}
