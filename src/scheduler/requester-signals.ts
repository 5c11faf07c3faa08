/**
 * Waiters grouped by their requester's AbortSignal, with one abort listener
 * per signal rather than one per waiter: a seeding connection keeps thousands
 * of tiles in flight on one signal, and EventTarget's add/removeEventListener
 * walk the whole listener list (quadratic over a seed). Both scheduler
 * engines use it.
 */
export class RequesterSignals<W> {
  readonly #bySignal = new WeakMap<AbortSignal, Set<W>>();
  readonly #onAbort: (waiter: W) => void;

  /** `onAbort` runs for each waiter still watched when its signal aborts. */
  constructor(onAbort: (waiter: W) => void) {
    this.#onAbort = onAbort;
  }

  /** Watches `signal` on behalf of `waiter`; returns what stops watching it. */
  watch(signal: AbortSignal, waiter: W): () => void {
    let waiters = this.#bySignal.get(signal);
    if (waiters === undefined) {
      const set = (waiters = new Set());
      this.#bySignal.set(signal, set);
      signal.addEventListener(
        'abort',
        () => {
          this.#bySignal.delete(signal);
          for (const w of [...set]) this.#onAbort(w);
          set.clear();
        },
        { once: true },
      );
    }
    const set = waiters;
    set.add(waiter);
    return () => set.delete(waiter);
  }
}
