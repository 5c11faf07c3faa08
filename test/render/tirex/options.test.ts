/** tirex options: existing tirex .conf files translate as tirex reads them; bad options are CONFIG_ERROR at start-up. */
import t from 'tap';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { backendAliveSeconds, resolveTirexOptions, tirexGridProblem } from '../../../src/render/tirex/options.js';
import { parseConf } from '../../../src/render/tirex/conf-file.js';
import { MAX_TIREX_PROCS, TIREX_ALIVE_TIMEOUT_MS } from '../../../src/limits.js';
import { backendEnv } from '../../../src/render/tirex/backend-process.js';
import { tempDir } from './helpers.js';

t.test('a tirex renderer .conf gives program, procs, port and the backend\'s own keys (TIREX_BACKEND_CFG_*), as tirex-backend-manager reads it', async (t) => {
  const dir = tempDir(t);
  const rconf = path.join(dir, 'mapnik.conf');
  writeFileSync(rconf, '# comment\nname=mapnik\npath=/usr/libexec/tirex-backend-mapnik\nport=9331\nprocs=3\nplugindir=/usr/share/tirex/mapnik/input\nfontdir=/usr/share/fonts/truetype\nfontdir_recurse=1\n');
  const mconf = path.join(dir, 'osm.conf');
  writeFileSync(mconf, 'name=osm\ntiledir=/var/cache/tirex/tiles/osm\nmapfile=/etc/osm.xml\nminz=2\nmaxz=19\n');
  const o = resolveTirexOptions({ rendererConfig: rconf, mapConfigs: [mconf], config: { fontdir_recurse: false } });
  t.equal(o.program, '/usr/libexec/tirex-backend-mapnik');
  t.equal(o.rendererName, 'mapnik');
  t.equal(o.procs, 3);
  t.equal(o.basePort, 9331);
  t.same([...o.cfg], [['plugindir', '/usr/share/tirex/mapnik/input'], ['fontdir', '/usr/share/fonts/truetype'], ['fontdir_recurse', '0']], 'manager keys are not passed on; options override the file');
  t.same(o.map, { name: 'osm', tiledir: '/var/cache/tirex/tiles/osm', minz: 2, maxz: 19, tileSize: 256, metaSize: 8 });
  t.equal(o.aliveTimeoutMs, TIREX_ALIVE_TIMEOUT_MS);
  const env = backendEnv(o, 40000, [mconf]);
  t.match(env, {
    TIREX_BACKEND_NAME: 'mapnik',
    TIREX_BACKEND_PORT: '40000',
    TIREX_BACKEND_SYSLOG_FACILITY: 'daemon',
    TIREX_BACKEND_MAP_CONFIGS: mconf,
    TIREX_BACKEND_ALIVE_TIMEOUT: '460',
    TIREX_BACKEND_PIPE_FILENO: '3',
    TIREX_BACKEND_CFG_plugindir: '/usr/share/tirex/mapnik/input',
  });
  t.notOk('TIREX_BACKEND_SOCKET_FILENO' in env, 'no inherited socket: each backend binds its own port');
  t.notOk('TIREX_BACKEND_DEBUG' in env);
});

t.test('Debian\'s own /etc/tirex/renderer/mapnik.conf resolves', { skip: !existsSync('/etc/tirex/renderer/mapnik.conf') && 'tirex not installed' }, async (t) => {
  const o = resolveTirexOptions({ rendererConfig: '/etc/tirex/renderer/mapnik.conf', map: { name: 'm', tiledir: '/tmp/x' } });
  t.equal(o.program, '/usr/libexec/tirex-backend-mapnik');
  t.ok(o.cfg.has('plugindir'));
});

