import { exactPath, type Route } from '../http-exchange.js';
import type { StaticAssets } from '../static-assets.js';

/** `/`: the viewer page. */
export function viewerPageRoute(assets: StaticAssets): Route {
  return {
    label: '/',
    allow: 'GET, HEAD',
    match: exactPath('/'),
    handle: (x) => assets.serve(x, '/'),
  };
}

/** `/static/...`: the viewer's script, style and Leaflet; any other path under it is a 404. */
export function staticRoute(assets: StaticAssets): Route {
  return {
    label: '/static',
    allow: 'GET, HEAD',
    match: (path) => (path.startsWith('/static/') && assets.has(path) ? [path] : undefined),
    handle: (x, [path]) => assets.serve(x, path!),
  };
}
