/**
 * A `renderer: "tirex"` map's backends in the daemon's `stats` (asked over
 * the line protocol) and on /metrics (over HTTP), with the example Python
 * backend: a metatile rendered shows, and a backend process killed by its
 * PID shows as a restart.
 */
import t from 'tap';
import path from 'node:path';
import { startDaemon, tempDir } from '../helpers/daemon.js';
import { requireProgram } from '../helpers/processes.js';
import { EXAMPLE_BACKEND } from '../render/tirex/helpers.js';
import type { TirexRendererStats } from '../../src/render/tirex/tirex-renderer.js';

async function metrics(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return res.text();
}

/** Polls until `f` resolves to a value (bounded by the test's own timeout, not a timing assertion). */
async function until<T>(f: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** One sample's value (undefined when the series is absent). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

t.test('a tirex map in `stats` and /metrics: processes alive, a rendered metatile, and a backend killed by PID counted as a restart (exited)', async (t) => {
  if (!requireProgram(t, 'python3', 'python3')) return;
  const dir = await tempDir(t, 'mosaicd-tirex-stats-');
  const h = await startDaemon(t, {
    httpPort: 0,
    maps: [{ name: 'mine', renderer: 'tirex', tirex: { backend: EXAMPLE_BACKEND, procs: 2, map: { tiledir: path.join(dir, 'meta'), maxz: 10 } } }],
  });
  const http = h.daemon.httpAddress()!.port;
  const tirexOf = async () => ((await h.client.stats()) as { tirex?: Record<string, TirexRendererStats> }).tirex?.['mine'];

  const before = await until(async () => { const s = await tirexOf(); return s?.alive === 2 ? s : undefined; });
  t.match(before, { backend: 'simple_backend.py', procs: 2, alive: 2, rendered: 0, failed: 0, timedOut: 0, restarts: 0 }, 'the `stats` line shows the map\'s two backends, nothing rendered yet');

  await h.client.request(['mine/5/9/17']);
  t.equal((await h.listener!.waitFor(['mine/5/9/17']))[0]?.type, 'tile');
  const rendered = (await tirexOf())!;
  t.match(rendered, { rendered: 1, failed: 0, timedOut: 0 }, 'stats: one metatile rendered');
  let text = await metrics(http);
  t.equal(sample(text, 'mosaicd_tirex_metatiles_total{map="mine",outcome="rendered"}'), 1, '/metrics: one metatile rendered');
  t.equal(sample(text, 'mosaicd_tirex_metatiles_total{map="mine",outcome="failed"}'), 0);
  t.equal(sample(text, 'mosaicd_tirex_metatiles_total{map="mine",outcome="timeout"}'), 0);
  t.equal(sample(text, 'mosaicd_tirex_backends_alive{map="mine"}'), 2, '/metrics: two backends alive');
  t.equal(sample(text, 'mosaicd_tirex_backends{map="mine"}'), 2);
  t.equal(sample(text, 'mosaicd_tirex_disabled{map="mine"}'), 0);
  t.equal(sample(text, 'mosaicd_tirex_backend_restarts_total{map="mine",reason="exited"}'), 0, 'no restart yet');

  const pid = rendered.pids[0]!;
  process.kill(pid, 'SIGKILL');
  const after = await until(async () => { const s = await tirexOf(); return s !== undefined && s.restarts === 1 && s.alive === 2 ? s : undefined; });
  t.not(after.pids[0], pid, `a new process replaced ${pid}`);
  t.same(after.restartReasons, { exited: 1, silent: 0, timeout: 0, diedBeforeReady: 0 }, 'stats: one restart, reason exited');
  text = await metrics(http);
  t.equal(sample(text, 'mosaicd_tirex_backend_restarts_total{map="mine",reason="exited"}'), 1, '/metrics: one restart, reason exited');
  t.equal(sample(text, 'mosaicd_tirex_backend_restarts_total{map="mine",reason="silent"}'), 0);
  t.equal(sample(text, 'mosaicd_tirex_backends_alive{map="mine"}'), 2, 'and two backends alive again');
});

t.test('a daemon without tirex maps has no `tirex` in stats and no tirex samples on /metrics', async (t) => {
  const h = await startDaemon(t, { httpPort: 0 });
  t.notOk('tirex' in (await h.client.stats()), 'no tirex field');
  const text = await metrics(h.daemon.httpAddress()!.port);
  t.notMatch(text, /^mosaicd_tirex_\w+\{/m, 'no tirex samples');
});