t.test('a map .conf\'s metarowscols and tilesize set the metatile the mosaicd map must use', async (t) => {
  const o = resolveTirexOptions({ backend: '/bin/true', map: { name: 'big', tiledir: '/tmp/t', options: { metarowscols: 4, tilesize: 512 } } });
  t.same([o.map.metaSize, o.map.tileSize], [4, 512]);
  t.same(o.inlineMap && [...o.inlineMap], [['name', 'big'], ['tiledir', '/tmp/t'], ['metarowscols', '4'], ['tilesize', '512']]);
});

t.test('bad tirex options are CONFIG_ERROR naming the problem', async (t) => {
  const dir = tempDir(t);
  const a = path.join(dir, 'a.conf'), b = path.join(dir, 'b.conf');
  writeFileSync(a, 'name=a\ntiledir=/tmp/a\n');
  writeFileSync(b, 'name=b\ntiledir=/tmp/b\n');
  const map = { name: 'm', tiledir: '/tmp/m' };
  const cases: Array<[string, Parameters<typeof resolveTirexOptions>[0], RegExp]> = [
    ['no program', { map }, /backend program/],
    ['no map', { backend: '/bin/true' }, /either mapConfigs .* or map/],
    ['both', { backend: '/bin/true', map, mapConfigs: [a] }, /either mapConfigs/],
    ['several maps, none named', { backend: '/bin/true', mapConfigs: [a, b] }, /say which with mapName/],
    ['unknown mapName', { backend: '/bin/true', mapConfigs: [a, b], mapName: 'c' }, /"c" is not in mapConfigs/],
    ['too many procs', { backend: '/bin/true', map, procs: MAX_TIREX_PROCS + 1 }, /procs \(MAX_TIREX_PROCS\)/],
    ['missing conf file', { backend: '/bin/true', mapConfigs: [path.join(dir, 'nope.conf')] }, /cannot read tirex config/],
    ['map without tiledir', { backend: '/bin/true', map: { name: 'm' } as never }, /tiledir/],
    ['bad cfg key', { backend: '/bin/true', map, config: { 'a b': 1 } }, /letters, digits and _/],
    ['bad facility', { backend: '/bin/true', map, syslogFacility: 'kern' }, /syslog facility/],
    ['tiny alive timeout', { backend: '/bin/true', map, aliveTimeoutMs: 10 }, /aliveTimeoutMs/],
    ['newline in a map option', { backend: '/bin/true', map: { ...map, options: { style: 'a\nmapfile=/etc/passwd' } } }, /one-line value/],
  ];
  for (const [what, o, why] of cases) {
    t.throws(() => resolveTirexOptions(o), { code: 'CONFIG_ERROR', message: why }, what);
  }
  t.throws(() => parseConf('just words\n', 'x.conf'), { code: 'CONFIG_ERROR', message: /x.conf:1: not a key=value line/ });
});

t.test('backends are told a shorter alive timeout than mosaicd waits (tirex: 20 s less)', async (t) => {
  t.equal(backendAliveSeconds(480_000), 460);
  t.equal(backendAliveSeconds(2000), 1);
  t.equal(backendAliveSeconds(10_000), 5);
});

t.test('tirexGridProblem: a mosaicd map must use its backend\'s metatile and tile size, and no zoom above its maxz', async (t) => {
  const map = { name: 'osm', tiledir: '/t', minz: 0, maxz: 18, tileSize: 256, metaSize: 8 };
  t.equal(tirexGridProblem({ name: 'osm', metatile: 8, tileSize: 256, maxZoom: 18 }, map), undefined);
  t.match(tirexGridProblem({ name: 'osm', metatile: 4, tileSize: 256, maxZoom: 18 }, map), /draws 8×8 metatiles .*set "metatile": 8/);
  t.match(tirexGridProblem({ name: 'osm', metatile: 8, tileSize: 512, maxZoom: 18 }, map), /256 px tiles/);
  t.match(tirexGridProblem({ name: 'osm', metatile: 8, tileSize: 256, maxZoom: 20 }, map), /above its tirex map's maxz 18/);
});
