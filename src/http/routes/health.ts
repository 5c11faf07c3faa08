import { exactPath, sendText, type Route } from '../http-exchange.js';

/** `/healthz`: 200 while the process answers at all. */
export function healthRoute(): Route {
  return {
    label: '/healthz',
    allow: 'GET, HEAD',
    match: exactPath('/healthz'),
    handle: (x) => sendText(x, 200, 'ok\n'),
  };
}

/** `/readyz`: 200 when ready (models loaded, not stopping), else 503. */
export function readyRoute(ready: () => boolean): Route {
  return {
    label: '/readyz',
    allow: 'GET, HEAD',
    match: exactPath('/readyz'),
    handle: (x) => (ready() ? sendText(x, 200, 'ready\n') : sendText(x, 503, 'not ready\n')),
  };
}
