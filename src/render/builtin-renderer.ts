/**
 * The built-in (Natural Earth, Skia) renderer as a render-worker module.
 * In a thread it draws from geometry the pool prepared once and shares; in a
 * child process (no shared memory across processes) it builds each level
 * itself, lazily, on the first metatile that needs it.
 */
import { collectYoung } from './gc.js';
import { WorldGeometry } from './geometry.js';
import { TileRenderer, configureSharpForWorker } from './tile-renderer.js';
import type { RendererContext, WorkerRenderer } from './worker-protocol.js';

export interface BuiltinRendererOptions {
  readonly tileSize: 256 | 512;
  readonly palette: boolean;
}

export function createRenderer(options: unknown, context: RendererContext): WorkerRenderer {
  const { tileSize, palette } = options as BuiltinRendererOptions;
  configureSharpForWorker();
  const geometry = new WorldGeometry({ build: context.isProcess });
  const renderer = new TileRenderer({ tileSize, palette, geometry });
  let readBefore = renderer.readBack;
  return {
    renderMetaTile: (meta) => {
      readBefore = renderer.readBack;
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
