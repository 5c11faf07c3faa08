import t from 'tap';
import { parseTileName, tileName, metaTileOf, tilesOfMeta } from '../../src/tile/tile-coord.js';
import { ErrorCode } from '../../src/errors.js';

t.test('parses Z_X_Y and Z/X/Y', async (t) => {
  t.same(parseTileName('16_58001_25480', 20), { z: 16, x: 58001, y: 25480 });
  t.same(parseTileName('3/4/2', 20), { z: 3, x: 4, y: 2 });
  t.equal(tileName(parseTileName('3/4/2', 20)), '3_4_2');
});

t.test('refuses malformed names and out-of-grid tiles with BAD_TILE', async (t) => {
  for (const bad of ['16_abc_1', '3_8_0', '99_0_0', '3_4/2', '', '-1_0_0', '3_4_2_1', ' 3_4_2']) {
    t.throws(() => parseTileName(bad, 20), { code: ErrorCode.BAD_TILE }, bad);
  }
  t.throws(() => parseTileName('5_0_0', 4), { code: ErrorCode.BAD_TILE }, 'above max zoom');
});

t.test('metatiles cover min(size, 2^z) tiles per side', async (t) => {
  t.same(metaTileOf({ z: 1, x: 1, y: 0 }, 8), { z: 1, x: 0, y: 0, size: 2 });
  t.same(metaTileOf({ z: 16, x: 58001, y: 25480 }, 8), { z: 16, x: 58000, y: 25480, size: 8 });
  t.equal(tilesOfMeta({ z: 2, x: 0, y: 0, size: 4 }).length, 16);
});
