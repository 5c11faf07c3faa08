import t from 'tap';
import { EventEmitter } from 'node:events';
import { Metrics } from '../../src/http/metrics.js';
import { instrumentFramed, observeRenders } from '../../src/http/daemon-backend.js';
import { BusyError, ProtocolError } from '../../src/errors.js';
import type { FramedContext, FramedReply } from '../../src/transport/framed-session.js';
import type { FramedRequest } from '../../src/protocol/framed-request.js';
import type { DaemonStats } from '../../src/daemon.js';

/** The value of one sample line, e.g. `mosaicd_connections 3`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** The shape of Daemon.stats(). */
const stats: DaemonStats = {
  uptime_s: 42,
  connections: 3,
  tiles: {
    queued: { visible: 1, interactive: 2, prefetch: 3, dirty: 4, bulk: 5 },
    queuedJobs: 6,
    running: 2,
    rendered: { '3': { renders: 1, tiles: 64, meanMs: 10, maxMs: 10 } },
    cached: 7,
    coalesced: 8,
    cancelled: 9,
    rejectedBusy: 10,
    failed: 11,
  },
  render: { isolation: 'thread', workers: 4, busy: 2, running: 2, queued: 0, replaced: 1, crashes: 1, timeouts: 0, retried: 0, recycled: 0, pids: [], busyPids: [] },
  notices: { pending: 12, sent: 13, retried: 14, failedAttempts: 15 },
  inference: { queued: 16, running: 1, rejectedBusy: 17, models: {} },
};

