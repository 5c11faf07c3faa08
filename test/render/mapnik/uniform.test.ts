/**
 * Uniform tiles (open sea, inland) are found with Mapnik's isSolid and
 * encoded once per colour (src/render/mapnik/mapnik-renderer.ts): the
 * shortcut must not change a pixel. The reference is the same metatile
 * rendered here with Mapnik's API directly, no cutting, no encoding.
 */
import t from 'tap';
import path from 'node:path';
import { metaExtent } from '../../../src/render/mapnik/extent.js';
import { loadMapnik } from '../../../src/render/mapnik/mapnik-api.js';
import { createMapnikRenderer } from '../../../src/render/mapnik/mapnik-renderer.js';
import type { MapnikEncoder, MapnikTileFormat } from '../../../src/render/mapnik/options.js';
import type { MetaTile } from '../../../src/tile/tile-coord.js';
import { OCEAN } from '../../fixtures/map-style/make-style.js';
import { decode, difference, tempStyle } from './helpers.js';

const META: MetaTile = { z: 3, x: 0, y: 0, size: 8 };
const TS = 256;

/** The metatile's RGBA pixels (straight alpha) as Mapnik draws them, with the renderer's default buffer. */
async function reference(stylePath: string): Promise<Buffer> {
  const mapnik = await loadMapnik();
  mapnik.register_system_fonts();
  const px = META.size * TS;
  const map = new mapnik.Map(px, px);
  await new Promise<void>((res, rej) => map.load(stylePath, { strict: false, base: path.dirname(stylePath) }, (e) => (e ? rej(e) : res())));
  map.bufferSize = 128;
  map.extent = metaExtent(META);
  const image = new mapnik.Image(px, px);
  await new Promise<void>((res, rej) => map.render(image, { buffer_size: 128 }, (e) => (e ? rej(e) : res())));
  if (image.premultiplied()) image.demultiplySync();
  return image.data();
}

/** One tile's area of the reference, as a tightly packed RGBA buffer. */
function area(ref: Buffer, tx: number, ty: number): Buffer {
  const stride = META.size * TS * 4;
  const out = Buffer.alloc(TS * TS * 4);
  for (let row = 0; row < TS; row++) {
    const start = (ty * TS + row) * stride + tx * TS * 4;
    ref.copy(out, row * TS * 4, start, start + TS * 4);
  }
  return out;
}

const isUniform = (rgba: Buffer): boolean => {
  for (let i = 4; i < rgba.length; i += 4) if (rgba.readUInt32LE(i) !== rgba.readUInt32LE(0)) return false;
  return true;
};

t.test('uniform tiles decode to exactly the pixels of their area of the metatile, for each format and encoder, and share one PNG per colour', async (t) => {
  const style = await tempStyle(t);
  const ref = await reference(style.xmlPath);
  const ocean = [parseInt(OCEAN.slice(1, 3), 16), parseInt(OCEAN.slice(3, 5), 16), parseInt(OCEAN.slice(5, 7), 16), 255];
  const cases: Array<{ format: MapnikTileFormat; encoder: MapnikEncoder }> = [
    { format: 'png256', encoder: 'mapnik' },
    { format: 'png', encoder: 'mapnik' },
    { format: 'png256', encoder: 'builtin' },
  ];
  for (const { format, encoder } of cases) {
    const r = await createMapnikRenderer({ stylePath: style.xmlPath, format, encoder });
    t.teardown(() => r.close());
    const tiles = await r.renderMetaTile(META);
    const uniform = [];
    for (const tile of tiles) {
      const expected = area(ref, tile.x - META.x, tile.y - META.y);
      if (!isUniform(expected)) continue;
      const got = await decode(tile.png);
      t.same(difference(got.data, expected), { worst: 0, pixels: 0 }, `${format}/${encoder}: tile ${tile.x}/${tile.y} is the same pixels`);
      uniform.push(tile);
    }
    // z3 of the world style: open-sea tiles in the Pacific and the Southern Ocean.
    t.ok(uniform.length >= 4, `${format}/${encoder}: ${uniform.length} uniform tiles of 64`);
    const seaTiles = uniform.filter((tile) => [...area(ref, tile.x, tile.y).subarray(0, 4)].every((v, i) => v === ocean[i]));
    t.ok(seaTiles.length >= 2, `${format}/${encoder}: ${seaTiles.length} of them open sea (${OCEAN})`);
    t.equal(new Set(seaTiles.map((tile) => tile.png)).size, 1, `${format}/${encoder}: the sea tiles are one encoded PNG`);
  }
});
