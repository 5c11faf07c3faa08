import { ProtocolError, TooLargeError, type MosaicError } from '../errors.js';
import { MAX_FRAME_JSON_BYTES, MAX_PAYLOAD_BYTES } from '../limits.js';
import { LengthPrefixedDecoder, checkLimit } from './length-prefixed-decoder.js';

/**
 * Client side of the framed protocol: response bytes -> `{json, images}`
 * (wire.md §5). Same shape as FrameDecoder:
 *
 *   ┌─────────────┐ 8  ┌──────┐ N  ┌─────────────┐ 8, K = 0 ──────────────────────────► response
 *   │ JSON_LENGTH ├───►│ JSON ├───►│ IMAGE_COUNT ├─┐
 *   └─────────────┘    └──────┘    └─────────────┘ │ K > 0
 *          ▲                        ┌──────────────┴┐ 8  ┌───────┐ L   (K times)
 *          │                        │ IMAGE_LENGTH  ├───►│ IMAGE ├──┬─► response
 *          │                        └───────────────┘◄───┴───────┘  │
 *          └────────────────────────────────────────────────────────┘
 *
 *   JSON length 0 or over maxJsonBytes, image count over maxImageCount,
 *   image length over maxImageBytes ──► FAILED (one `fatal` item, input ignored)
 *
 * A response JSON length of 0 is fatal here (unlike requests): the daemon
 * never sends one, so the stream cannot be trusted.
 */

export interface FrameResponseItem {
  readonly type: 'response';
  /** The response JSON (UTF-8). */
  readonly json: Buffer;
  /** The result images, in order; may be views into the pushed chunks. */
  readonly images: readonly Buffer[];
}

export interface FatalResponseItem {
  readonly type: 'fatal';
  readonly error: MosaicError;
}

export interface TruncatedResponseItem {
  readonly type: 'truncated';
  readonly error: ProtocolError;
}

export type FrameResponseDecoderItem = FrameResponseItem | FatalResponseItem | TruncatedResponseItem;

export interface FrameResponseDecoderOptions {
  /** @default MAX_FRAME_JSON_BYTES (10 MiB) */
  maxJsonBytes?: number;
  /** Largest single image, bytes. @default MAX_PAYLOAD_BYTES (64 MiB) */
  maxImageBytes?: number;
  /** Most images in one response. @default DEFAULT_MAX_IMAGE_COUNT */
  maxImageCount?: number;
}

export const DEFAULT_MAX_IMAGE_COUNT = 65_536;

const enum State {
  JSON_LENGTH,
  JSON,
  IMAGE_COUNT,
  IMAGE_LENGTH,
  IMAGE,
}

const STATE_NAMES: Record<State, string> = {
  [State.JSON_LENGTH]: 'the JSON length',
  [State.JSON]: 'the JSON',
  [State.IMAGE_COUNT]: 'the image count',
  [State.IMAGE_LENGTH]: 'an image length',
  [State.IMAGE]: 'an image',
};

export class FrameResponseDecoder extends LengthPrefixedDecoder<FrameResponseItem | FatalResponseItem> {
  protected readonly messageName = 'response';
  readonly #maxJsonBytes: number;
  readonly #maxImageBytes: number;
  readonly #maxImageCount: number;
  #state = State.JSON_LENGTH;
  #json: Buffer | undefined;
  #images: Buffer[] = [];
  #imagesLeft = 0;

  constructor(options: FrameResponseDecoderOptions = {}) {
    super();
    this.#maxJsonBytes = checkLimit('maxJsonBytes', options.maxJsonBytes ?? MAX_FRAME_JSON_BYTES);
    this.#maxImageBytes = checkLimit('maxImageBytes', options.maxImageBytes ?? MAX_PAYLOAD_BYTES);
    this.#maxImageCount = checkLimit('maxImageCount', options.maxImageCount ?? DEFAULT_MAX_IMAGE_COUNT);
  }

  protected step(need: number): FrameResponseItem | FatalResponseItem | undefined {
    switch (this.#state) {
      case State.JSON_LENGTH: {
        const n = this.queue.consumeU64();
        if (n === 0n) return this.fail(new ProtocolError('response JSON length is 0'));
        if (n > BigInt(this.#maxJsonBytes)) {
          return this.fail(new TooLargeError(`response JSON length ${n} is over the limit of ${this.#maxJsonBytes} bytes`));
        }
        this.#goto(State.JSON, Number(n));
        return undefined;
      }
      case State.JSON:
        this.#json = this.queue.consume(need);
        this.#goto(State.IMAGE_COUNT, 8);
        return undefined;
      case State.IMAGE_COUNT: {
        const k = this.queue.consumeU64();
        if (k > BigInt(this.#maxImageCount)) {
          return this.fail(new TooLargeError(`response image count ${k} is over the limit of ${this.#maxImageCount}`));
        }
        this.#imagesLeft = Number(k);
        return this.#nextImageOrDone();
      }
      case State.IMAGE_LENGTH: {
        const l = this.queue.consumeU64();
        if (l > BigInt(this.#maxImageBytes)) {
          return this.fail(new TooLargeError(`response image length ${l} is over the limit of ${this.#maxImageBytes} bytes`));
        }
        this.#goto(State.IMAGE, Number(l));
        return undefined;
      }
      case State.IMAGE:
        this.#images.push(this.queue.consume(need));
        this.#imagesLeft--;
        return this.#nextImageOrDone();
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
    this.#images = [];
  }

  #nextImageOrDone(): FrameResponseItem | undefined {
    if (this.#imagesLeft > 0) {
      this.#goto(State.IMAGE_LENGTH, 8);
      return undefined;
    }
    const item: FrameResponseItem = { type: 'response', json: this.#json!, images: this.#images };
    this.#json = undefined;
    this.#images = [];
    this.#goto(State.JSON_LENGTH, 8);
    return item;
  }

  #goto(state: State, need: number): void {
    this.#state = state;
    this.expect(need);
  }
}
