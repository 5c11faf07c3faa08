/**
 * Geometry builder thread: prepares geometry levels on request and posts
 * them back as SharedArrayBuffer-backed arrays, which the pool hands to every
 * render worker. It keeps the datasets it has parsed, so the next level from
 * the same dataset skips the parse; the pool ends the thread when it has been
 * idle for a while, and with it the parsed data and the garbage of parsing.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { messageOf } from '../errors.js';
import { collectAll } from './gc.js';
import { WorldGeometry } from './geometry.js';
import { GeometryCache } from './geometry-cache.js';
import type { BuilderData, FromBuilder, ToBuilder } from './worker-protocol.js';

const port = parentPort;
if (port === null) throw new Error('geometry-worker must run in a worker thread');

const post = (msg: FromBuilder): void => port.postMessage(msg);
const { cacheDir } = (workerData ?? {}) as BuilderData;
const cache = cacheDir === undefined ? undefined : new GeometryCache({ dir: cacheDir, warn: (message) => post({ type: 'warning', message }) });
const geometry = new WorldGeometry(cache === undefined ? {} : { cache });

port.on('message', (msg: ToBuilder) => {
  if (msg.type !== 'build') return;
  try {
    const t0 = performance.now();
    const data = geometry.levelData(msg.level);
    post({ type: 'built', level: msg.level, data, ms: performance.now() - t0, source: geometry.sources[msg.level] ?? 'built' });
  } catch (err) {
    post({ type: 'failed', level: msg.level, message: messageOf(err) });
  }
  scheduleCleanUp();
});

/**
 * Parsing leaves tens of MB of garbage (the 10m file's arcs as JS numbers,
 * the unsimplified pieces of each level) while the render workers start
 * drawing with the new level. Once no build follows at once, collect it,
 * so the heap shrinks now rather than when V8 gets round to it.
 */
let cleanUp: NodeJS.Timeout | null = null;
function scheduleCleanUp(): void {
  if (cleanUp !== null) clearTimeout(cleanUp);
  cleanUp = setTimeout(() => {
    cleanUp = null;
    collectAll();
  }, 20);
}
