import t from 'tap';
import path from 'node:path';
import { resolveConfig } from '../../src/config/daemon-config.js';
import { configFromArgv } from '../../src/cli/options.js';
import { MapSet, resolveMaps } from '../../src/maps/index.js';
import { MAX_MAPS } from '../../src/limits.js';

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
