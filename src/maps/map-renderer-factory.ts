import { geometryCacheDirOf, type DaemonConfig } from '../config/daemon-config.js';
import { silentLogger, type Logger } from '../log.js';
import { RenderPool } from '../render/render-pool.js';
import { TirexRenderer } from '../render/tirex/tirex-renderer.js';
import { mapnikWorkerInit } from '../render/mapnik/pool-renderer.js';
import { startMapnikProcess, type SpawnRendererProcess } from '../render/mapnik/process-client.js';
import type { MapnikRendererOptions } from '../render/mapnik/options.js';
import type { MapRenderer } from './map-renderers.js';
import type { MapSpec } from './map-spec.js';

type PoolFlags = Pick<DaemonConfig, 'concurrency' | 'renderTimeoutMs' | 'isolation' | 'recycleAfterJobs' | 'recycleRssMb' | 'restartBackoffMs' | 'maxRestartBackoffMs'> &
  Partial<Pick<DaemonConfig, 'cacheDir' | 'geometryCache'>>;

/** The Mapnik renderer's options of a map. */
export function mapnikOptionsOf(spec: MapSpec): MapnikRendererOptions {
  const o = spec.mapnik;
  return {
    stylePath: spec.style ?? '',
    tileSize: spec.tileSize,
    format: o?.format ?? (spec.palette ? 'png256' : 'png'),
    ...(o?.fontsDir !== undefined ? { fontsDir: o.fontsDir } : {}),
    ...(o?.bufferSize !== undefined ? { bufferSize: o.bufferSize } : {}),
    ...(o !== undefined ? { scale: o.scale, strict: o.strict } : {}),
  };
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
 * processes with --isolation process); a Mapnik map always in processes;
 * a tirex map in its backend's processes, which TirexRenderer supervises
 * as tirex-backend-manager would (its options were resolved with the map).
 */
export function rendererFor(spec: MapSpec, flags: PoolFlags, log: Logger = silentLogger()): MapRenderer {
  if (spec.renderer === 'tirex') {
    if (spec.tirex === undefined) throw new Error(`map ${spec.name}: renderer tirex without its resolved options`);
    return new TirexRenderer(spec.tirex, log.child({ map: spec.name }));
  }
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
    ...(spec.renderer === 'mapnik'
      ? { renderer: mapnikWorkerInit(mapnikOptionsOf(spec)) }
      : { cacheDir: geometryCacheDirOf({ cacheDir: flags.cacheDir, geometryCache: flags.geometryCache ?? false }), log: log.child({ map: spec.name }) }),
  });
}
