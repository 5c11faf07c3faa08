import { ProtocolError, type MosaicError } from '../errors.js';
import { ByteQueue } from './byte-queue.js';

export interface FatalItem {
  readonly type: 'fatal';
  readonly error: MosaicError;
}

export interface TruncatedItem {
  readonly type: 'truncated';
  readonly error: ProtocolError;
}

/**
 * The driver shared by the request and response frame decoders: a
 * byte-counting state machine over a ByteQueue. A subclass keeps its own
 * states and says, in step(), what the current state does with the bytes it
 * asked for with expect(); this class feeds chunks, stops for good after a
 * fatal item, and reports a stream that ends inside a message.
 */
export abstract class LengthPrefixedDecoder<Item extends { readonly type: string }> {
  protected readonly queue = new ByteQueue();
  #need = 8;
  #over = false;

  /** Bytes held for the message in progress. */
  get bufferedBytes(): number {
    return this.queue.length;
  }

  push(chunk: Buffer): Array<Item | FatalItem | TruncatedItem> {
    if (this.#over) return [];
    this.queue.push(chunk);
    const items: Array<Item | FatalItem | TruncatedItem> = [];
    while (this.queue.length >= this.#need) {
      const item = this.step(this.#need);
      if (item === undefined) continue;
      items.push(item);
      if (item.type === 'fatal') break;
    }
    return items;
  }

  /** The input ended. Returns a `truncated` item when it ended inside a message. */
  end(): Array<Item | FatalItem | TruncatedItem> {
    if (this.#over) return [];
    this.#over = true;
    const have = this.queue.length;
    this.queue.clear();
    if (this.atMessageStart() && have === 0) return [];
    return [{ type: 'truncated', error: new ProtocolError(`stream ended mid-${this.messageName}: ${have} of ${this.#need} bytes of ${this.describeState()} received`) }];
  }

  /** What one message is called in errors (`frame`, `response`). */
  protected abstract readonly messageName: string;
  /** Runs the current state with its `need` bytes queued. */
  protected abstract step(need: number): Item | FatalItem | undefined;
  /** True between messages. */
  protected abstract atMessageStart(): boolean;
  /** The part the current state reads, for errors (`the JSON length`). */
  protected abstract describeState(): string;
  /** Drops any partial message (after a fatal error). */
  protected abstract dropPartial(): void;

  /** The next state needs this many bytes. */
  protected expect(need: number): void {
    this.#need = need;
  }

  /** Ends decoding for good: later input is ignored. */
  protected fail(error: MosaicError): FatalItem {
    this.#over = true;
    this.#need = Infinity;
    this.queue.clear();
    this.dropPartial();
    return { type: 'fatal', error };
  }
}

/** A limit option must be a safe integer of at least `min`. */
export function checkLimit(name: string, value: number, min = 1): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${name} must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}
