import { ProtocolError, TooLargeError, type MosaicError } from '../errors.js';
import { MAX_FRAME_JSON_BYTES, MAX_PAYLOAD_BYTES } from '../limits.js';
import { ByteQueue } from './byte-queue.js';

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
  FAILED,
  ENDED,
}

const STATE_NAMES: Record<State, string> = {
  [State.JSON_LENGTH]: 'the JSON length',
  [State.JSON]: 'the JSON',
  [State.PAYLOAD_LENGTH]: 'the payload length',
  [State.PAYLOAD]: 'the payload',
  [State.FAILED]: 'failed',
  [State.ENDED]: 'ended',
};

export class FrameDecoder {
  readonly #maxJsonBytes: number;
  readonly #maxPayloadBytes: number;
  readonly #queue = new ByteQueue();
  #state = State.JSON_LENGTH;
  /** Bytes the current state waits for. */
  #need = 8;
  #json: Buffer | undefined;
  /** Set when the frame being read is known bad but the stream is still in sync. */
  #badFrame: ProtocolError | undefined;

  constructor(options: FrameDecoderOptions = {}) {
    this.#maxJsonBytes = checkLimit('maxJsonBytes', options.maxJsonBytes ?? MAX_FRAME_JSON_BYTES);
    this.#maxPayloadBytes = checkLimit('maxPayloadBytes', options.maxPayloadBytes ?? MAX_PAYLOAD_BYTES, 0);
  }

  /** Bytes held for the frame in progress. */
  get bufferedBytes(): number {
    return this.#queue.length;
  }

  push(chunk: Buffer): FrameDecoderItem[] {
    if (this.#state === State.FAILED || this.#state === State.ENDED) return [];
    this.#queue.push(chunk);
    const items: FrameDecoderItem[] = [];
    while (this.#queue.length >= this.#need) {
      const item = this.#step();
      if (item === undefined) continue;
      items.push(item);
      if (item.type === 'fatal') break;
    }
    return items;
  }

  /** The input ended. Returns a `truncated` item when it ended inside a frame. */
  end(): FrameDecoderItem[] {
    const state = this.#state;
    if (state === State.FAILED || state === State.ENDED) return [];
    this.#state = State.ENDED;
    const have = this.#queue.length;
    this.#queue.clear();
    if (state === State.JSON_LENGTH && have === 0) return [];
    const error = new ProtocolError(
      `stream ended mid-frame: ${have} of ${this.#need} bytes of ${STATE_NAMES[state]} received`,
    );
    return [{ type: 'truncated', error }];
  }

  /** Runs one state transition; #need bytes are queued. */
  #step(): FrameDecoderItem | undefined {
    switch (this.#state) {
      case State.JSON_LENGTH: {
        const n = this.#queue.consumeU64();
        if (n > BigInt(this.#maxJsonBytes)) {
          return this.#fail(new TooLargeError(`frame JSON length ${n} is over the limit of ${this.#maxJsonBytes} bytes`));
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
        this.#json = this.#queue.consume(this.#need);
        this.#goto(State.PAYLOAD_LENGTH, 8);
        return undefined;
      case State.PAYLOAD_LENGTH: {
        const m = this.#queue.consumeU64();
        if (m > BigInt(this.#maxPayloadBytes)) {
          const json = this.#json;
          const fatal = this.#fail(
            new TooLargeError(`frame payload length ${m} is over the limit of ${this.#maxPayloadBytes} bytes`),
          );
          return json === undefined ? fatal : { ...fatal, json };
        }
        this.#goto(State.PAYLOAD, Number(m));
        // A zero-length payload is complete already; the loop in push() runs PAYLOAD with #need = 0.
        return undefined;
      }
      case State.PAYLOAD: {
        const payload = this.#queue.consume(this.#need);
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
      default:
        throw new Error(`FrameDecoder stepped in state ${STATE_NAMES[this.#state]}`);
    }
  }

  #goto(state: State, need: number): void {
    this.#state = state;
    this.#need = need;
  }

  #fail(error: MosaicError): FatalFrameItem {
    this.#state = State.FAILED;
    this.#need = Infinity;
    this.#json = undefined;
    this.#queue.clear();
    return { type: 'fatal', error };
  }
}

function checkLimit(name: string, value: number, min = 1): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${name} must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}
