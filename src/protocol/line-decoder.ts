import { MAX_LINE_BYTES } from '../limits.js';

/**
 * Bytes -> lines for the line protocol (wire.md §3).
 *
 * - UTF-8; a line ends at `\n`, and a `\r` right before it is dropped.
 *   Lines are split on the byte 0x0A, which never occurs inside a multibyte
 *   UTF-8 sequence, so a character split across chunks decodes whole.
 *   Invalid UTF-8 decodes to U+FFFD.
 * - end(): a final unterminated line is complete (old clients send one
 *   command, no newline, then half-close).
 * - A line longer than `maxLineBytes` (terminator excluded) is reported once
 *   as `oversize`, as soon as it is known to be too long, and its bytes are
 *   dropped up to the next `\n`. At most maxLineBytes + 1 bytes (the + 1 is
 *   room for a `\r`) are ever buffered.
 * - An empty line comes through as `{ type: 'line', text: '' }` (the barrier).
 */

export interface LineItem {
  readonly type: 'line';
  readonly text: string;
}

export interface OversizeLineItem {
  readonly type: 'oversize';
  /** The line's first bytes (up to OVERSIZE_HEAD_BYTES, cut at a character boundary), for the error notice. */
  readonly head: string;
  /** Bytes of the line received when it was found too long (always > limit). */
  readonly bytes: number;
  /** The decoder's maxLineBytes, for the error message. */
  readonly limit: number;
}

export type LineDecoderItem = LineItem | OversizeLineItem;

export interface LineDecoderOptions {
  /** Longest line accepted, in bytes, terminator excluded. @default MAX_LINE_BYTES (4096) */
  maxLineBytes?: number;
}

/** How much of an oversize line is kept for the error message. */
export const OVERSIZE_HEAD_BYTES = 64;

const LF = 0x0a;
const CR = 0x0d;

export class LineDecoder {
  readonly #maxLineBytes: number;
  #pending: Buffer[] = [];
  #pendingLength = 0;
  /** True from an oversize report until the next `\n`. */
  #discarding = false;
  #ended = false;

  constructor(options: LineDecoderOptions = {}) {
    const max = options.maxLineBytes ?? MAX_LINE_BYTES;
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new RangeError(`maxLineBytes must be a positive integer, got ${String(max)}`);
    }
    this.#maxLineBytes = max;
  }

  push(chunk: Buffer): LineDecoderItem[] {
    if (this.#ended) throw new Error('LineDecoder.push() called after end()');
    const items: LineDecoderItem[] = [];
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(LF, start);
      const segment = chunk.subarray(start, newline === -1 ? chunk.length : newline);
      if (!this.#discarding && segment.length > 0) {
        if (this.#pendingLength + segment.length > this.#maxLineBytes + 1) {
          items.push(this.#oversize(segment));
        } else {
          this.#pending.push(segment);
          this.#pendingLength += segment.length;
        }
      }
      if (newline === -1) break;
      if (this.#discarding) this.#discarding = false;
      else items.push(this.#takeLine());
      start = newline + 1;
    }
    return items;
  }

  /** The peer half-closed: returns the final unterminated line, if any. */
  end(): LineDecoderItem[] {
    if (this.#ended) return [];
    this.#ended = true;
    if (this.#discarding || this.#pendingLength === 0) return [];
    return [this.#takeLine()];
  }

  #takeLine(): LineDecoderItem {
    let line = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending, this.#pendingLength);
    this.#pending = [];
    this.#pendingLength = 0;
    if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
    if (line.length > this.#maxLineBytes) {
      return { type: 'oversize', head: headOf([line]), bytes: line.length, limit: this.#maxLineBytes };
    }
    return { type: 'line', text: line.toString('utf8') };
  }

  #oversize(segment: Buffer): OversizeLineItem {
    const bytes = this.#pendingLength + segment.length;
    const head = headOf([...this.#pending, segment]);
    this.#pending = [];
    this.#pendingLength = 0;
    this.#discarding = true;
    return { type: 'oversize', head, bytes, limit: this.#maxLineBytes };
  }
}

/** The first OVERSIZE_HEAD_BYTES of the buffers, cut back to a UTF-8 character boundary. */
function headOf(buffers: readonly Buffer[]): string {
  const total = buffers.reduce((n, b) => n + b.length, 0);
  // One byte past the cut, to see whether the cut falls inside a character.
  const head = Buffer.concat(buffers, Math.min(total, OVERSIZE_HEAD_BYTES + 1));
  let cut = Math.min(head.length, OVERSIZE_HEAD_BYTES);
  // Back off over continuation bytes (10xxxxxx) so no character is cut in half.
  if (cut < head.length) while (cut > 0 && (head[cut]! & 0xc0) === 0x80) cut--;
  return head.subarray(0, cut).toString('utf8');
}
