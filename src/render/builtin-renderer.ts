/**
 * The built-in (Natural Earth, Skia) renderer as a render-worker module.
 * In a thread it draws from geometry the pool prepared once and shares; in a
 * child process (no shared memory across processes) it builds each level
 * itself, lazily, on the first metatile that needs it.
 */
import { collectYoung } from './gc.js';
import { pixelZoomOf, WorldGeometry } from './geometry.js';
import { GeometryCache } from './geometry-cache.js';
import { TileRenderer, configureSharpForWorker } from './tile-renderer.js';
import type { RendererContext, WorkerRenderer } from './worker-protocol.js';

export interface BuiltinRendererOptions {
  readonly tileSize: 256 | 512;
  readonly palette: boolean;
  /** Processes only: the geometry cache root its levels are loaded from and stored in (undefined = none). */
  readonly cacheDir?: string | undefined;
}

export function createRenderer(options: unknown, context: RendererContext): WorkerRenderer {
  const { tileSize, palette, cacheDir } = options as BuiltinRendererOptions;
  configureSharpForWorker();
  const emit = context.emit ?? (() => undefined);
  const cache = context.isProcess && cacheDir !== undefined ? new GeometryCache({ dir: cacheDir, warn: (message) => emit({ type: 'warning', message }) }) : undefined;
  const geometry = new WorldGeometry({ build: context.isProcess, ...(cache !== undefined ? { cache } : {}) });
  const renderer = new TileRenderer({ tileSize, palette, geometry });
  let readBefore = renderer.readBack;
  return {
    renderMetaTile: (meta) => {
      readBefore = renderer.readBack;
      if (!context.isProcess) return renderer.render(meta);
      // A process makes its own levels, lazily: say where each came from (the pool logs it).
      const level = geometry.levelOf(pixelZoomOf(meta.z, tileSize));
      if (geometry.has(level)) return renderer.render(meta);
      const t0 = performance.now();
      geometry.levelData(level);
      emit({ type: 'geometry', level, source: geometry.sources[level] ?? 'built', ms: performance.now() - t0 });
      return renderer.render(meta);
    },
    addGeometry: (level, data) => geometry.addLevel(level, data),
    // The rows' pixel Buffers are garbage now; a scavenge (well under a
    // millisecond on this small heap) frees them before the next render
    // allocates more, instead of letting them pile up.
    afterJob: () => {
      if (renderer.readBack !== readBefore) collectYoung();
    },
  };
}
