/**
 * The buffer list under both frame decoders (undici's websocket ByteParser
 * keeps the same shape): chunks are queued as they arrive and `consume(n)`
 * takes exactly n bytes off the front. Module-internal; not re-exported from
 * the protocol index.
 */
export class ByteQueue {
  #buffers: Buffer[] = [];
  #length = 0;

  /** Bytes queued and not yet consumed. */
  get length(): number {
    return this.#length;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#buffers.push(chunk);
    this.#length += chunk.length;
  }

  /**
   * Takes n bytes (n <= length). When the first buffer holds all n bytes the
   * result is a view of it, not a copy, so it may share memory with the
   * chunk the caller pushed. Bytes spread over several buffers are copied
   * once into a fresh, unpooled buffer.
   */
  consume(n: number): Buffer {
    if (n > this.#length) {
      throw new RangeError(`consume(${n}) with only ${this.#length} bytes queued`);
    }
    if (n === 0) return Buffer.alloc(0);
    this.#length -= n;
    const first = this.#buffers[0]!;
    if (first.length === n) {
      this.#buffers.shift();
      return first;
    }
    if (first.length > n) {
      this.#buffers[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    // allocUnsafeSlow: never a slice of Node's shared pool, so a payload can
    // be handed to a worker thread in a transfer list without detaching the pool.
    const out = Buffer.allocUnsafeSlow(n);
    let offset = 0;
    while (offset < n) {
      const buf = this.#buffers[0]!;
      const take = Math.min(buf.length, n - offset);
      buf.copy(out, offset, 0, take);
      offset += take;
      if (take === buf.length) this.#buffers.shift();
      else this.#buffers[0] = buf.subarray(take);
    }
    return out;
  }

  /** Reads a u64 LE at the front (8 bytes must be queued) and consumes it. */
  consumeU64(): bigint {
    return this.consume(8).readBigUInt64LE(0);
  }

  clear(): void {
    this.#buffers = [];
    this.#length = 0;
  }
}

/** Writes `n` as a u64 LE into `target` at `offset`. */
export function writeU64(target: Buffer, offset: number, n: number): void {
  target.writeBigUInt64LE(BigInt(n), offset);
}
