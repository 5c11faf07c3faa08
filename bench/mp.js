// multiprocessing.connection bench (issue 10): images/s and p50/p95 latency
// for a Python client (seed 003 style: `conn.send(pickle.dumps({'frame_num':
// n, 'image': ndarray}))`) against the framed protocol with the same model,
// the same picture and the same daemon in the same run. One request at a
// time per client, as the seeds' clients do.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createRequire } from 'node:module';
import { FramedClient } from '../dist/client/framed-client.js';
import { freePort, percentile, startDaemon, fmt } from './lib.js';
import { textImage } from './inference.js';

const sharp = createRequire(import.meta.url)('sharp');
const run = promisify(execFile);

const MODEL = 'text-direction';
const WARMUP = 5;

/** The Python side: n requests in a row, each timed; prints the latencies in ms as JSON. */
const PY_CLIENT = `
import json, pickle, sys, time
from multiprocessing.connection import Client
import numpy as np
port, n, warmup, kind, path, h, w, model = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6]), int(sys.argv[7]), sys.argv[8]
data = open(path, 'rb').read()
image = np.frombuffer(data, np.uint8).reshape(h, w, 3) if kind == 'bgr' else np.frombuffer(data, np.uint8)
c = Client(('127.0.0.1', port))
lat = []
for i in range(warmup + n):
    t0 = time.perf_counter()
    c.send(pickle.dumps({'frame_num': i, 'image': image, 'model': model}))
    reply = pickle.loads(c.recv())
    assert reply['error'] is None, reply['error']
    if i >= warmup:
        lat.append((time.perf_counter() - t0) * 1000)
c.close()
print(json.dumps(lat))
`;

async function framed(port, png, n) {
  const client = await FramedClient.connect({ port });
  const lat = [];
  for (let i = 0; i < WARMUP + n; i++) {
    const t0 = performance.now();
    const r = await client.process(png, { camera: 0, model: MODEL });
    if (!r.json.success) throw new Error(JSON.stringify(r.json.error));
    if (i >= WARMUP) lat.push(performance.now() - t0);
  }
  client.close();
  return lat;
}

async function python(port, kind, file, h, w, n) {
  const { stdout } = await run('python3', ['-c', PY_CLIENT, String(port), String(n), String(WARMUP), kind, file, String(h), String(w), MODEL], { maxBuffer: 1 << 24 });
  return JSON.parse(stdout);
}

function summary(lat) {
  const total = lat.reduce((a, b) => a + b, 0);
  return { imagesPerSecond: lat.length / (total / 1000), p50: percentile(lat, 50), p95: percentile(lat, 95) };
}

export async function mpBench({ n = 60 } = {}) {
  const png = await textImage();
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const bgr = Buffer.from(data);
  for (let i = 0; i < bgr.length; i += 3) [bgr[i], bgr[i + 2]] = [bgr[i + 2], bgr[i]];
  const jpeg = await sharp(png).jpeg({ quality: 95 }).toBuffer();
  const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const path = await import('node:path');
  const dir = await mkdtemp(path.join(tmpdir(), 'mosaicd-bench-mp-'));
  const bgrFile = path.join(dir, 'frame.bgr');
  const jpegFile = path.join(dir, 'frame.jpg');
  await writeFile(bgrFile, bgr);
  await writeFile(jpegFile, jpeg);
  const mpPort = await freePort();
  const d = await startDaemon(['--mp-port', String(mpPort), '--preload', MODEL], { inference: true });
  try {
    // Interleaved, so a noisy neighbour hurts every transport alike.
    const f1 = await framed(d.port, png, n / 2);
    const raw1 = await python(mpPort, 'bgr', bgrFile, info.height, info.width, n / 2);
    const jpg1 = await python(mpPort, 'jpeg', jpegFile, info.height, info.width, n / 2);
    const f2 = await framed(d.port, png, n / 2);
    const raw2 = await python(mpPort, 'bgr', bgrFile, info.height, info.width, n / 2);
    const jpg2 = await python(mpPort, 'jpeg', jpegFile, info.height, info.width, n / 2);
    const base = summary([...f1, ...f2]);
    const raw = summary([...raw1, ...raw2]);
    const jpg = summary([...jpg1, ...jpg2]);
    const rows = [
      { figure: `framed, PNG ${info.width}×${info.height} (${png.length} B), ${MODEL}, 1 client`, value: `${fmt(base.imagesPerSecond)} images/s, p50 ${fmt(base.p50)} / p95 ${fmt(base.p95)} ms` },
      { figure: `mp (Python), numpy BGR ${info.width}×${info.height}×3, double-pickled`, value: `${fmt(raw.imagesPerSecond)} images/s, p50 ${fmt(raw.p50)} / p95 ${fmt(raw.p95)} ms` },
      { figure: `mp (Python), JPEG 1-D array (${jpeg.length} B), double-pickled`, value: `${fmt(jpg.imagesPerSecond)} images/s, p50 ${fmt(jpg.p50)} / p95 ${fmt(jpg.p95)} ms` },
      { figure: 'mp numpy BGR / framed PNG, images/s', value: fmt(raw.imagesPerSecond / base.imagesPerSecond, 2) },
      { figure: 'mp JPEG / framed PNG, images/s', value: fmt(jpg.imagesPerSecond / base.imagesPerSecond, 2) },
    ];
    return { n, model: MODEL, framed: base, mpNumpyBgr: raw, mpJpeg: jpg, rows };
  } finally {
    await d.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