t.test('scrape() turns stats() into gauges and counters', async (t) => {
  const m = new Metrics({ defaultMetrics: false });
  const text = await m.scrape(stats, true);
  const expect: Record<string, number> = {
    mosaicd_uptime_seconds: 42,
    mosaicd_ready: 1,
    mosaicd_connections: 3,
    'mosaicd_queue_length{class="visible"}': 1,
    'mosaicd_queue_length{class="bulk"}': 5,
    mosaicd_queued_jobs: 6,
    mosaicd_renders_running: 2,
    mosaicd_render_workers: 4,
    mosaicd_render_workers_busy: 2,
    mosaicd_notices_pending: 12,
    mosaicd_notices_sent_total: 13,
    mosaicd_notices_retried_total: 14,
    mosaicd_notice_failed_attempts_total: 15,
    mosaicd_tile_requests_cached_total: 7,
    mosaicd_tile_requests_coalesced_total: 8,
    mosaicd_tile_requests_cancelled_total: 9,
    mosaicd_tile_requests_busy_total: 10,
    mosaicd_render_failures_total: 11,
    mosaicd_render_workers_replaced_total: 1,
    mosaicd_inference_queue_length: 16,
    mosaicd_inference_running: 1,
    mosaicd_inference_busy_total: 17,
  };
  for (const [series, value] of Object.entries(expect)) t.equal(sample(text, series), value, series);
  t.match(text, /^# TYPE mosaicd_notices_sent_total counter$/m, 'totals are counters');
  t.notMatch(text, /^process_/m, 'no default metrics when turned off');

  // Totals follow the daemon's own running totals; gauges follow its current values.
  const later = await m.scrape({ ...stats, notices: { pending: 0, sent: 20, retried: 14, failedAttempts: 15 }, inference: null }, false);
  t.equal(sample(later, 'mosaicd_notices_sent_total'), 20);
  t.equal(sample(later, 'mosaicd_notices_pending'), 0);
  t.equal(sample(later, 'mosaicd_inference_queue_length'), 0, 'inference off: 0');
  t.equal(sample(later, 'mosaicd_ready'), 0);

  // Not a DaemonStats (the compiler would refuse it): a partial object must not break a scrape.
  const odd = await m.scrape({ connections: 'many', tiles: null } as unknown as DaemonStats, true);
  t.equal(sample(odd, 'mosaicd_connections'), 3, 'odd fields leave the metric as it was');
});

t.test('events: renders, inference, errors, HTTP requests', async (t) => {
  const m = new Metrics({ defaultMetrics: false });
  m.observeRender(3, 0.02, 64);
  m.observeRender(3, 0.2, 64);
  m.observeRender(12, 1.5, 64);
  m.observeInference('ocr', 0.12, true);
  m.observeInference('ocr', 0.3, false);
  m.countError('BUSY');
  m.countError('BUSY');
  m.countError('no such code');
  m.countHttpRequest('/metrics', 200);
  const text = await m.scrape();
  t.equal(sample(text, 'mosaicd_render_seconds_count{zoom="3"}'), 2);
  t.equal(sample(text, 'mosaicd_render_seconds_bucket{le="0.025",zoom="3"}'), 1);
  t.equal(sample(text, 'mosaicd_render_seconds_sum{zoom="12"}'), 1.5);
  t.equal(sample(text, 'mosaicd_tiles_rendered_total{zoom="3"}'), 128);
  t.equal(sample(text, 'mosaicd_inference_requests_total{model="ocr",outcome="ok"}'), 1);
  t.equal(sample(text, 'mosaicd_inference_requests_total{model="ocr",outcome="error"}'), 1);
  t.equal(sample(text, 'mosaicd_inference_seconds_count{model="ocr"}'), 2);
  t.equal(sample(text, 'mosaicd_errors_total{code="BUSY"}'), 2);
  t.equal(sample(text, 'mosaicd_errors_total{code="TIMEOUT"}'), 0, 'every code is listed from the start');
  t.equal(sample(text, 'mosaicd_errors_total{code="OTHER"}'), 1, 'unknown codes are bounded');
  t.equal(sample(text, 'mosaicd_http_requests_total{route="/metrics",status="200"}'), 1);
});

t.test('two Metrics in one process do not share a registry', async (t) => {
  const a = new Metrics();
  const b = new Metrics();
  a.observeRender(1, 0.1, 4);
  t.match(await a.scrape(), /mosaicd_render_seconds_count\{zoom="1"\} 1/);
  t.notMatch(await b.scrape(), /mosaicd_render_seconds_count\{zoom="1"\}/);
  t.match(await b.scrape(), /^process_cpu_seconds_total /m, 'default process metrics');
});

t.test('observeRenders() feeds the render metrics from the scheduler event', async (t) => {
  const m = new Metrics({ defaultMetrics: false });
  const scheduler = new EventEmitter();
  const stop = observeRenders(scheduler as never, m);
  scheduler.emit('rendered', { z: 5, x: 0, y: 0, size: 8 }, 250);
  stop();
  scheduler.emit('rendered', { z: 5, x: 8, y: 0, size: 8 }, 250);
  const text = await m.scrape();
  t.equal(sample(text, 'mosaicd_render_seconds_count{zoom="5"}'), 1, 'unsubscribed after stop()');
  t.equal(sample(text, 'mosaicd_render_seconds_sum{zoom="5"}'), 0.25);
  t.equal(sample(text, 'mosaicd_tiles_rendered_total{zoom="5"}'), 64);
});

t.test('instrumentFramed() counts errors and times inference of known models', async (t) => {
  const m = new Metrics({ defaultMetrics: false });
  const ctx = { peer: '127.0.0.1', clientId: 'framed:x', signal: new AbortController().signal } satisfies FramedContext;
  const reply: FramedReply = { json: {}, images: [] };
  const handle = instrumentFramed(
    async (req) => {
      if (req.type === 'ping') return reply;
      if (req.type === 'process' && req.cameraNumber === 2) throw new BusyError('the inference queue is full');
      if (req.type === 'process' && req.model === 'nope') throw new ProtocolError('unknown model "nope"');
      return reply;
    },
    m,
    { modelFor: (camera, requested) => requested ?? (camera === 1 ? 'ocr' : 'plates'), known: (name) => name !== 'nope' },
  );
  const process = (cameraNumber: number, model?: string) =>
    ({ type: 'process', requestId: 1, cameraNumber, payload: Buffer.from('x'), ...(model ? { model } : {}) }) as FramedRequest;
  t.equal(await handle({ type: 'ping', requestId: 1 }, ctx), reply);
  await handle(process(1), ctx);
  await t.rejects(handle(process(2), ctx), { code: 'BUSY' });
  await t.rejects(handle(process(1, 'nope'), ctx), { code: 'PROTOCOL_ERROR' });
  const text = await m.scrape();
  t.equal(sample(text, 'mosaicd_inference_requests_total{model="ocr",outcome="ok"}'), 1);
  t.equal(sample(text, 'mosaicd_inference_requests_total{model="plates",outcome="error"}'), 1);
  t.notMatch(text, /model="nope"/, 'names of unknown models are not labels');
  t.equal(sample(text, 'mosaicd_errors_total{code="BUSY"}'), 1);
  t.equal(sample(text, 'mosaicd_errors_total{code="PROTOCOL_ERROR"}'), 1);
});
