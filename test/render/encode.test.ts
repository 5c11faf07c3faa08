import t from 'tap';
import { TileEncoder, uniformColour } from '../../src/render/encode.js';
import { LAND_RGBA, OCEAN_RGBA } from '../../src/render/style.js';

/** A 2×1-tile RGBA image (16 px tiles): the left tile all ocean, the right one with a diagonal of land. */
function twoTiles(): Uint8Array {
  const w = 32, h = 16, px = new Uint32Array(w * h).fill(OCEAN_RGBA);
  for (let i = 0; i < 16; i++) px[i * w + 16 + i] = LAND_RGBA;
  return new Uint8Array(px.buffer);
}

function copyTile(img: Uint8Array, imageWidth: number, x0: number, size: number): Uint8Array {
  const out = new Uint8Array(size * size * 4);
  for (let y = 0; y < size; y++) out.set(img.subarray(4 * (y * imageWidth + x0), 4 * (y * imageWidth + x0 + size)), 4 * y * size);
  return out;
}

t.test('uniformColour with a stride looks only at the tile', async (t) => {
  const img = twoTiles();
  t.equal(uniformColour(img.subarray(0, 4 * (15 * 32 + 16)), 16, 32), OCEAN_RGBA, 'left tile: one colour');
  t.equal(uniformColour(img.subarray(4 * 16), 16, 32), undefined, 'right tile: two');
  t.equal(uniformColour(img), undefined, 'whole image');
});

for (const palette of [true, false]) {
  t.test(`encodeFrom gives the bytes of encode on the copied tile (${palette ? 'palette' : 'truecolour'})`, async (t) => {
    const enc = new TileEncoder({ tileSize: 16, palette });
    const img = twoTiles();
    for (const x0 of [0, 16]) {
      const [a, b] = await Promise.all([enc.encodeFrom(img, 32, x0, 0), enc.encode(copyTile(img, 32, x0, 16))]);
      t.same(Buffer.from(a), Buffer.from(b), `tile at x ${x0}`);
    }
    t.equal(await enc.encodeFrom(img, 32, 0, 0), await enc.flat(OCEAN_RGBA), 'a flat tile comes from the cache');
  });
}
