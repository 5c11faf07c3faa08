import { ProtocolError, TooLargeError, type MosaicError } from '../errors.js';
import { MAX_FRAME_JSON_BYTES, MAX_PAYLOAD_BYTES } from '../limits.js';
import { LengthPrefixedDecoder, checkLimit } from './length-prefixed-decoder.js';

/**
 * Decoder for the framed request envelope (wire.md §5), all integers u64 LE:
 *
 *   8 bytes JSON length N (1 .. maxJsonBytes) | N bytes JSON | 8 bytes payload length M (<= maxPayloadBytes) | M bytes payload
 *
 * An explicit state machine over a list of buffers (undici's websocket
 * ByteParser): each state waits until the bytes it needs are queued, then
 * consumes exactly those bytes.
 *
 *   ┌─────────────┐ 8   ┌──────┐ N   ┌────────────────┐ 8   ┌─────────┐ M
 *   │ JSON_LENGTH ├────►│ JSON ├────►│ PAYLOAD_LENGTH ├────►│ PAYLOAD ├────► frame
 *   └─────────────┘     └──────┘     └────────────────┘     └─────────┘    (or bad-frame)
 *     ▲    │ N = 0 (skips JSON, frame is reported as bad-frame) ▲    │
 *     │    └─────────────────────────────────────────────────────┘    │
 *     └───────────────────────────────────────────────────────────────┘
 *
 *   any length over its limit ──► FAILED: one `fatal` item, all later input ignored
 *
 * Limits are checked the moment a length's 8 bytes are in, before anything
 * else is buffered, and compared as bigint so a length >= 2^53 is not
 * rounded into range. A length over a limit cannot be skipped safely (the
 * peer may really send that much), so it is fatal: the connection answers
 * TOO_LARGE and closes. A JSON length of 0 is an error the stream survives:
 * the payload length and payload are still read, then `bad-frame` is emitted.
 *
 * `json` and `payload` may be views into the pushed chunks (no copy when one
 * chunk holds them). Copy a payload before transferring its ArrayBuffer to a
 * worker unless `payload.byteLength === payload.buffer.byteLength`.
 */

export interface FrameItem {
  readonly type: 'frame';
  readonly json: Buffer;
  readonly payload: Buffer;
}

/** A frame the stream survived but that cannot be served (JSON length 0). */
export interface BadFrameItem {
  readonly type: 'bad-frame';
  readonly error: ProtocolError;
  readonly payload: Buffer;
}

/** The stream cannot be resynchronised: answer `error`, then close. Emitted once. */
export interface FatalFrameItem {
  readonly type: 'fatal';
  readonly error: MosaicError;
  /** The JSON of the frame when it had already been read (payload length over the limit), to echo its request_id. */
  readonly json?: Buffer;
}

/** From end(): the stream ended inside a frame. */
export interface TruncatedFrameItem {
  readonly type: 'truncated';
  readonly error: ProtocolError;
}

export type FrameDecoderItem = FrameItem | BadFrameItem | FatalFrameItem | TruncatedFrameItem;

export interface FrameDecoderOptions {
  /** Largest JSON metadata accepted, bytes. @default MAX_FRAME_JSON_BYTES (10 MiB) */
  maxJsonBytes?: number;
  /** Largest payload accepted, bytes. @default MAX_PAYLOAD_BYTES (64 MiB) */
  maxPayloadBytes?: number;
}

const enum State {
  JSON_LENGTH,
  JSON,
  PAYLOAD_LENGTH,
  PAYLOAD,
}

const STATE_NAMES: Record<State, string> = {
  [State.JSON_LENGTH]: 'the JSON length',
  [State.JSON]: 'the JSON',
  [State.PAYLOAD_LENGTH]: 'the payload length',
  [State.PAYLOAD]: 'the payload',
};

export class FrameDecoder extends LengthPrefixedDecoder<FrameItem | BadFrameItem | FatalFrameItem> {
  protected readonly messageName = 'frame';
  readonly #maxJsonBytes: number;
  readonly #maxPayloadBytes: number;
  #state = State.JSON_LENGTH;
  #json: Buffer | undefined;
  /** Set when the frame being read is known bad but the stream is still in sync. */
  #badFrame: ProtocolError | undefined;

  constructor(options: FrameDecoderOptions = {}) {
    super();
    this.#maxJsonBytes = checkLimit('maxJsonBytes', options.maxJsonBytes ?? MAX_FRAME_JSON_BYTES);
    this.#maxPayloadBytes = checkLimit('maxPayloadBytes', options.maxPayloadBytes ?? MAX_PAYLOAD_BYTES, 0);
  }

  protected step(need: number): FrameItem | BadFrameItem | FatalFrameItem | undefined {
    switch (this.#state) {
      case State.JSON_LENGTH: {
        const n = this.queue.consumeU64();
        if (n > BigInt(this.#maxJsonBytes)) {
          return this.fail(new TooLargeError(`frame JSON length ${n} is over the limit of ${this.#maxJsonBytes} bytes`));
        }
        if (n === 0n) {
          this.#badFrame = new ProtocolError('frame JSON length is 0 (expected 1 or more bytes of JSON metadata)');
          this.#goto(State.PAYLOAD_LENGTH, 8);
        } else {
          this.#goto(State.JSON, Number(n));
        }
        return undefined;
      }
      case State.JSON:
        this.#json = this.queue.consume(need);
        this.#goto(State.PAYLOAD_LENGTH, 8);
        return undefined;
      case State.PAYLOAD_LENGTH: {
        const m = this.queue.consumeU64();
        if (m > BigInt(this.#maxPayloadBytes)) {
          const json = this.#json;
          const fatal = this.fail(new TooLargeError(`frame payload length ${m} is over the limit of ${this.#maxPayloadBytes} bytes`));
          return json === undefined ? fatal : { ...fatal, json };
        }
        this.#goto(State.PAYLOAD, Number(m));
        // A zero-length payload is complete already; push() runs PAYLOAD with need = 0.
        return undefined;
      }
      case State.PAYLOAD: {
        const payload = this.queue.consume(need);
        const json = this.#json;
        const bad = this.#badFrame;
        this.#json = undefined;
        this.#badFrame = undefined;
        this.#goto(State.JSON_LENGTH, 8);
        if (bad !== undefined || json === undefined) {
          return { type: 'bad-frame', error: bad ?? new ProtocolError('frame has no JSON'), payload };
        }
        return { type: 'frame', json, payload };
      }
    }
  }

  protected atMessageStart(): boolean {
    return this.#state === State.JSON_LENGTH;
  }

  protected describeState(): string {
    return STATE_NAMES[this.#state];
  }

  protected dropPartial(): void {
    this.#json = undefined;
    this.#badFrame = undefined;
  }

  #goto(state: State, need: number): void {
    this.#state = state;
    this.expect(need);
  }
}
