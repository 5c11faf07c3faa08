/**
 * Barriers for the line protocol (wire.md §3): an empty line asks for one
 * `\n` back once every tile this connection asked for *before* it has
 * finished. Tiles asked for after the barrier don't hold it up.
 *
 * One tracker per connection. Each request gets an increasing id from
 * `track()`; a barrier remembers the next id at the time it was made and
 * resolves once no request with a smaller id is outstanding. Barriers resolve
 * in the order they were made (a later barrier covers everything an earlier
 * one does), so writing `\n` in resolution order keeps the replies in order.
 *
 * ```
 * t1 = track()   t2 = track()   b1 = barrier()   t3 = track()   b2 = barrier()
 * t2()  -> nothing (t1 outstanding)
 * t1()  -> b1 resolves (t3 doesn't matter to b1); b2 waits for t3
 * t3()  -> b2 resolves
 * ```
 */
export class BarrierTracker {
  #nextId = 0;
  /** Outstanding request ids. A Set iterates in insertion order, and ids are inserted in increasing order, so its first element is the smallest. */
  readonly #outstanding = new Set<number>();
  readonly #barriers: Array<{ upTo: number; resolve: () => void; reject: (err: Error) => void }> = [];

  /** Registers one request; call the returned function once when it has finished (success or failure). Extra calls are ignored. */
  track(): () => void {
    const id = this.#nextId++;
    this.#outstanding.add(id);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#outstanding.delete(id);
      this.#release();
    };
  }

  /** Resolves when every request tracked before this call has finished. */
  barrier(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#barriers.push({ upTo: this.#nextId, resolve, reject });
      this.#release();
    });
  }

  /** Requests tracked and not yet finished. */
  get outstanding(): number {
    return this.#outstanding.size;
  }

  /** Barriers not yet resolved. */
  get waiting(): number {
    return this.#barriers.length;
  }

  /** Rejects every waiting barrier (the connection went away). Tracking can go on afterwards. */
  abort(reason: Error): void {
    for (const b of this.#barriers.splice(0)) b.reject(reason);
  }

  #release(): void {
    const oldest = this.#outstanding.values().next();
    const smallest = oldest.done === true ? Infinity : oldest.value;
    while (this.#barriers.length > 0 && this.#barriers[0]!.upTo <= smallest) {
      this.#barriers.shift()!.resolve();
    }
  }
}
