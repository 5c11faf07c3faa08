/**
 * Protocol detection on the request port (wire.md §2).
 *
 * A binary frame starts with a u64 LE length below 2^56, so one of its first
 * 8 bytes is NUL; a text line never holds NUL. The sniffer looks only at the
 * first 8 bytes and decides as soon as one of these holds:
 *
 *   - a NUL is seen                                   -> 'frames'
 *   - a `\n` is seen at offset >= 1, no NUL before it -> 'lines'
 *   - 8 bytes are buffered without NUL                -> 'lines'
 *   - end() (the peer half-closed)                    -> NUL seen ? 'frames' : 'lines'
 *
 * A `\n` at offset 0 decides nothing: it may be an empty line (a barrier) or
 * the low byte of a frame's JSON length 10.
 *
 * Every byte pushed is kept until takeBuffered(), so the chosen decoder can be
 * fed the whole stream from its first byte.
 */

export type WireProtocol = 'lines' | 'frames';

const SNIFF_BYTES = 8;
const NUL = 0x00;
const LF = 0x0a;

export class ProtocolSniffer {
  #chunks: Buffer[] = [];
  /** Bytes seen so far (only the first SNIFF_BYTES matter for the decision). */
  #seen = 0;
  #decision: WireProtocol | undefined;

  /** The decision, once made. */
  get protocol(): WireProtocol | undefined {
    return this.#decision;
  }

  /**
   * Buffers `chunk` and returns the protocol once it is known, else
   * undefined. After the decision, further chunks are still buffered (and
   * the decision returned), though a caller normally switches to the chosen
   * decoder right away.
   */
  push(chunk: Buffer): WireProtocol | undefined {
    if (chunk.length > 0) this.#chunks.push(chunk);
    if (this.#decision !== undefined) return this.#decision;
    for (let i = 0; i < chunk.length && this.#seen < SNIFF_BYTES; i++, this.#seen++) {
      const byte = chunk[i];
      if (byte === NUL) return (this.#decision = 'frames');
      if (byte === LF && this.#seen >= 1) return (this.#decision = 'lines');
    }
    if (this.#seen >= SNIFF_BYTES) return (this.#decision = 'lines');
    return undefined;
  }

  /** The peer half-closed: decide with what there is (no NUL seen -> 'lines'). */
  end(): WireProtocol {
    this.#decision ??= 'lines';
    return this.#decision;
  }

  /** Every byte pushed so far, in order; the sniffer's buffer is emptied. */
  takeBuffered(): Buffer {
    const chunks = this.#chunks;
    this.#chunks = [];
    if (chunks.length === 1) return chunks[0]!;
    return Buffer.concat(chunks);
  }
}
