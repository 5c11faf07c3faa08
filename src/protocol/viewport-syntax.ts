import type { Viewport } from '../tile/viewport.js';
import { describeJson } from './json-value.js';

/**
 * The one viewport parser, for every wire (docs/protocol.md "Viewports").
 * Syntax only, the same rules everywhere:
 *
 * - five values in the order z, min_x, min_y, max_x, max_y;
 * - each a non-negative integer: a JSON number (frames, HTTP) or a word of
 *   decimal digits (lines); strings, booleans, fractions, signs and
 *   exponents are refused;
 * - z at most 99 and each index at most 9999999999, the digit counts of a
 *   tile name (src/protocol/tile-syntax.ts);
 * - JSON gives either the five named fields or `"viewport": [z, min_x,
 *   min_y, max_x, max_y]`; the array wins when both are present.
 *
 * Whether the viewport lies in the grid, under the max zoom, with
 * min <= max, is the tile API's check (BAD_TILE), made once for all wires.
 * Each wire reports a failure its own way: an error notice, a
 * PROTOCOL_ERROR answer, an HTTP 400.
 */

export const VIEWPORT_FIELDS = ['z', 'min_x', 'min_y', 'max_x', 'max_y'] as const;
/** Largest z that parses: two digits, as in a tile name. */
export const MAX_VIEWPORT_ZOOM_SYNTAX = 99;
/** Largest column or row that parses: ten digits, as in a tile name. */
export const MAX_VIEWPORT_INDEX_SYNTAX = 9_999_999_999;

export type ViewportSyntax = { readonly ok: true; readonly viewport: Viewport } | { readonly ok: false; readonly reason: string };

const DIGITS = /^\d+$/;

/** The words after `viewport` on a line. */
export function parseViewportWords(words: readonly string[]): ViewportSyntax {
  if (words.length !== VIEWPORT_FIELDS.length) return { ok: false, reason: `expected 5 numbers (z min_x min_y max_x max_y), got ${words.length}` };
  // A word that is not all digits stays a string, which the shared rule refuses.
  return check(
    words.map((w) => (DIGITS.test(w) ? Number(w) : w)),
    VIEWPORT_FIELDS,
    (i) => JSON.stringify(words[i]!.slice(0, 32)),
  );
}

/** A JSON object's viewport: `viewport: [...]`, or else the five named fields. */
export function parseViewportJson(o: Readonly<Record<string, unknown>>): ViewportSyntax {
  const array = o['viewport'];
  if (array !== undefined && array !== null) {
    if (!Array.isArray(array) || array.length !== VIEWPORT_FIELDS.length) {
      return { ok: false, reason: `viewport must be an array [${VIEWPORT_FIELDS.join(', ')}], got ${describeJson(array)}` };
    }
    const values: readonly unknown[] = array;
    return check(values, VIEWPORT_FIELDS.map((f, i) => `viewport[${i}] (${f})`), (i) => describeJson(values[i]));
  }
  const values = VIEWPORT_FIELDS.map((f) => o[f]);
  return check(values, VIEWPORT_FIELDS, (i) => describeJson(values[i]));
}

/** The shared rule: five non-negative integers within the tile-name digit counts. */
function check(values: readonly unknown[], names: readonly string[], shown: (i: number) => string): ViewportSyntax {
  for (let i = 0; i < VIEWPORT_FIELDS.length; i++) {
    const v = values[i];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
      return { ok: false, reason: `${names[i]} must be a non-negative integer for viewport, got ${shown(i)}` };
    }
    const max = i === 0 ? MAX_VIEWPORT_ZOOM_SYNTAX : MAX_VIEWPORT_INDEX_SYNTAX;
    if (v > max) return { ok: false, reason: `${names[i]} must be at most ${max} for viewport, got ${shown(i)}` };
  }
  const [z, minX, minY, maxX, maxY] = values as readonly [number, number, number, number, number];
  return { ok: true, viewport: { z, minX, minY, maxX, maxY } };
}
