import t from 'tap';
import { createCanvas } from '@napi-rs/canvas';
import { ErrorCode } from '../../src/errors.js';
import { classifyTile, drawMetaTile } from '../../src/render/draw.js';
import { uniformColour } from '../../src/render/encode.js';
import { LAND_RGBA, OCEAN_RGBA } from '../../src/render/style.js';
import { WorldGeometry } from '../../src/render/geometry.js';
import { TileRenderer, type RenderedTile } from '../../src/render/tile-renderer.js';
import { decode, edgeDiff, LAND, lonLatToPixel, OCEAN, pixel, share, type Decoded } from './fixtures/helpers.js';

// Geometry is prepared once for the file (it is what a worker does at start-up).
const geometry = new WorldGeometry({ maxPixelZoom: 7 });
const r256 = new TileRenderer({ tileSize: 256, palette: true, geometry });

const byXY = (tiles: RenderedTile[], x: number, y: number): RenderedTile => {
  const tile = tiles.find((tt) => tt.x === x && tt.y === y);
  if (tile === undefined) throw new Error(`no tile ${x},${y}`);
  return tile;
};

t.test('tiles are 256 px palette PNGs, 512 px with tileSize 512, truecolour on request', async (t) => {
  const [a] = await r256.render({ z: 3, x: 4, y: 2, size: 1 });
  const d = await decode(a!.png);
  t.same([d.width, d.height, d.isPalette], [256, 256, true]);

  const r512 = new TileRenderer({ tileSize: 512, palette: true, geometry });
  const tiles = await r512.render({ z: 3, x: 4, y: 2, size: 2 });
  t.same(tiles.map((tt) => [tt.x, tt.y]), [[4, 2], [5, 2], [4, 3], [5, 3]], 'row-major');
  const d512 = await decode(tiles[0]!.png);
  t.same([d512.width, d512.height, d512.isPalette], [512, 512, true]);
  t.ok(share(d512, LAND) > 0.5, 'the 512 px Europe tile is mostly land too');

  const rgb = new TileRenderer({ tileSize: 256, palette: false, geometry });
  const [c] = await rgb.render({ z: 3, x: 4, y: 2, size: 1 });
  t.equal((await decode(c!.png)).isPalette, false);
});

t.test('a z3 tile over the Pacific is nearly all ocean, one over Europe largely land', async (t) => {
  const [pacific] = await r256.render({ z: 3, x: 0, y: 3, size: 1 }); // 180°W–135°W, 0–41°N (Hawaii is its only land)
  const [europe] = await r256.render({ z: 3, x: 4, y: 2, size: 1 });
  const p = await decode(pacific!.png), e = await decode(europe!.png);
  t.ok(share(p, OCEAN) > 0.97, `Pacific ocean share ${share(p, OCEAN).toFixed(3)}`);
  t.ok(share(e, LAND) > 0.5, `Europe land share ${share(e, LAND).toFixed(3)}`);
  t.ok(share(e, OCEAN) > 0.05, 'Europe still shows sea (Mediterranean, Baltic)');
});

t.test('the z2 world: continents where they belong, no bands across the antimeridian', async (t) => {
  const tiles = await r256.render({ z: 2, x: 0, y: 0, size: 4 });
  const decoded = new Map<string, Decoded>();
  for (const tt of tiles) decoded.set(`${tt.x},${tt.y}`, await decode(tt.png));
  const at = (lon: number, lat: number): [number, number, number] => {
    const [px, py] = lonLatToPixel(lon, lat, 1024);
    return pixel(decoded.get(`${px >> 8},${py >> 8}`)!, px & 255, py & 255);
  };
  const close = (c: number[], ref: readonly number[]): boolean => c.every((v, i) => Math.abs(v - ref[i]!) <= 2);
  const land: [string, number, number][] = [
    ['Moscow', 37.6, 55.7], ['Chukotka', 172, 66], ['Alaska', -150, 64], ['Sahara', 10, 23], ['Brazil', -55, -10],
    ['Australia', 134, -25], ['Antarctica', 0, -80], ['Antarctica near the antimeridian', 150, -80], ['Greenland', -40, 72],
  ];
  // A ring drawn across ±180° without cutting fills a band over these (Russia's latitudes, Antarctica's, Fiji's).
  const sea: [string, number, number][] = [
    ['North Atlantic', -30, 55], ['North Pacific west of 180°', 179, 45], ['North Pacific east of 180°', -179, 45],
    ['South Pacific', -120, -40], ['Indian Ocean', 80, -30], ['Southern Ocean', -100, -60], ['Southern Ocean', 60, -55],
    ['Pacific by Fiji', -175, -20], ['Arctic Ocean', 0, 84],
  ];
  for (const [name, lon, lat] of land) t.ok(close(at(lon, lat), LAND), `${name} is land: ${at(lon, lat)}`);
  for (const [name, lon, lat] of sea) t.ok(close(at(lon, lat), OCEAN), `${name} is sea: ${at(lon, lat)}`);
});

