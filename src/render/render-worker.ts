/**
 * Render worker (a thread or a child process): loads the renderer module
 * named in its init data and draws one metatile per job, answering with the
 * tiles' PNGs packed in one buffer.
 */
import { serve } from '../pool/serve.js';
import type { RenderedTile } from './meta.js';
import type { RenderJob, RenderResult, RendererModule, RenderWorkerEvent, RenderWorkerInit, TileSlice } from './worker-protocol.js';

serve<RenderWorkerInit, RenderJob, RenderResult, RenderWorkerEvent>(async (init, ctx) => {
  const mod = (await import(init.module)) as Partial<RendererModule>;
  if (typeof mod.createRenderer !== 'function') throw new Error(`${init.module} does not export createRenderer()`);
  const renderer = await mod.createRenderer(init.options, { isProcess: ctx.isProcess, emit: (event) => ctx.emit(event) });
  return {
    run: async (job) => {
      if (job.geometry !== undefined) renderer.addGeometry?.(job.geometry.level, job.geometry.data);
      return pack(await renderer.renderMetaTile(job.meta));
    },
    transfer: (result) => [result.data],
    after: () => renderer.afterJob?.(),
  };
});

function pack(tiles: RenderedTile[]): RenderResult {
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
  return { tiles: slices, data: bytes.buffer };
}
