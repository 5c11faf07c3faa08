import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Test } from 'tap';
import { clientConfigFromArgv } from '../../src/cli/client-config.js';
import { configFromArgv } from '../../src/cli/options.js';
import { DEFAULT_CONFIG } from '../../src/config/daemon-config.js';
import { ErrorCode } from '../../src/errors.js';
import { CompletionListener } from '../../src/client/completion-listener.js';
import { freePort, startDaemon, tempDir } from '../helpers/daemon.js';
import { BIN } from '../helpers/processes.js';

/** The environment without the developer's own MOSAICD_* settings, plus `extra`. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MOSAICD_')));
  return { ...env, ...extra };
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs bin/mosaicd.js as a child process to its end; killed by PID in teardown if it is still running. */
function mosaicd(t: Test, args: string[], options: { env?: Record<string, string>; stdin?: string } = {}): Promise<Run> {
  const child = spawn(process.execPath, [BIN, ...args], { env: cleanEnv(options.env), stdio: ['pipe', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  child.stdin.end(options.stdin ?? '');
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Asserts the exit code; the child's output is shown only when it is not the expected one. */
function exits(t: Test, run: Run, code: number, label: string): void {
  t.equal(run.code, code, label, run.code === code ? {} : { stdout: run.stdout, stderr: run.stderr });
}

t.test('client commands resolve host, port, token, tiles folder, layout and metatile as serve does: flags > env > file > defaults', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'mosaicd.json');
  await writeFile(file, JSON.stringify({ host: '0.0.0.0', port: 2000, callbackPort: 2100, adminToken: 'from-file', tilesDir: '/srv/tiles', layout: 'zxy', metatile: 4 }));

  t.same(clientConfigFromArgv({ config: file }, {}), {
    host: '127.0.0.1',
    port: 2000,
    callbackPort: 2100,
    adminToken: 'from-file',
    tilesDir: '/srv/tiles',
    layout: 'zxy',
    metatile: 4,
  }, 'everything from the file; a wildcard listen address is reached on loopback');
  const env = { MOSAICD_PORT: '3000', MOSAICD_ADMIN_TOKEN: 'from-env', MOSAICD_LAYOUT: 'flat' };
  t.match(clientConfigFromArgv({ config: file }, env), { port: 3000, callbackPort: 2100, adminToken: 'from-env', layout: 'flat', metatile: 4 }, 'the environment beats the file');
  t.match(clientConfigFromArgv({ config: file, port: 4000, 'admin-token': 'from-flag', metatile: 2 }, env), { port: 4000, adminToken: 'from-flag', metatile: 2 }, 'flags beat both');
  t.same(clientConfigFromArgv({}, {}), {
    host: DEFAULT_CONFIG.host,
    port: DEFAULT_CONFIG.port,
    callbackPort: DEFAULT_CONFIG.port + 1,
    adminToken: undefined,
    tilesDir: DEFAULT_CONFIG.tilesDir,
    layout: DEFAULT_CONFIG.layout,
    metatile: DEFAULT_CONFIG.metatile,
  }, 'the defaults, with notices on port + 1');
  t.equal(clientConfigFromArgv({ port: 5000 }, {}).callbackPort, 5001, 'the notice port follows the request port');
  t.equal(clientConfigFromArgv({ 'max-zoom': 99, zoom: '0-3', timeout: 5 }, {}).port, DEFAULT_CONFIG.port, 'a command\'s own flags are not read as daemon settings');
  t.throws(() => clientConfigFromArgv({}, { MOSAICD_PORT: '0' }), { code: ErrorCode.CONFIG_ERROR, message: /port is 0 .* name the daemon's port with --port/ });
});

t.test('an environment value that is not a valid boolean or number is refused, naming the variable', async (t) => {
  const refused: Array<[variable: string, value: string, message: RegExp]> = [
    ['MOSAICD_PREFETCH', 'yes', /^environment variable MOSAICD_PREFETCH must be true, false, 1 or 0; got "yes"$/],
    ['MOSAICD_PALETTE', '', /^environment variable MOSAICD_PALETTE must be true, false, 1 or 0; got ""$/],
    ['MOSAICD_INFERENCE', 'off', /MOSAICD_INFERENCE must be true, false, 1 or 0/],
    ['MOSAICD_PORT', 'abc', /^environment variable MOSAICD_PORT must be a number; got "abc"$/],
    ['MOSAICD_PORT', '', /MOSAICD_PORT must be a number; got ""/],
    ['MOSAICD_PORT', '0x10', /MOSAICD_PORT must be a number; got "0x10"/],
    ['MOSAICD_METATILE', '1e3', /MOSAICD_METATILE must be a number; got "1e3"/],
    ['MOSAICD_TILE_SIZE', '256px', /MOSAICD_TILE_SIZE must be a number/],
    ['MOSAICD_QUEUE_LIMIT', 'bulk=many', /MOSAICD_QUEUE_LIMIT \(bulk\) must be a number; got "many"/],
    ['MOSAICD_QUEUE_LIMIT', 'bulk', /MOSAICD_QUEUE_LIMIT takes key=value pairs/],
    ['MOSAICD_PORT', '70000', /^environment variable MOSAICD_PORT: "port" must be an integer from 0 to 65535; got 70000$/],
    ['MOSAICD_TILE_SIZE', '300', /^environment variable MOSAICD_TILE_SIZE: "tileSize" must be one of 256, 512; got 300$/],
    ['MOSAICD_CONCURRENCY', '1.5', /MOSAICD_CONCURRENCY: "concurrency" must be an integer/],
  ];
  for (const [variable, value, message] of refused) {
    t.throws(() => configFromArgv({}, { [variable]: value }), { code: ErrorCode.CONFIG_ERROR, message }, `${variable}=${JSON.stringify(value)}`);
  }
  const accepted: Array<[variable: string, value: string, field: 'prefetch' | 'palette' | 'port' | 'metatile', expected: unknown]> = [
    ['MOSAICD_PREFETCH', 'TRUE', 'prefetch', true],
    ['MOSAICD_PREFETCH', '1', 'prefetch', true],
    ['MOSAICD_PALETTE', 'false', 'palette', false],
    ['MOSAICD_PALETTE', '0', 'palette', false],
    ['MOSAICD_PORT', ' 8080 ', 'port', 8080],
    ['MOSAICD_METATILE', '16', 'metatile', 16],
  ];
  for (const [variable, value, field, expected] of accepted) {
    t.equal(configFromArgv({}, { [variable]: value })[field], expected, `${variable}=${JSON.stringify(value)} is ${String(expected)}`);
  }
});

t.test('every command, serve included, exits 1 naming a bad MOSAICD_* variable before doing anything', async (t) => {
  const dir = await tempDir(t);
  const image = path.join(dir, 'x.png');
  await writeFile(image, 'not read');
  const port = String(await freePort());
  const commands = [['serve'], ['stdio'], ['config'], ['render', '0_0_0'], ['stop'], ['stats'], ['seed', '--zoom', '0'], ['expire'], ['infer', image]];
  const runs = await Promise.all(commands.map((args) => mosaicd(t, [...args, '--port', port], { env: { MOSAICD_PREFETCH: 'yes', MOSAICD_LOG_LEVEL: 'silent' } })));
  runs.forEach((run, i) => {
    exits(t, run, 1, `${commands[i]![0]}: exit 1`);
    t.match(run.stderr, 'mosaicd: CONFIG_ERROR: environment variable MOSAICD_PREFETCH must be true, false, 1 or 0; got "yes"', `${commands[i]![0]}: names the variable`);
    t.equal(run.stdout, '', `${commands[i]![0]}: nothing on stdout`);
  });
});

t.test('render, stats, seed --only-missing, expire, infer and stop find the daemon, its token and its tiles through --config and MOSAICD_* alone', async (t) => {
  const dir = await tempDir(t);
  const callbackPort = await freePort();
  const settings = { callbackPort, layout: 'zxy' as const, metatile: 2, adminToken: 'sesame' };
  const h = await startDaemon(t, settings, { listener: false });
  const file = path.join(dir, 'mosaicd.json');
  await writeFile(file, JSON.stringify({ ...settings, port: h.port, tilesDir: h.tilesDir }));
  const config = ['--config', file];

  const stats = await mosaicd(t, ['stats', ...config]);
  exits(t, stats, 0, 'stats: exit 0');
  t.type(JSON.parse(stats.stdout), 'object', 'stats printed the daemon\'s JSON');

  const render = await mosaicd(t, ['render', '1_0_0', ...config]);
  exits(t, render, 0, 'render: exit 0');
  t.equal(render.stdout, '1_0_0\n', 'the notice came to the callback port named in the file');
  t.ok(existsSync(path.join(h.tilesDir, '1', '0', '0.png')), 'the tile is on disk in the zxy layout');
  // From here on the notices of seed and expire, and `done`, need a listener on the callback port.
  const listener = await CompletionListener.listen({ port: callbackPort });
  t.teardown(() => listener.close());

  // seed reads tilesDir and layout from the file: the tiles already there are skipped, not asked for.
  const pyramid = [[0, 0, 0], [1, 0, 0], [1, 0, 1], [1, 1, 0], [1, 1, 1]].map(([z, x, y]) => path.join(h.tilesDir, String(z), String(x), `${y}.png`));
  const present = pyramid.filter((p) => existsSync(p)).length;
  t.ok(present >= 1, `${present} of the 5 tiles of z0-1 exist before the seed`);
  const seed = await mosaicd(t, ['seed', '--zoom', '0-1', '--only-missing', ...config]);
  exits(t, seed, 0, 'seed: exit 0');
  const final = JSON.parse(seed.stderr.trim().split('\n').at(-1)!) as { total: number; skipped: number; errors: number; final: boolean };
  t.match(final, { final: true, total: 5, skipped: present, errors: 0 }, 'exactly the tiles on disk were skipped');
  t.equal(pyramid.filter((p) => existsSync(p)).length, 5, 'and the rest were rendered');

  const expire = await mosaicd(t, ['expire', '--port', String(h.port)], { env: { MOSAICD_ADMIN_TOKEN: 'sesame' }, stdin: '1/0/0\n' });
  exits(t, expire, 0, 'expire used the admin token from MOSAICD_ADMIN_TOKEN (exit 0)');

  const infer = await mosaicd(t, ['infer', path.join(dir, 'mosaicd.json'), ...config]);
  exits(t, infer, 1, 'infer: exit 1 on the error answer');
  t.match(infer.stderr, 'mosaicd.json: PROCESSING_ERROR: inference is not enabled in this daemon', 'infer reached the tiles-only daemon from the file');

  const refused = await mosaicd(t, ['stop', '--port', String(h.port)]);
  exits(t, refused, 1, 'stop without the token is refused (exit 1)');
  t.equal(h.daemon.ready(), true, 'and the daemon still takes work');
  const stop = await mosaicd(t, ['stop'], { env: { MOSAICD_PORT: String(h.port), MOSAICD_ADMIN_TOKEN: 'sesame' } });
  exits(t, stop, 0, 'stop: exit 0');
  await listener.waitForDone();
  await h.daemon.closed;
  t.equal(listener.notices.at(-1)?.type, 'done', 'stop with port and token from MOSAICD_* stopped the daemon: `done` came last');
});
