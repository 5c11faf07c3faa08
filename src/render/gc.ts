/**
 * Garbage collection on demand, for the render and geometry threads.
 *
 * Only a context created while --expose-gc is set gets a `gc` function, so
 * the flag is set just long enough to make one (V8 flags are process-wide;
 * it is switched off again at once). Should V8 refuse, the functions do
 * nothing and memory is freed later, by V8's own collections.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

type GcFunction = (options?: { type?: 'minor' | 'major' }) => void;

let cached: GcFunction | null | undefined;

function gcFunction(): GcFunction | null {
  if (cached !== undefined) return cached;
  cached = null;
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as unknown;
    if (typeof gc === 'function') cached = gc as GcFunction;
  } catch {
    // keep null
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
  return cached;
}

/** A young-generation collection (a scavenge): well under a millisecond on a render worker's heap. */
export function collectYoung(): void {
  gcFunction()?.({ type: 'minor' });
}

/**
 * A full, forced collection (tens of ms on a big heap), after which V8 also
 * gives the emptied heap pages back; for a thread that has just finished a
 * burst of work. (`{ type: 'major' }` is not the same: on Node 20 it leaves
 * most of the garbage and every page.)
 */
export function collectAll(): void {
  gcFunction()?.();
}
