import type { DaemonConfig } from '../config/daemon-config.js';
import { RenderPool } from '../render/render-pool.js';
import { mapnikWorkerInit } from '../render/mapnik/pool-renderer.js';
import { startMapnikProcess, type SpawnRendererProcess } from '../render/mapnik/process-client.js';
import type { MapnikRendererOptions } from '../render/mapnik/options.js';
import type { MapRenderer } from './map-renderers.js';
import type { MapSpec } from './map-spec.js';

type PoolFlags = Pick<DaemonConfig, 'concurrency' | 'renderTimeoutMs' | 'isolation' | 'recycleAfterJobs' | 'recycleRssMb' | 'restartBackoffMs' | 'maxRestartBackoffMs'>;

/** The Mapnik renderer's options of a map. */
export function mapnikOptionsOf(spec: MapSpec): MapnikRendererOptions {
  return { stylePath: spec.style ?? '', tileSize: spec.tileSize, format: spec.palette ? 'png256' : 'png' };
}

/**
 * Loads every Mapnik map's style once in a probe process, before anything
 * else starts: a style that does not load (or a missing @mapnik/mapnik)
 * fails start-up with the renderer's coded error (CONFIG_ERROR naming the
 * file and Mapnik's message, RENDERER_UNAVAILABLE), not every render later.
 */
export async function checkMapnikStyles(specs: readonly MapSpec[], spawn?: SpawnRendererProcess): Promise<void> {
  for (const spec of specs) {
    if (spec.renderer !== 'mapnik') continue;
    const probe = await startMapnikProcess(mapnikOptionsOf(spec), spawn);
    await probe.close();
  }
}

/**
 * A map's renderer: its own render pool, since a worker's renderer and
 * options are fixed when it starts. The builtin map runs in threads (or
 * processes with --isolation process); a Mapnik map always in processes.
 */
export function rendererFor(spec: MapSpec, flags: PoolFlags): MapRenderer {
  return new RenderPool({
    workers: flags.concurrency,
    tileSize: spec.tileSize,
    palette: spec.palette,
    timeoutMs: flags.renderTimeoutMs,
    isolation: flags.isolation,
    recycleAfterJobs: flags.recycleAfterJobs,
    recycleRssMb: flags.recycleRssMb,
    restartBackoffMs: flags.restartBackoffMs,
    maxRestartBackoffMs: flags.maxRestartBackoffMs,
    ...(spec.renderer === 'mapnik' ? { renderer: mapnikWorkerInit(mapnikOptionsOf(spec)) } : {}),
  });
}
