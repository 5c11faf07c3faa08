import PQueue from 'p-queue';
import { BusyError, ShuttingDownError } from '../errors.js';

export interface InferenceLaneOptions {
  /** Inference jobs running at once (the engine's workers keep their own small queue behind this). */
  concurrency: number;
  /** Queued jobs before new ones are refused as BUSY. */
  limit: number;
}

/**
 * The inference class of the scheduler. It has its own slots, so tile work
 * (any class, bulk included) never takes a camera request's place and a
 * camera flood never takes a tile's; both share the CPU.
 */
export class InferenceLane {
  readonly #queue: PQueue;
  readonly #limit: number;
  #closing = false;
  #rejectedBusy = 0;

  constructor(options: InferenceLaneOptions) {
    this.#queue = new PQueue({ concurrency: options.concurrency });
    this.#limit = options.limit;
  }

  run<T>(job: (signal?: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.#closing) return Promise.reject(new ShuttingDownError());
    if (this.#queue.size >= this.#limit) {
      this.#rejectedBusy++;
      return Promise.reject(new BusyError(`the inference queue is full (${this.#limit} requests)`));
    }
    return this.#queue.add(({ signal: s }) => job(s), { ...(signal ? { signal } : {}) }) as Promise<T>;
  }

  stats(): { queued: number; running: number; rejectedBusy: number } {
    return { queued: this.#queue.size, running: this.#queue.pending, rejectedBusy: this.#rejectedBusy };
  }

  async close(): Promise<void> {
    this.#closing = true;
    await this.#queue.onIdle();
  }
}
