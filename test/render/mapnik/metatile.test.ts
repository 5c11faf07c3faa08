/**
 * Metatiles are correct: tiles cut from 8×8 metatiles (each drawn with the
 * buffer) match the same area of one 16×16 render of the whole z4 world, and
 * a label sitting exactly on a metatile edge is drawn whole on both sides.
 */
import t from 'tap';
import { createMapnikRenderer } from '../../../src/render/mapnik/mapnik-renderer.js';
import type { RenderedTile } from '../../../src/render/meta.js';
import { SEAM_POINTS } from '../../fixtures/map-style/make-style.js';
import { decode, difference, tempStyle } from './helpers.js';

/**
 * Largest per-channel difference allowed between a cut tile and the single
 * render. Measured: at most 4 levels, only on anti-aliased edges near the
 * metatile seams. AGG transforms each vertex from a different origin (the
 * metatile's extent), so sub-pixel coverage of an edge pixel can round
 * differently; placement (which labels, where) is identical.
 */
const TOLERANCE = 6;

const key = (x: number, y: number) => `${x}/${y}`;

/** Red glyph pixels of the seam label (SEAM_TEXT #ff0000, anti-aliased). */
function isSeamRed(d: Buffer, i: number): boolean {
  return d[i]! > 180 && d[i + 1]! < 110 && d[i + 2]! < 110;
}

t.test('tiles cut from z4 8×8 metatiles equal the same area of one whole-world render (within a few levels on edges)', async (t) => {
  const style = await tempStyle(t);
  const r = await createMapnikRenderer({ stylePath: style.xmlPath, format: 'png' });
  t.teardown(() => r.close());
  t.equal(r.bufferSize, 128, 'no buffer-size in the style: 128 px as renderd');
  const whole = new Map((await r.renderMetaTile({ z: 4, x: 0, y: 0, size: 16 })).map((tile) => [key(tile.x, tile.y), tile]));
  const cut = new Map<string, RenderedTile>();
  for (const [x, y] of [[0, 0], [8, 0], [0, 8], [8, 8]] as const) {
    for (const tile of await r.renderMetaTile({ z: 4, x, y, size: 8 })) cut.set(key(tile.x, tile.y), tile);
  }
  t.equal(cut.size, 256, 'the four metatiles give every z4 tile');
  let worst = 0, pixels = 0, identical = 0;
  for (const [k, tile] of cut) {
    const a = await decode(tile.png), b = await decode(whole.get(k)!.png);
    const d = difference(a.data, b.data);
    worst = Math.max(worst, d.worst);
    pixels += d.pixels;
    if (d.pixels === 0) identical++;
  }
  t.ok(worst <= TOLERANCE, `largest channel difference ${worst} <= ${TOLERANCE}`);
  t.ok(identical >= 230, `${identical} of 256 tiles pixel-identical (${pixels} px differ in all)`);

  // The seam labels: drawn across the seam in the metatile renders, glyph pixels on both sides.
  const checks = [
    // SEAM at lon 0: the seam between metatile columns 0 and 8 (tiles 7 | 8), both halves touch it.
    { a: key(7, 6), b: key(8, 6), vertical: true },
    // SEAM at lat 0: the seam between metatile rows 0 and 8 (tiles 7 above 8).
    { a: key(10, 7), b: key(10, 8), vertical: false },
  ];
  t.equal(SEAM_POINTS.length, 2);
  for (const c of checks) {
    const a = await decode(cut.get(c.a)!.png), b = await decode(cut.get(c.b)!.png);
    // Count red pixels in the 6 px strips on either side of the seam.
    let redA = 0, redB = 0;
    for (let i = 0; i < 256; i++) {
      for (let j = 0; j < 6; j++) {
        const ia = c.vertical ? 4 * (i * 256 + 255 - j) : 4 * ((255 - j) * 256 + i);
        const ib = c.vertical ? 4 * (i * 256 + j) : 4 * (j * 256 + i);
        if (isSeamRed(a.data, ia)) redA++;
        if (isSeamRed(b.data, ib)) redB++;
      }
    }
    t.ok(redA > 5 && redB > 5, `label glyphs run up to the seam in ${c.a} (${redA} px) and on from it in ${c.b} (${redB} px)`);
    // And the glyphs continue: both sides match the single render, where no seam exists.
    for (const k of [c.a, c.b]) {
      const d = difference((await decode(cut.get(k)!.png)).data, (await decode(whole.get(k)!.png)).data);
      t.ok(d.worst <= TOLERANCE, `${k}: the label is the single render's (largest difference ${d.worst})`);
    }
  }
});
