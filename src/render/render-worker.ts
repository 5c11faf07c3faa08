/**
 * Render worker thread: renders one metatile per 'render' message and posts
 * the PNGs back. It prepares no geometry: the pool sends each level (shared
 * memory, built once in the pool's builder thread) in a 'geometry' message
 * before the first render that needs it, so the worker is ready at once.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { codeOf, messageOf } from '../errors.js';
import { collectYoung } from './gc.js';
import { WorldGeometry } from './geometry.js';
import { TileRenderer, configureSharpForWorker, type RenderedTile } from './tile-renderer.js';
import type { FromWorker, RenderWorkerData, TileSlice, ToWorker, WorkerFault } from './worker-protocol.js';
import { misbehave } from '../util/test-fault.js';

const port = parentPort;
if (port === null) throw new Error('render-worker must run in a worker thread');

const options = workerData as RenderWorkerData;
configureSharpForWorker();
const geometry = new WorldGeometry({ build: false });
const renderer = new TileRenderer({ tileSize: options.tileSize, palette: options.palette, geometry });

const post = (msg: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(msg, transfer);

port.on('message', (msg: ToWorker) => {
  if (msg.type === 'geometry') {
    geometry.addLevel(msg.level, msg.data);
  } else if (msg.type === 'render') {
    const readBefore = renderer.readBack;
    renderer.render(msg.meta).then(
      (tiles) => {
        const { slices, data } = pack(tiles);
        post({ type: 'rendered', id: msg.id, tiles: slices, data }, [data]);
        // The rows' pixel Buffers are garbage now; a scavenge (well under a
        // millisecond on this small heap) frees them before the next render
        // allocates more, instead of letting them pile up.
        if (renderer.readBack !== readBefore) collectYoung();
      },
      (err: unknown) => post({ type: 'failed', id: msg.id, error: { code: codeOf(err), message: messageOf(err) } }),
    );
  } else if (msg.type === 'test-fault') {
    fault(msg.id, msg.fault);
  }
});
post({ type: 'ready' });

function pack(tiles: RenderedTile[]): { slices: TileSlice[]; data: ArrayBuffer } {
  let total = 0;
  for (const t of tiles) total += t.png.byteLength;
  const bytes = new Uint8Array(total);
  const slices: TileSlice[] = [];
  let offset = 0;
  for (const t of tiles) {
    bytes.set(t.png, offset);
    slices.push({ x: t.x, y: t.y, offset, length: t.png.byteLength });
    offset += t.png.byteLength;
  }
  return { slices, data: bytes.buffer };
}

/** TEST ONLY: see src/util/test-fault.ts. */
function fault(id: number, kind: WorkerFault): void {
  misbehave(kind, { name: 'renderer', worker: 'render worker' }, (message) =>
    post({ type: 'failed', id, error: { code: 'PROCESSING_ERROR', message } }),
  );
}
