/** tirex backends behind mosaicd (docs/tirex.md). */
export { TirexRenderer, createTirexRenderer, tirexStatsByMap, TIREX_RESTART_REASONS, type TirexRendererStats, type TirexRestartReason } from './tirex-renderer.js';
export {
  resolveTirexOptions,
  tirexGridProblem,
  TIREX_METATILE_SIZE,
  type ResolvedTirexOptions,
  type TirexInlineMap,
  type TirexMap,
  type TirexRendererOptions,
} from './options.js';
export { metatilePath, parseMetatileFile, readMetatileFile } from './metatile-file.js';
