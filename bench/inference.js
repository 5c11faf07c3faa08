// Inference benchmarks (issue 4): OCR through the daemon vs in-process,
// batching on vs off with 8 concurrent clients, latency, and framed ping
// round trip vs a raw loopback TCP echo measured in the same run.
import net from 'node:net';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { FramedClient } from '../dist/client/framed-client.js';
import { OcrPipeline, loadModelRepository, DEFAULT_MODELS_DIR } from '../dist/inference/index.js';
import { startDaemon, median, fmt, processRates } from './lib.js';

const sharp = createRequire(import.meta.url)('sharp');

/** A 640×480 photo-like page of four printed lines. */
export async function textImage() {
  const lines = ['MOSAICD 2026', 'HELLO WORLD', 'TILES AND TEXT', 'CAMERA 2 READY'];
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="640" height="480"><rect width="100%" height="100%" fill="#f4f1ea"/>${lines
    .map((t, i) => `<text x="40" y="${100 + i * 100}" font-family="DejaVu Sans" font-size="52" fill="#222">${t}</text>`)
    .join('')}</svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

export async function pingRoundTrip(port, n) {
  const client = await FramedClient.connect({ port });
  for (let i = 0; i < 50; i++) await client.ping();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await client.ping();
  const us = ((performance.now() - t0) / n) * 1000;
  client.close();
  return us;
}

/**
 * The baseline: the same bytes through a raw loopback TCP echo server, one
 * at a time. The echo server is a child process like the daemon, so both
 * round trips cross the same process boundary.
 */
export async function echoRoundTrip(n, bytes) {
  const server = spawn(process.execPath, ['-e', ECHO_SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = await once(server.stdout, 'data');
  const port = Number(String(line).trim());
  const socket = net.connect({ port, host: '127.0.0.1' });
  socket.setNoDelay(true);
  await once(socket, 'connect');
  const payload = Buffer.alloc(bytes, 0x61);
  const roundTrip = () =>
    new Promise((resolve) => {
      let got = 0;
      const onData = (c) => {
        got += c.length;
        if (got >= bytes) {
          socket.off('data', onData);
          resolve();
        }
      };
      socket.on('data', onData);
      socket.write(payload);
    });
  for (let i = 0; i < 50; i++) await roundTrip();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await roundTrip();
  const us = ((performance.now() - t0) / n) * 1000;
  socket.destroy();
  server.kill();
  return us;
}

const ECHO_SERVER = `
const net = require('node:net');
const s = net.createServer({ noDelay: true }, (c) => c.pipe(c)).listen(0, '127.0.0.1', () => console.log(s.address().port));
`;

export async function inferenceBench({ runs = 3 } = {}) {
  const image = await textImage();
  const rows = [];

  // In-process baseline: the same pipeline on this thread, one image at a time.
  const repo = loadModelRepository(DEFAULT_MODELS_DIR);
  const pipeline = await OcrPipeline.load(repo.get('ocr'), { intraOpThreads: 1, allowSpinning: false, maxBatch: 1, maxBatchDelayMs: 0, maxInputPixels: 40_000_000 });
  await pipeline.run(image);
  const inproc = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    for (let i = 0; i < 10; i++) await pipeline.run(image);
    inproc.push(10 / ((performance.now() - t0) / 1000));
  }
  await pipeline.close?.();
  const inprocRate = median(inproc);

  const results = { inprocImagesPerSecond: inprocRate };
  for (const [label, batch] of [['batching off', 1], ['batching on', 8]]) {
    const d = await startDaemon(['--max-batch', String(batch), '--preload', 'ocr'], { inference: true });
    try {
      const client = await FramedClient.connect({ port: d.port });
      const rates = await processRates(client, image, { camera: 0, runs });
      client.close();
      results[label] = rates;
      if (batch === 1) {
        const ping = await pingRoundTrip(d.port, 2000);
        const echo = await echoRoundTrip(2000, 49);
        results.ping = { framedUs: ping, echoUs: echo, ratio: ping / echo };
      }
    } finally {
      await d.stop();
    }
  }
  const off = results['batching off'];
  const on = results['batching on'];
  rows.push({ figure: 'OCR 640x480, in-process (one at a time)', value: `${fmt(inprocRate, 2)} images/s` });
  rows.push({ figure: 'OCR through the daemon, 1 client', value: `${fmt(off.single.imagesPerSecond, 2)} images/s` });
  rows.push({ figure: 'daemon / in-process, 1 client', value: fmt(off.single.imagesPerSecond / inprocRate, 2), target: '>= 0.9' });
  rows.push({ figure: 'latency per image, 1 client: p50 / p95', value: `${fmt(off.single.p50)} / ${fmt(off.single.p95)} ms` });
  rows.push({ figure: '8 clients, batching off', value: `${fmt(off.eight.imagesPerSecond, 2)} images/s, p50 ${fmt(off.eight.p50, 0)} / p95 ${fmt(off.eight.p95, 0)} ms` });
  rows.push({ figure: '8 clients, batching on', value: `${fmt(on.eight.imagesPerSecond, 2)} images/s, p50 ${fmt(on.eight.p50, 0)} / p95 ${fmt(on.eight.p95, 0)} ms` });
  rows.push({ figure: 'batching on / off, 8 clients', value: fmt(on.eight.imagesPerSecond / off.eight.imagesPerSecond, 2), target: '>= 1.5' });
  rows.push({ figure: 'framed ping round trip vs raw TCP echo', value: `${fmt(results.ping.framedUs, 0)} vs ${fmt(results.ping.echoUs, 0)} us = ${fmt(results.ping.ratio, 2)}x`, target: '<= 1.5' });
  return { rows, ...results };
}
