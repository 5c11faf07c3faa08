import type { DaemonStats } from '../../daemon-stats.js';
import { exactPath, type Route } from '../http-exchange.js';
import type { Metrics } from '../metrics.js';

/** `/metrics`: the Prometheus text, with the daemon's stats read at scrape time. */
export function metricsRoute(metrics: Metrics, source: { stats(): DaemonStats; ready(): boolean }): Route {
  return {
    label: '/metrics',
    allow: 'GET, HEAD',
    match: exactPath('/metrics'),
    handle: async ({ res, head }) => {
      const text = await metrics.scrape(source.stats(), source.ready());
      res.setHeader('Content-Type', metrics.contentType);
      res.setHeader('Cache-Control', 'no-store');
      res.setHeader('Content-Length', Buffer.byteLength(text));
      res.writeHead(200).end(head ? undefined : text);
    },
  };
}
