/**
 * Child-process entry of the Mapnik renderer: `node dist/render/mapnik/mapnik-process.js`,
 * spawned with an IPC channel (`serialization: 'advanced'`). Mapnik runs
 * here, not in the daemon, so a native crash costs one render process.
 * Logs go to stderr only.
 */
import { createLogger } from '../../log.js';
import { serveRendererOverIpc } from './ipc-loop.js';
import { createMapnikRenderer } from './mapnik-renderer.js';

const log = createLogger(process.env.MOSAICD_LOG_LEVEL ?? 'info', { pretty: false }).child({ component: 'mapnik-process' });

if (process.send === undefined) {
  log.fatal('mapnik-process must be spawned with an IPC channel');
  process.exit(2);
}
serveRendererOverIpc(
  process as Parameters<typeof serveRendererOverIpc>[0],
  async (options) => {
    const r = await createMapnikRenderer(options);
    log.info({ style: r.options.stylePath, buffer: r.bufferSize, mapnik: r.mapnikVersion }, 'Mapnik style loaded');
    for (const w of r.warnings) log.warn({ style: r.options.stylePath }, w);
    return Object.assign(r, { info: () => ({ pid: process.pid, bufferSize: r.bufferSize, mapnikVersion: r.mapnikVersion }) });
  },
  (code) => process.exit(code),
);
