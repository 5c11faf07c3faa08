/**
 * Dynamic batching: collects items submitted by concurrent requests and
 * runs them together, for at most `maxDelayMs` or until `maxBatch` items
 * are waiting. Callers that will submit soon `hold()` the batcher, so a
 * lone request is not kept waiting for company that is not coming: with no
 * holder left, whatever is pending runs at once.
 *
 * Where it lives: inside each worker, one batcher per model, batching the
 * requests that worker holds (the pool gives a worker several at once when
 * batching is on). Not on the main thread because (1) crops would cross
 * threads twice (worker → main → some worker), and on CPU a batch saves
 * too little to pay for that (rec cost per crop measured flat from batch 1
 * to 4); (2) a batch spanning workers would tie their failure domains
 * together — a timeout or crash would have to fail requests on other
 * workers; (3) the worker's own synchronous det runs are the natural batch
 * window: while one request's detection runs, the others' crops queue. The
 * cost is that only requests on the same worker share a batch.
 *
 * Pending items are ordered by `compare` (rec: aspect ratio, as PaddleOCR
 * sorts before chunking) and cut into runs of at most `maxBatch`; `fits`
 * may end a run early (rec: so a short line never pays for a long one's
 * padding). Runs are serialised: one model run at a time per batcher.
 */
export interface BatcherOptions<T> {
  maxBatch: number;
  maxDelayMs: number;
  compare?: (a: T, b: T) => number;
  /** Whether `next` may join the run that starts with `first` and holds `count` items. */
  fits?: (first: T, next: T, count: number) => boolean;
  onBatch?: (size: number) => void;
}

interface Pending<TIn, TOut> {
  item: TIn;
  resolve: (value: TOut) => void;
  reject: (reason: unknown) => void;
}

export class Batcher<TIn, TOut> {
  private pending: Pending<TIn, TOut>[] = [];
  private holders = 0;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly runBatch: (items: TIn[]) => Promise<TOut[]>,
    private readonly opts: BatcherOptions<TIn>,
  ) {}

  /** Announce a coming submit; call the returned function once it is made (or will not be). */
  hold(): () => void {
    this.holders++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holders--;
      this.check();
    };
  }

  submit(items: TIn[]): Promise<TOut[]> {
    const all = Promise.all(items.map((item) => new Promise<TOut>((resolve, reject) => this.pending.push({ item, resolve, reject }))));
    this.check();
    return all;
  }

  private check(): void {
    if (this.pending.length === 0) return;
    if (this.pending.length >= this.opts.maxBatch || this.holders <= 0) {
      this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.opts.maxDelayMs);
    }
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    // Take the pending items when the run starts, not now: whatever arrives
    // while an earlier run is busy joins this one.
    this.chain = this.chain.then(() => this.runPending());
  }

  private async runPending(): Promise<void> {
    const taken = this.pending.splice(0);
    if (taken.length === 0) return;
    const { compare, fits, maxBatch } = this.opts;
    if (compare) taken.sort((a, b) => compare(a.item, b.item));
    let run: Pending<TIn, TOut>[] = [];
    for (const p of taken) {
      if (run.length > 0 && (run.length >= maxBatch || (fits && !fits(run[0]!.item, p.item, run.length)))) {
        await this.runOne(run);
        run = [];
      }
      run.push(p);
    }
    if (run.length > 0) await this.runOne(run);
  }

  private async runOne(run: Pending<TIn, TOut>[]): Promise<void> {
    try {
      const out = await this.runBatch(run.map((p) => p.item));
      if (out.length !== run.length) throw new Error(`a batch of ${run.length} returned ${out.length} results`);
      this.opts.onBatch?.(run.length);
      run.forEach((p, j) => p.resolve(out[j]!));
    } catch (err) {
      for (const p of run) p.reject(err);
    }
  }
}
