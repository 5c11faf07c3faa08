export { MapSet } from './map-set.js';
export { MapStores } from './map-stores.js';
export { MapRenderers, type MapRenderer, type MapRendererFactory } from './map-renderers.js';
export { DEFAULT_MAP_NAME, MAP_NAME, RENDERER_KINDS, checkMapInputs, resolveMaps, type MapInput, type MapnikMapOptions, type MapSpec, type RendererKind, type TirexMapInput } from './map-spec.js';
