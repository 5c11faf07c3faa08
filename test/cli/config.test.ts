import t from 'tap';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { configFromArgv } from '../../src/cli/options.js';
import { DEFAULT_CONFIG, resolveConfig } from '../../src/config/daemon-config.js';
import { ErrorCode } from '../../src/errors.js';
import { tempDir } from '../helpers/daemon.js';
import { exitCodeOf, spawnMosaicd } from '../helpers/processes.js';

t.test('precedence: flags > MOSAICD_* environment > config file > defaults', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'mosaicd.json');
  await writeFile(file, JSON.stringify({ port: 2000, metatile: 4, tilesDir: '/srv/tiles', cameraModels: { '*': 'ocr', '3': 'text-direction' } }));
  const env = { MOSAICD_PORT: '3000', MOSAICD_LAYOUT: 'zxy', MOSAICD_PREFETCH: 'true' };
  const c = configFromArgv({ config: file, port: 4000 }, env);
  t.equal(c.port, 4000, 'the flag wins');
  t.equal(c.layout, 'zxy', 'the environment beats the file and the default');
  t.equal(c.prefetch, true);
  t.equal(c.metatile, 4, 'the file beats the default');
  t.equal(c.tilesDir, '/srv/tiles');
  t.same(c.cameraModels, { '*': 'ocr', '3': 'text-direction' }, 'camera routes come from the file');
  t.equal(c.maxZoom, DEFAULT_CONFIG.maxZoom, 'the rest are defaults');
  t.ok(Object.isFrozen(c), 'the effective config is frozen');
});

t.test('per-class queue limits and camera routes come as key=value flags or variables', async (t) => {
  const c = configFromArgv({ 'queue-limit': ['bulk=100', 'visible=7'], 'camera-model': ['3=text-direction'] }, {});
  t.equal(c.queueLimits.bulk, 100);
  t.equal(c.queueLimits.visible, 7);
  t.equal(c.queueLimits.interactive, DEFAULT_CONFIG.queueLimits.interactive, 'other classes keep their defaults');
  t.same(c.cameraModels, { '3': 'text-direction' });
  t.equal(configFromArgv({}, { MOSAICD_QUEUE_LIMIT: 'dirty=5,bulk=6' }).queueLimits.dirty, 5);
  t.throws(() => configFromArgv({ 'queue-limit': ['bulk'] }, {}), { message: /--queue-limit takes key=value pairs/ });
  t.throws(() => configFromArgv({ 'camera-model': ['front=ocr'] }, {}), { message: /"cameraModels" must be an object of camera number/ });
});

t.test('validation names the field, what it expects and what it got', async (t) => {
  t.throws(() => resolveConfig({ metatile: 3 }), { code: ErrorCode.CONFIG_ERROR, message: /"metatile" must be one of 1, 2, 4, 8, 16; got 3/ });
  t.throws(() => resolveConfig({ port: 70000 }), { message: /"port" must be an integer from 0 to 65535; got 70000/ });
  t.throws(() => resolveConfig({ bogus: 1 } as never), { message: /unknown field "bogus"/ });
  t.throws(() => resolveConfig({ queueLimits: { urgent: 5 } } as never), { message: /"queueLimits" must be keys among visible/ });
  t.throws(() => configFromArgv({}, { MOSAICD_TILE_SIZE: '300' }), { message: /environment variable MOSAICD_TILE_SIZE: "tileSize" must be one of 256, 512; got 300/ });
});

t.test('a config file that is not JSON, or missing, is refused with its path', async (t) => {
  const dir = await tempDir(t);
  const bad = path.join(dir, 'bad.json');
  await writeFile(bad, '{ port: 1 ');
  t.throws(() => configFromArgv({ config: bad }, {}), { code: ErrorCode.CONFIG_ERROR, message: new RegExp(`config file ${bad} is not valid JSON`) });
  t.throws(() => configFromArgv({ config: path.join(dir, 'missing.json') }, {}), { message: /cannot read config file/ });
});

t.test('mosaicd config --print shows the effective config; a bad one exits non-zero with the field named', async (t) => {
  const ok = spawnMosaicd(t, ['config', '--port', '5555', '--admin-token', 'secret']);
  t.equal(await exitCodeOf(ok), 0, ok.output());
  const printed = JSON.parse(ok.output().split('stdout:\n')[1]!.split('\nstderr:')[0]!);
  t.equal(printed.port, 5555);
  t.equal(printed.adminToken, '***', 'the admin token is not printed');
  const bad = spawnMosaicd(t, ['config', '--metatile', '5']);
  t.equal(await exitCodeOf(bad), 1);
  t.match(bad.output(), /CONFIG_ERROR: flags: "metatile" must be one of 1, 2, 4, 8, 16; got 5/);
});
