import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveConfig } from '../../src/config/daemon-config.js';
import { configFromArgv } from '../../src/cli/options.js';
import { MapSet, resolveMaps } from '../../src/maps/index.js';
import { MAX_BUFFER_PX, MAX_MAPS } from '../../src/limits.js';
import { mapnikOptionsOf } from '../../src/maps/map-renderer-factory.js';
import { ROOT } from '../helpers/processes.js';

const defaults = resolveConfig({ tilesDir: '/srv/tiles' });

t.test('with no style and no maps there is one map: today\'s builtin map in the tiles folder', async (t) => {
  const [only, ...rest] = resolveMaps(defaults, defaults.maps);
  t.same(rest, []);
  t.match(only, { name: 'default', isDefault: true, renderer: 'builtin', style: undefined, tileSize: 256, palette: true, metatile: 8, minZoom: 0, maxZoom: 20, tilesDir: '/srv/tiles', layout: 'flat' });
});

t.test('--style makes the default map a Mapnik map of that style, other flags unchanged', async (t) => {
  const config = configFromArgv({ style: 'osm.xml', 'tiles-dir': '/srv/tiles', metatile: 4 }, {});
  const [m] = resolveMaps(config, config.maps);
  t.match(m, { name: 'default', renderer: 'mapnik', style: 'osm.xml', metatile: 4, tilesDir: '/srv/tiles' });
});

t.test('named maps inherit the global settings, go under <tilesDir>/NAME, and may set their own', async (t) => {
  const config = resolveConfig({ tilesDir: '/srv/tiles', tileSize: 512, maps: [{ name: 'grey', palette: false }, { name: 'osm', renderer: 'mapnik', style: '/s/osm.xml', minZoom: 2, maxZoom: 18, tilesDir: '/data/osm', layout: 'zxy' }] });
  const [, grey, osm] = resolveMaps(config, config.maps);
  t.match(grey, { name: 'grey', isDefault: false, renderer: 'builtin', palette: false, tileSize: 512, tilesDir: path.join('/srv/tiles', 'grey') });
  t.match(osm, { name: 'osm', renderer: 'mapnik', style: '/s/osm.xml', minZoom: 2, maxZoom: 18, tilesDir: '/data/osm', layout: 'zxy' });
});

t.test('maps may be an object of name → map, and an entry named default overrides the default map', async (t) => {
  const config = resolveConfig({ tilesDir: '/srv/tiles', maps: { default: { palette: false }, b: { metatile: 2 } } });
  const specs = resolveMaps(config, config.maps);
  t.same(specs.map((s) => s.name), ['default', 'b']);
  t.match(specs[0], { isDefault: true, palette: false, tilesDir: '/srv/tiles' });
  t.match(specs[1], { metatile: 2 });
});

t.test('bad maps are a CONFIG_ERROR naming the field', async (t) => {
  const bad: Array<[unknown, RegExp]> = [
    ['x', /"maps" must be a list of maps/],
    [[{ name: '1abc' }], /maps\[0\]\.name: a letter/],
    [[{ name: '../x' }], /maps\[0\]\.name/],
    [[{ name: 'a' }, { name: 'a' }], /"a" comes twice/],
    [[{ name: 'a', colour: 'red' }], /unknown field "colour"/],
    [[{ name: 'a', renderer: 'mapnik' }], /a "style" \(the Mapnik XML\)/],
    [[{ name: 'a', renderer: 'builtin', style: 'x.xml' }], /no "style" for renderer "builtin"/],
    [[{ name: 'a', tileSize: 300 }], /maps\[0\]\.tileSize: one of 256, 512/],
    [[{ name: 'a', minZoom: 5, maxZoom: 3 }], /minZoom <= maxZoom/],
    [Array.from({ length: MAX_MAPS + 1 }, (_, i) => ({ name: `m${i}` })), /at most 16 maps \(MAX_MAPS\)/],
  ];
  for (const [maps, message] of bad) t.throws(() => resolveConfig({ maps: maps as never }), { code: 'CONFIG_ERROR', message }, JSON.stringify(maps).slice(0, 60));
  t.throws(() => resolveMaps(resolveConfig({ tilesDir: '/t' }), [{ name: 'a', tilesDir: '/t' }]), /maps "default" and "a" would share the tile folder/);
  t.throws(() => resolveMaps(resolveConfig({}), [{ name: 'a', tileSize: 512, metatile: 16 }]), /over the 4096 px limit/);
});

