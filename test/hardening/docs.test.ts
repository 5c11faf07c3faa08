/**
 * docs/operations.md keeps up with the code: every limit constant (src/limits.ts,
 * the queue limits of src/scheduler/priority.ts, the pipelining limit of
 * src/transport/framed-session.ts) is named there with its default and its
 * flag, every daemon flag is listed, and every limit flag really sets its
 * config field.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as limits from '../../src/limits.js';
import { DEFAULT_INFERENCE_QUEUE_LIMIT, DEFAULT_QUEUE_LIMITS, PRIORITY_CLASSES } from '../../src/scheduler/priority.js';
import { MAX_PIPELINED_REQUESTS } from '../../src/transport/framed-session.js';
import { DAEMON_FLAGS, configFromArgv } from '../../src/cli/options.js';
import { DEFAULT_CONFIG, type DaemonConfig } from '../../src/config/daemon-config.js';
import { ROOT } from './fixtures/lib.js';

const doc = readFileSync(path.join(ROOT, 'docs', 'operations.md'), 'utf8');
/** The table row (a line starting with `|`) that names `name` in backticks. */
const rowOf = (name: string) => doc.split('\n').find((l) => l.startsWith('|') && l.includes(`\`${name}\``));

const constants: Record<string, number> = {
  ...(limits as unknown as Record<string, number>),
  DEFAULT_INFERENCE_QUEUE_LIMIT,
  MAX_PIPELINED_REQUESTS,
};

t.test('every limit constant appears in docs/operations.md with its default and a flag', async (t) => {
  t.ok(Object.keys(limits).length >= 12, `src/limits.ts exports ${Object.keys(limits).length} constants`);
  for (const [name, value] of Object.entries(constants)) {
    t.ok(doc.includes(name), `${name} is named`);
    const row = rowOf(name);
    if (!row) {
      t.fail(`${name} has no table row`);
      continue;
    }
    t.ok(row.includes(`\`${value}\``), `${name}: its row shows the default \`${value}\``);
    const flags = [...row.matchAll(/--([a-z][a-z-]*)/g)].map((m) => m[1]!);
    t.ok(name === 'MAX_PIPELINED_REQUESTS' || flags.some((f) => f in DAEMON_FLAGS), `${name}: its row names a daemon flag (${flags.join(', ') || 'none'})`);
  }
  const queueRow = rowOf('DEFAULT_QUEUE_LIMITS');
  t.ok(queueRow, 'DEFAULT_QUEUE_LIMITS has a row');
  for (const cls of PRIORITY_CLASSES) t.ok(queueRow?.includes(`${cls}=${DEFAULT_QUEUE_LIMITS[cls]}`), `its row shows ${cls}=${DEFAULT_QUEUE_LIMITS[cls]}`);
  t.ok(queueRow?.includes('--queue-limit'), 'and its flag');
});

t.test('every daemon flag is documented', async (t) => {
  for (const flag of Object.keys(DAEMON_FLAGS)) t.ok(doc.includes(`--${flag}`), `--${flag}`);
  t.ok(doc.includes('--no-inference') && doc.includes('--no-palette'), 'the negated booleans too');
});

t.test('each limit flag sets its config field (flags > MOSAICD_* > config file > defaults)', async (t) => {
  const cases: Array<[flag: string, field: keyof DaemonConfig, value: number]> = [
    ['max-line-bytes', 'maxLineBytes', 100],
    ['max-frame-json-bytes', 'maxFrameJsonBytes', 1000],
    ['max-payload-bytes', 'maxPayloadBytes', 1000],
    ['max-input-pixels', 'maxInputPixels', 1000],
    ['max-connections', 'maxConnections', 10],
    ['max-pending-notices', 'maxPendingNotices', 10],
    ['idle-timeout-ms', 'idleTimeoutMs', 1000],
    ['render-timeout-ms', 'renderTimeoutMs', 1000],
    ['inference-timeout-ms', 'inferenceTimeoutMs', 1000],
    ['stop-notice-timeout-ms', 'stopNoticeTimeoutMs', 1000],
    ['inference-queue-limit', 'inferenceQueueLimit', 10],
    ['max-zoom', 'maxZoom', 12],
  ];
  for (const [flag, field, value] of cases) {
    t.not(DEFAULT_CONFIG[field], value, `${field}: the test value is not the default`);
    t.equal(configFromArgv({ [flag]: value }, {})[field], value, `--${flag} sets ${field}`);
    const env = `MOSAICD_${flag.replace(/-/g, '_').toUpperCase()}`;
    t.equal(configFromArgv({}, { [env]: String(value) })[field], value, `${env} sets ${field}`);
  }
  t.same(configFromArgv({ 'queue-limit': ['bulk=5'] }, {}).queueLimits, { ...DEFAULT_QUEUE_LIMITS, bulk: 5 }, '--queue-limit CLASS=N');
  t.equal(configFromArgv({ 'max-zoom': limits.MAX_SUPPORTED_ZOOM }, {}).maxZoom, limits.MAX_SUPPORTED_ZOOM, '--max-zoom up to MAX_SUPPORTED_ZOOM');
  t.throws(() => configFromArgv({ 'max-zoom': limits.MAX_SUPPORTED_ZOOM + 1 }, {}), { code: 'CONFIG_ERROR' }, 'and not past it');
});

t.test('no merge-conflict markers are left in the tracked sources and docs', async (t) => {
  const { execFileSync } = await import('node:child_process');
  const files = execFileSync('git', ['ls-files', '*.md', '*.ts', '*.js', '*.json', '*.cs', '*.py', '*.proto', '.ci/*'], { cwd: ROOT, encoding: 'utf8' })
    .split('\n')
    .filter(Boolean);
  t.ok(files.length > 50, `${files.length} tracked files checked`);
  const marked = files.filter((f) => /^(<<<<<<< |>>>>>>> |=======$)/m.test(readFileSync(path.join(ROOT, f), 'utf8')));
  t.same(marked, [], 'files with conflict markers');
});
