/**
 * `request_id` is echoed back exactly as the client sent it (wire.md §5).
 * JSON.parse turns a 64-bit id such as a C# `DateTime.Ticks` (above 2^53)
 * into a rounded double, so such a number is kept as its JSON text and
 * written back verbatim by the frame encoder.
 */

/** A JSON number whose value JSON.parse could not hold exactly; written back as `text`. */
export class RawJsonNumber {
  /** The number's JSON text as received, e.g. `638500000000000001`. */
  readonly text: string;

  constructor(text: string) {
    if (!JSON_NUMBER.test(text)) throw new TypeError(`not a JSON number: ${JSON.stringify(text)}`);
    this.text = text;
  }

  /** For logs and plain JSON.stringify (a string, so no precision is lost). */
  toJSON(): string {
    return this.text;
  }

  toString(): string {
    return this.text;
  }
}

/** The request_id of a framed request: null when absent. */
export type RequestId = number | string | null | RawJsonNumber;

const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/**
 * The JSON text of the value of top-level key `key` in `json`, which must be
 * valid JSON with an object root (it has already been through JSON.parse).
 * Like JSON.parse, the last occurrence of a duplicated key wins.
 */
export function rawTopLevelValue(json: string, key: string): string | undefined {
  let i = skipSpace(json, 0);
  if (json[i] !== '{') return undefined;
  i++;
  let found: string | undefined;
  while (i < json.length) {
    i = skipSpace(json, i);
    if (json[i] === '}' || i >= json.length) return found;
    const keyEnd = skipString(json, i);
    const name = JSON.parse(json.slice(i, keyEnd)) as string;
    i = skipSpace(json, keyEnd) + 1; // the ':'
    const start = skipSpace(json, i);
    const end = skipValue(json, start);
    if (name === key) found = json.slice(start, end);
    i = skipSpace(json, end);
    if (json[i] === ',') i++;
    else if (json[i] !== '}') return undefined; // not the JSON we expected: give up rather than guess
  }
  return found;
}

function skipSpace(s: string, i: number): number {
  while (i < s.length && (s[i] === ' ' || s[i] === '\t' || s[i] === '\n' || s[i] === '\r')) i++;
  return i;
}

/** `s[i]` is the opening quote; returns the index after the closing quote. */
function skipString(s: string, i: number): number {
  i++;
  while (i < s.length && s[i] !== '"') i += s[i] === '\\' ? 2 : 1;
  return i + 1;
}

function skipValue(s: string, i: number): number {
  const c = s[i];
  if (c === '"') return skipString(s, i);
  if (c === '{' || c === '[') {
    let depth = 0;
    while (i < s.length) {
      const d = s[i];
      if (d === '"') {
        i = skipString(s, i);
        continue;
      }
      if (d === '{' || d === '[') depth++;
      else if (d === '}' || d === ']') depth--;
      i++;
      if (depth === 0) return i;
    }
    return i;
  }
  // number, true, false, null
  while (i < s.length && !',}] \t\n\r'.includes(s[i]!)) i++;
  return i;
}
