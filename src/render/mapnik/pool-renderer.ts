/**
 * The Mapnik renderer as a render-worker module (src/render/worker-protocol.ts),
 * so a Mapnik map runs on the shared worker pool: always in child processes
 * (RenderPool gives any renderer module but the built-in one processes).
 */
import type { RendererContext, RenderWorkerInit, WorkerRenderer } from '../worker-protocol.js';
import { createMapnikRenderer } from './mapnik-renderer.js';
import type { MapnikRendererOptions } from './options.js';

export function createRenderer(options: unknown, _context: RendererContext): Promise<WorkerRenderer> {
  return createMapnikRenderer(options as MapnikRendererOptions);
}

/** The init data of a render worker that draws this Mapnik style. */
export function mapnikWorkerInit(options: MapnikRendererOptions): RenderWorkerInit {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return { module: new URL(`./pool-renderer${ext}`, import.meta.url).href, options };
}