t.test('a metatile cuts into the same tiles as rendering them one by one (within anti-aliasing noise)', async (t) => {
  // Why not bit-identical: Skia steps each edge down from where it enters the
  // canvas, so a tile drawn alone starts its edges at a different place than
  // the same tile inside a 2048 px metatile; a few anti-aliased edge pixels
  // differ by some levels. Flat areas, and tiles with no edges, are identical.
  for (const [r, z, x, y] of [[r256, 5, 16, 8], [new TileRenderer({ tileSize: 512, palette: true, geometry }), 4, 8, 4]] as const) {
    const meta = await r.render({ z, x, y, size: 4 });
    let pixels = 0, identical = 0, absSum = 0, bytesEqual = 0;
    for (const tile of meta) {
      const [one] = await r.render({ z, x: tile.x, y: tile.y, size: 1 });
      if (Buffer.compare(Buffer.from(one!.png), Buffer.from(tile.png)) === 0) bytesEqual++;
      const a = await decode(tile.png), b = await decode(one!.png);
      for (let p = 0; p < a.rgb.length; p += 3) {
        const d = Math.abs(a.rgb[p]! - b.rgb[p]!) + Math.abs(a.rgb[p + 1]! - b.rgb[p + 1]!) + Math.abs(a.rgb[p + 2]! - b.rgb[p + 2]!);
        pixels++;
        if (d === 0) identical++;
        absSum += d / 3;
      }
    }
    const label = `${r.tileSize} px, z${z} metatile ${x},${y}`;
    t.ok(identical / pixels > 0.98, `${label}: ${((100 * identical) / pixels).toFixed(2)}% of pixels identical`);
    t.ok(absSum / pixels < 0.25, `${label}: mean difference ${(absSum / pixels).toFixed(4)} levels`);
    t.ok(bytesEqual > 0, `${label}: ${bytesEqual}/${meta.length} tiles byte-identical`);
  }
});

t.test('no seams: pixels across a metatile edge agree like neighbouring pixels inside a tile', async (t) => {
  // Two z6 metatiles side by side over Europe/Russia (busy with borders and coasts) and the one below.
  const left = await r256.render({ z: 6, x: 32, y: 16, size: 8 });
  const right = await r256.render({ z: 6, x: 40, y: 16, size: 8 });
  const below = await r256.render({ z: 6, x: 32, y: 24, size: 8 });
  let across = 0, inside = 0, n = 0;
  for (let k = 0; k < 8; k++) {
    const a = await decode(byXY(left, 39, 16 + k).png), b = await decode(byXY(right, 40, 16 + k).png);
    across += edgeDiff(a, b, 'col', 255, 0);
    inside += edgeDiff(a, a, 'col', 254, 255);
    const c = await decode(byXY(left, 32 + k, 23).png), d = await decode(byXY(below, 32 + k, 24).png);
    across += edgeDiff(c, d, 'row', 255, 0);
    inside += edgeDiff(c, c, 'row', 254, 255);
    n += 2;
  }
  t.ok(across / n <= (inside / n) * 1.5 + 0.5, `mean step across metatile edges ${(across / n).toFixed(3)}, between inner columns ${(inside / n).toFixed(3)}`);
  // Tiles cut from one canvas: the step between neighbours is the same as inside.
  const a = await decode(byXY(left, 35, 18).png), b = await decode(byXY(left, 36, 18).png);
  t.ok(edgeDiff(a, b, 'col', 255, 0) <= edgeDiff(a, a, 'col', 254, 255) * 1.5 + 0.5, 'inside one metatile');
});

t.test('tiles classified as plain ocean or land from the index are exactly what drawing gives', async (t) => {
  // The renderer skips drawing and reading such tiles; check the shortcut
  // against real drawing for every tile of z0–5.
  const canvas = createCanvas(2048, 2048);
  const ctx = canvas.getContext('2d');
  const counts = { ocean: 0, land: 0, mixed: 0 };
  let wrong = 0;
  for (let z = 0; z <= 5; z++) {
    const n = Math.min(8, 2 ** z);
    const geom = geometry.forPixelZoom(z);
    for (let y = 0; y < 2 ** z; y += n) {
      for (let x = 0; x < 2 ** z; x += n) {
        drawMetaTile(ctx, geom, { z, x, y, size: n }, 256);
        for (let i = 0; i < n * n; i++) {
          const dx = i % n, dy = Math.floor(i / n);
          const kind = classifyTile(geom, z, x + dx, y + dy, 256);
          counts[kind]++;
          if (kind === 'mixed') continue;
          const drawn = uniformColour(ctx.getImageData(dx * 256, dy * 256, 256, 256).data);
          if (drawn !== (kind === 'land' ? LAND_RGBA : OCEAN_RGBA)) wrong++;
        }
      }
    }
  }
  t.equal(wrong, 0, `classified ${JSON.stringify(counts)}`);
  t.ok(counts.land > 0 && counts.ocean > 0 && counts.mixed > 0);
});

t.test('lazily built geometry renders the same bytes as geometry built up front', async (t) => {
  const eager = new TileRenderer({ tileSize: 256, palette: true, geometry: new WorldGeometry({ maxPixelZoom: 7, eager: true }) });
  const lazy = new TileRenderer({ tileSize: 256, palette: true });
  for (const meta of [{ z: 2, x: 0, y: 0, size: 4 }, { z: 4, x: 8, y: 4, size: 4 }, { z: 7, x: 64, y: 40, size: 8 }]) {
    const [a, b] = await Promise.all([eager.render(meta), lazy.render(meta)]);
    t.ok(a.every((tile, i) => Buffer.compare(Buffer.from(tile.png), Buffer.from(b[i]!.png)) === 0), `z${meta.z}: same PNG bytes`);
  }
});

t.test('a block off the grid or too big is refused with BAD_TILE', async (t) => {
  await t.rejects(r256.render({ z: 2, x: 3, y: 0, size: 2 }), { code: ErrorCode.BAD_TILE });
  await t.rejects(r256.render({ z: 1, x: 0, y: 0, size: 4 }), { code: ErrorCode.BAD_TILE });
  await t.rejects(r256.render({ z: 8, x: 0, y: 0, size: 32 }), { code: ErrorCode.BAD_TILE }, 'over the canvas limit');
  await t.rejects(r256.render({ z: 2.5, x: 0, y: 0, size: 1 }), { code: ErrorCode.BAD_TILE });
});
