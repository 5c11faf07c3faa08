// gRPC Vision/Stream vs the framed TCP protocol (issue 10): the same OCR
// model, the same image, the same daemon, in the same run, with the same
// number of frames in flight; runs alternate so drift hits both alike.
import { createRequire } from 'node:module';
import grpc from '@grpc/grpc-js';
import { FramedClient } from '../dist/client/framed-client.js';
import { loadServices } from '../dist/transport/grpc/protos.js';
import { textImage } from './inference.js';
import { freePort, startDaemon, median, fmt, pump } from './lib.js';

const sharp = createRequire(import.meta.url)('sharp');

/** Frames kept in flight: the daemon's inference lane runs 2 per worker. */
const IN_FLIGHT = 4;

/** `total` frames through `send`, at most IN_FLIGHT at once; per-frame latency from send to answer. */
const pumpFrames = (total, send) => pump(IN_FLIGHT, total, send);

/** One Vision/Stream call; send(id) writes a frame and resolves with its result (matched by request_id). */
function openStream(port) {
  const { VisionClient } = loadServices();
  const client = new VisionClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const call = client.Stream();
  const waiting = new Map();
  call.on('data', (r) => {
    const w = waiting.get(r.request_id);
    waiting.delete(r.request_id);
    if (!r.success) w?.reject(new Error(`${r.error.code}: ${r.error.message}`));
    else w?.resolve(r);
  });
  call.on('error', (err) => {
    for (const w of waiting.values()) w.reject(err);
  });
  return {
    send(image, id) {
      return new Promise((resolve, reject) => {
        waiting.set(String(id), { resolve, reject });
        call.write({ camera_number: 0, request_id: String(id), image });
      });
    },
    close() {
      call.end();
      client.close();
    },
  };
}

/** Both wires over `runs` alternating runs of `frames` frames of `image`; medians. */
async function compare(viaFramed, viaGrpc, runs, frames) {
  const f = [];
  const g = [];
  for (let r = 0; r < runs; r++) {
    f.push(await pumpFrames(frames, viaFramed));
    g.push(await pumpFrames(frames, viaGrpc));
  }
  const pick = (xs, k) => median(xs.map((x) => x[k]));
  const framed = { imagesPerSecond: pick(f, 'imagesPerSecond'), p50: pick(f, 'p50'), p95: pick(f, 'p95') };
  const grpcs = { imagesPerSecond: pick(g, 'imagesPerSecond'), p50: pick(g, 'p50'), p95: pick(g, 'p95') };
  return { framed, grpc: grpcs, ratio: grpcs.imagesPerSecond / framed.imagesPerSecond };
}

const line = (x) => `${fmt(x.imagesPerSecond, 2)} images/s, p50 ${fmt(x.p50, 0)} / p95 ${fmt(x.p95, 0)} ms`;

export async function grpcBench({ runs = 3, frames = 24 } = {}) {
  const image = await textImage();
  // A blank 64x64 frame: the detector finds no text, so the wire's own cost shows.
  const blank = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#ffffff' } }).png().toBuffer();
  const grpcPort = await freePort();
  // No idle timeout: the framed connection waits while the gRPC runs go.
  const d = await startDaemon(['--grpc-port', String(grpcPort), '--preload', 'ocr', '--idle-timeout-ms', '0'], { inference: true });
  try {
    const framed = await FramedClient.connect({ port: d.port });
    const stream = openStream(grpcPort);
    const via = (img) => ({
      framed: (id) =>
        framed.process(img, { camera: 0, requestId: id }).then((r) => {
          if (!r.json.success) throw new Error(JSON.stringify(r.json.error));
        }),
      grpc: (id) => stream.send(img, id),
    });
    const text = via(image);
    const empty = via(blank);
    // Warm up both paths (model load, JIT, HTTP/2 windows).
    await pumpFrames(IN_FLIGHT * 2, text.framed);
    await pumpFrames(IN_FLIGHT * 2, text.grpc);
    const ocr = await compare(text.framed, text.grpc, runs, frames);
    const wire = await compare(empty.framed, empty.grpc, runs, frames * 10);
    framed.close();
    stream.close();
    const rows = [
      { figure: `OCR 640x480 over framed TCP, ${IN_FLIGHT} in flight`, value: line(ocr.framed) },
      { figure: `OCR 640x480 over gRPC Vision/Stream, ${IN_FLIGHT} in flight`, value: line(ocr.grpc) },
      { figure: 'gRPC Stream / framed TCP, OCR images/s', value: fmt(ocr.ratio, 2), target: '>= 0.9' },
      { figure: `blank 64x64 (no text) over framed TCP, ${IN_FLIGHT} in flight`, value: line(wire.framed) },
      { figure: `blank 64x64 (no text) over gRPC Vision/Stream, ${IN_FLIGHT} in flight`, value: line(wire.grpc) },
      { figure: 'gRPC Stream / framed TCP, blank images/s', value: fmt(wire.ratio, 2) },
    ];
    return { rows, ocr, wire };
  } finally {
    await d.stop();
  }
}