t.test('MapSet: no name or "default" is the default map (tiles without a map); an unknown name is UNKNOWN_MAP', async (t) => {
  const config = resolveConfig({ maps: [{ name: 'b', minZoom: 2, maxZoom: 4 }] });
  const maps = new MapSet(resolveMaps(config, config.maps));
  t.same(maps.tile(3, 1, 1, undefined), { z: 3, x: 1, y: 1 });
  t.same(maps.tile(3, 1, 1, 'default'), { z: 3, x: 1, y: 1 });
  t.same(maps.tile(3, 1, 1, 'b'), { z: 3, x: 1, y: 1, map: 'b' });
  t.throws(() => maps.tile(1, 0, 0, 'b'), { code: 'BAD_TILE', message: /below map b's min zoom 2/ });
  t.throws(() => maps.tile(5, 0, 0, 'b'), { code: 'BAD_TILE', message: /above the max zoom 4/ });
  t.throws(() => maps.tile(1, 0, 0, 'c'), { code: 'UNKNOWN_MAP', message: 'unknown map c (maps: default, b)' });
});

t.test('Mapnik options: each bad value is a CONFIG_ERROR naming the map entry and the field', async (t) => {
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ fontsDir: '' }, /maps\[0\]\.fontsDir: a non-empty string, got ""/],
    [{ bufferSize: -1 }, /maps\[0\]\.bufferSize: an integer from 0 to 1024 px \(MAX_BUFFER_PX\), got -1/],
    [{ bufferSize: MAX_BUFFER_PX + 1 }, /maps\[0\]\.bufferSize: .* got 1025/],
    [{ bufferSize: 12.5 }, /maps\[0\]\.bufferSize: an integer/],
    [{ scale: 0 }, /maps\[0\]\.scale: a number above 0 and at most 4, got 0/],
    [{ scale: 4.5 }, /maps\[0\]\.scale: .* got 4\.5/],
    [{ scale: '2' }, /maps\[0\]\.scale: .* got "2"/],
    [{ strict: 'yes' }, /maps\[0\]\.strict: true or false, got "yes"/],
    [{ format: 'jpeg' }, /maps\[0\]\.format: one of "png256", "png", got "jpeg"/],
    [{ format: 'png', palette: true }, /maps\[0\]: "format": "png" and "palette": true disagree: set one/],
  ];
  for (const [fields, message] of bad) {
    t.throws(() => resolveConfig({ maps: [{ name: 'osm', style: 'osm.xml', ...fields }] as never }), { code: 'CONFIG_ERROR', message }, JSON.stringify(fields));
  }
  t.throws(() => resolveConfig({ maps: [{ name: 'grey', scale: 2, bufferSize: 64 }] }), { code: 'CONFIG_ERROR', message: /maps\[0\]: "bufferSize", "scale" are Mapnik options, for renderer "mapnik" \(this map's is "builtin"\)/ });
  t.throws(() => resolveMaps(resolveConfig({}), [{ name: 'default', strict: true }]), /map "default": "strict" for renderer "mapnik" only \(this map's is "builtin"\)/, 'the default map without --style is builtin');
});

t.test('Mapnik options resolve onto the map (paths absolute, format from palette when not given); --style keeps the defaults', async (t) => {
  const config = configFromArgv({ style: 'osm.xml', palette: false, 'tiles-dir': '/srv/tiles' }, {});
  t.match(resolveMaps(config, config.maps)[0], { renderer: 'mapnik', palette: false, mapnik: { fontsDir: undefined, bufferSize: undefined, scale: 1, strict: false, format: 'png' } });
  const [, osm] = resolveMaps(defaults, [{ name: 'osm', style: 'osm.xml', fontsDir: 'fonts', bufferSize: 0, scale: 2, strict: true, format: 'png' }]);
  t.same(osm!.mapnik, { fontsDir: path.resolve('fonts'), bufferSize: 0, scale: 2, strict: true, format: 'png' });
  t.equal(osm!.palette, false, 'palette follows format');
  t.match(mapnikOptionsOf(osm!), { stylePath: 'osm.xml', fontsDir: path.resolve('fonts'), bufferSize: 0, scale: 2, strict: true, format: 'png' });
});

const EXAMPLE = path.join(ROOT, 'examples', 'tirex-backend', 'simple_backend.py');

t.test('a tirex map: its grid and zooms default to the backend\'s map, read from inline keys or tirex .conf files', async (t) => {
  const [, inline] = resolveMaps(defaults, [{ name: 'mine', renderer: 'tirex', tirex: { backend: EXAMPLE, procs: 2, map: { tiledir: '/var/tirex/mine', minz: 2, maxz: 12 } } }]);
  t.match(inline, { renderer: 'tirex', tileSize: 256, metatile: 8, minZoom: 2, maxZoom: 12, tilesDir: path.join('/srv/tiles', 'mine'), style: undefined });
  t.match(inline!.tirex, { program: EXAMPLE, procs: 2, map: { name: 'mine', tiledir: '/var/tirex/mine' }, jobTimeoutMs: defaults.renderTimeoutMs }, 'the tirex map is named after the map; the job deadline is --render-timeout-ms');

  const dir = mkdtempSync(path.join(os.tmpdir(), 'mosaicd-mapspec-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'renderer.conf'), `name=mine\npath=${EXAMPLE}\nprocs=3\nfontdir=/usr/share/fonts\n`);
  writeFileSync(path.join(dir, 'big.conf'), `name=big\ntiledir=${dir}/meta\nmaxz=9\ntilesize=512\nmetarowscols=4\n`);
  const [, big] = resolveMaps(defaults, [{ name: 'big', renderer: 'tirex', tirex: { rendererConfig: path.join(dir, 'renderer.conf'), mapConfigs: [path.join(dir, 'big.conf')] } }]);
  t.match(big, { tileSize: 512, metatile: 4, minZoom: 0, maxZoom: 9 }, 'tilesize and metarowscols of the map .conf');
  t.match(big!.tirex, { procs: 3, cfg: new Map([['fontdir', '/usr/share/fonts']]) });
});

t.test('tirex maps: each bad entry is a CONFIG_ERROR naming the map and the field', async (t) => {
  const tirex = { backend: EXAMPLE, map: { tiledir: '/var/tirex/m' } };
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ renderer: 'tirex' }, /maps\[0\]: a "tirex" object \(backend or rendererConfig, and map or mapConfigs\) for renderer "tirex"/],
    [{ tirex }, /maps\[0\]: "tirex" \(the backend and its map\) is for "renderer": "tirex"/],
    [{ renderer: 'tirex', tirex, style: 'a.xml' }, /maps\[0\]: no "style" for renderer "tirex"/],
    [{ renderer: 'tirex', tirex, palette: false }, /maps\[0\]: no "palette" for renderer "tirex"/],
    [{ renderer: 'tirex', tirex, scale: 2 }, /maps\[0\]: "scale" is a Mapnik option, for renderer "mapnik" \(this map's is "tirex"\)/],
    [{ renderer: 'tirex', tirex: 'x' }, /maps\[0\]\.tirex: an object/],
    [{ renderer: 'tirex', tirex: { ...tirex, threads: 2 } }, /maps\[0\]\.tirex: no field "threads" \(fields: rendererConfig, backend/],
    [{ renderer: 'tirex', tirex: { ...tirex, procs: '2' } }, /maps\[0\]\.tirex\.procs: an integer, got "2"/],
    [{ renderer: 'tirex', tirex: { ...tirex, debug: 1 } }, /maps\[0\]\.tirex\.debug: true or false, got 1/],
    [{ renderer: 'tirex', tirex: { ...tirex, config: { fontdir: ['a'] } } }, /maps\[0\]\.tirex\.config\.fontdir: a one-line string or number or boolean/],
    [{ renderer: 'tirex', tirex: { ...tirex, mapConfigs: [] } }, /maps\[0\]\.tirex\.mapConfigs: a list of 1 to 64 file names/],
    [{ renderer: 'tirex', tirex: { backend: EXAMPLE, map: { maxz: 3 } } }, /maps\[0\]\.tirex\.map\.tiledir: required/],
    [{ renderer: 'tirex', tirex: { backend: EXAMPLE, map: { tiledir: '/t', options: { tilesize: 'a\nb' } } } }, /maps\[0\]\.tirex\.map\.options\.tilesize: a one-line string or number/],
    [{ renderer: 'tirex', tirex: { map: { tiledir: '/t' } } }, /maps\[0\]\.tirex: a "backend" \(the program\) or a "rendererConfig"/],
    [{ renderer: 'tirex', tirex: { backend: EXAMPLE } }, /maps\[0\]\.tirex: either "map" .* or "mapConfigs"/],
  ];
  for (const [fields, message] of bad) {
    t.throws(() => resolveConfig({ maps: [{ name: 'm', ...fields }] as never }), { code: 'CONFIG_ERROR', message }, JSON.stringify(fields).slice(0, 80));
  }
  t.throws(() => resolveConfig({ maps: [{ name: 'default', renderer: 'tirex', tirex }] as never }), { code: 'CONFIG_ERROR', message: /maps\[0\]: the default map cannot be a tirex map/ });
});

t.test('tirex maps: values out of range and grids the backend cannot serve are refused at start-up, naming the map', async (t) => {
  const map = (fields: Record<string, unknown>, tirex: Record<string, unknown> = {}) => [{ name: 'm', renderer: 'tirex', ...fields, tirex: { backend: EXAMPLE, map: { tiledir: '/var/tirex/m', maxz: 10 }, ...tirex } }];
  const bad: Array<[unknown, RegExp]> = [
    [map({}, { procs: 99 }), /^map "m": tirex procs \(MAX_TIREX_PROCS\) must be an integer from 1 to 32, not 99$/],
    [map({}, { aliveTimeoutMs: 10 }), /^map "m": tirex aliveTimeoutMs must be an integer from 1000/],
    [map({}, { map: { tiledir: '/t', maxz: 99 } }), /^map "m": tirex map "m" maxz must be an integer from 0 to 30, not 99$/],
    [map({}, { rendererConfig: '/no/such/renderer.conf' }), /^map "m": cannot read tirex config \/no\/such\/renderer\.conf/],
    [map({ metatile: 4 }), /^map "m": metatile 4, but its tirex backend draws 8×8 metatiles \(metarowscols\): set "metatile": 8$/],
    [map({ tileSize: 512 }), /^map "m": tileSize 512, but its tirex backend draws 256 px tiles \(tilesize\)$/],
    [map({ maxZoom: 12 }), /^map "m": maxZoom 12 is above its tirex map's maxz 10$/],
    [map({}, { map: { tiledir: '/t', minz: 3 } }).map((m) => ({ ...m, minZoom: 1 })), /^map "m": minZoom 1 is below its tirex map's minz 3$/],
    [map({}, { map: { tiledir: '/t', options: { tilesize: 128 } } }), /^map "m": its tirex backend draws 128 px tiles \(tilesize\); mosaicd serves 256 or 512$/],
  ];
  for (const [maps, message] of bad) t.throws(() => resolveMaps(defaults, maps), { message }, JSON.stringify(maps).slice(0, 100));
});
