import t from 'tap';
import { parseViewportJson, parseViewportWords } from '../../src/protocol/viewport-syntax.js';

// The one viewport parser of lines, frames and HTTP: one table of the rules.
const v = (z: number, minX: number, minY: number, maxX: number, maxY: number) => ({ ok: true, viewport: { z, minX, minY, maxX, maxY } });

t.test('good viewports parse to the same Viewport from words, named fields and the array', async (t) => {
  const good: Array<[number, number, number, number, number]> = [
    [0, 0, 0, 0, 0],
    [12, 2047, 1361, 2050, 1363],
    [99, 0, 0, 9_999_999_999, 9_999_999_999],
    // Syntax only: out of the grid, and min > max, are the tile API's to refuse (BAD_TILE).
    [1, 5, 5, 0, 0],
  ];
  for (const [z, minX, minY, maxX, maxY] of good) {
    const expected = v(z, minX, minY, maxX, maxY);
    t.same(parseViewportWords([z, minX, minY, maxX, maxY].map(String)), expected, `words ${z} ${minX} ${minY} ${maxX} ${maxY}`);
    t.same(parseViewportJson({ z, min_x: minX, min_y: minY, max_x: maxX, max_y: maxY }), expected, `fields ${z} ${minX}`);
    t.same(parseViewportJson({ viewport: [z, minX, minY, maxX, maxY] }), expected, `array ${z} ${minX}`);
  }
  t.same(parseViewportWords(['07', '0', '0', '1', '1']), v(7, 0, 0, 1, 1), 'leading zeros are decimal digits');
  t.same(parseViewportJson({ z: 3.0, min_x: 0, min_y: 0, max_x: 1, max_y: 1 }), v(3, 0, 0, 1, 1), 'JSON 3.0 is the integer 3');
  t.same(parseViewportJson({ viewport: [2, 0, 0, 1, 1], z: 9, min_x: 'junk' }), v(2, 0, 0, 1, 1), 'the array wins over the fields');
  t.same(parseViewportJson({ viewport: null, z: 2, min_x: 0, min_y: 0, max_x: 1, max_y: 1 }), v(2, 0, 0, 1, 1), 'a null array counts as absent');
});

t.test('bad viewports are refused with a reason naming the field', async (t) => {
  const badWords: Array<[string[], RegExp]> = [
    [['1', '2', '3'], /expected 5 numbers .* got 3/],
    [['1', '0', '0', '1', '1', '1'], /got 6/],
    [['1', '0', '0', '1', 'x'], /^max_y must be a non-negative integer for viewport, got "x"$/],
    [['1', '0', '0', '1', '-1'], /^max_y must be a non-negative integer/],
    [['1', '+0', '0', '1', '1'], /^min_x must be a non-negative integer/],
    [['1', '0', '1.5', '1', '1'], /^min_y must be a non-negative integer/],
    [['1', '0', '0', '1e3', '1'], /^max_x must be a non-negative integer/],
    [['123', '0', '0', '1', '1'], /^z must be at most 99 for viewport, got "123"$/],
    [['3', '0', '0', '99999999999', '1'], /^max_x must be at most 9999999999/],
    [['1', '0', '0', '1', '9'.repeat(400)], /^max_y must be a non-negative integer/],
  ];
  for (const [words, reason] of badWords) t.match(parseViewportWords(words), { ok: false, reason }, `words ${words.join(' ').slice(0, 40)}`);

  const badJson: Array<[Record<string, unknown>, RegExp]> = [
    [{ z: 1, min_x: 0, min_y: 0, max_x: 1 }, /^max_y must be a non-negative integer for viewport, got nothing$/],
    [{ z: 1, min_x: -1, min_y: 0, max_x: 1, max_y: 1 }, /^min_x .* got -1 \(number\)$/],
    [{ z: 1.5, min_x: 0, min_y: 0, max_x: 1, max_y: 1 }, /^z must be a non-negative integer/],
    [{ z: '1', min_x: 0, min_y: 0, max_x: 1, max_y: 1 }, /^z .* got "1" \(string\)$/],
    [{ z: true, min_x: 0, min_y: 0, max_x: 1, max_y: 1 }, /^z .* got true \(boolean\)$/],
    [{ z: 100, min_x: 0, min_y: 0, max_x: 1, max_y: 1 }, /^z must be at most 99/],
    [{ z: 3, min_x: 0, min_y: 0, max_x: 1e10, max_y: 1 }, /^max_x must be at most 9999999999/],
    [{ z: 3, min_x: 0, min_y: 0, max_x: 2 ** 60, max_y: 1 }, /^max_x must be a non-negative integer/],
    [{ viewport: [1, 2] }, /^viewport must be an array \[z, min_x, min_y, max_x, max_y\], got \[1,2\] \(array\)$/],
    [{ viewport: '1 0 0 1 1' }, /^viewport must be an array/],
    [{ viewport: [1, 0, 0, '1', 1] }, /^viewport\[3\] \(max_x\) must be a non-negative integer/],
  ];
  for (const [json, reason] of badJson) t.match(parseViewportJson(json), { ok: false, reason }, JSON.stringify(json).slice(0, 60));
});
