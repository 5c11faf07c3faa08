import { TooLargeError } from '../../errors.js';
import { LengthPrefixedDecoder, checkLimit, type FatalItem, type TruncatedItem } from '../../protocol/length-prefixed-decoder.js';

/**
 * multiprocessing.connection framing (CPython Lib/multiprocessing/connection.py,
 * `Connection._send_bytes` / `_recv_bytes`): a 4-byte big-endian signed
 * length, or -1 followed by an 8-byte big-endian length for messages of
 * 2^31 - 1 bytes or more, then the bytes.
 */
export interface MpMessageItem {
  readonly type: 'message';
  readonly bytes: Buffer;
}

export type MpDecoderItem = MpMessageItem | FatalItem | TruncatedItem;

type State = 'length' | 'length64' | 'body';

/** Decodes messages; a length over `maxBytes` is fatal as soon as it is read. */
export class MpMessageDecoder extends LengthPrefixedDecoder<MpMessageItem> {
  protected readonly messageName = 'message';
  #state: State = 'length';
  readonly #max: number;
  /** The first messages (the authkey handshake) have a small limit of their own. */
  readonly #handshake: { readonly messages: number; readonly maxBytes: number };
  #seen = 0;

  /**
   * `handshake`: how many messages the handshake reads and their limit. Set
   * here rather than changed later: a client's first request can arrive in
   * the same chunk as its last handshake message.
   */
  constructor(maxBytes: number, handshake = { messages: 0, maxBytes: 0 }) {
    super();
    this.#max = checkLimit('maxBytes', maxBytes, 0);
    this.#handshake = handshake;
    this.expect(4);
  }

  protected step(need: number): MpMessageItem | FatalItem | undefined {
    switch (this.#state) {
      case 'length': {
        const n = this.queue.consume(need).readInt32BE(0);
        if (n === -1) {
          this.#state = 'length64';
          this.expect(8);
          return undefined;
        }
        if (n < 0) return this.fail(new TooLargeError(`message length ${n} is negative (only -1 announces an 8-byte length)`));
        return this.#body(n);
      }
      case 'length64': {
        const n = this.queue.consume(need).readBigUInt64BE(0);
        return this.#body(n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n));
      }
      case 'body':
        this.#state = 'length';
        this.expect(4);
        return { type: 'message', bytes: this.queue.consume(need) };
    }
  }

  #body(n: number): MpMessageItem | FatalItem | undefined {
    if (this.#seen++ < this.#handshake.messages) {
      if (n > this.#handshake.maxBytes) return this.fail(new TooLargeError(`handshake message of ${n} bytes is over ${this.#handshake.maxBytes} bytes`));
    } else if (n > this.#max) {
      return this.fail(new TooLargeError(`message of ${n} bytes is over the limit of ${this.#max} bytes (--max-payload-bytes)`));
    }
    if (n === 0) {
      this.#state = 'length';
      this.expect(4);
      return { type: 'message', bytes: Buffer.alloc(0) };
    }
    this.#state = 'body';
    this.expect(n);
    return undefined;
  }

  protected atMessageStart(): boolean {
    return this.#state === 'length';
  }

  protected describeState(): string {
    return this.#state === 'body' ? 'the message body' : 'the message length';
  }

  protected dropPartial(): void {
    this.#state = 'length';
  }
}

/** One message on the wire: the length header, then the bytes. */
export function encodeMpMessage(bytes: Uint8Array): Buffer {
  const n = bytes.byteLength;
  const header = n >= 0x7fffffff ? Buffer.alloc(12) : Buffer.alloc(4);
  if (n >= 0x7fffffff) {
    header.writeInt32BE(-1, 0);
    header.writeBigUInt64BE(BigInt(n), 4);
  } else {
    header.writeInt32BE(n, 0);
  }
  return Buffer.concat([header, bytes]);
}
