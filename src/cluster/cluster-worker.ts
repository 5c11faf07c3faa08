import { EventEmitter } from 'node:events';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Logger } from '../log.js';
import { codeOf, messageOf } from '../errors.js';
import type { MetaTileRenderer, TileSink } from '../scheduler/tile-scheduler.js';
import { onMap, tilesOfMeta, type MetaTile } from '../tile/tile-coord.js';
import { BadJobDataError, parseJobData } from './job-data.js';
import { closeOrDrop, connectionOf } from './connection.js';
import type { QueueUrl } from './queue-url.js';

export interface ClusterWorkerOptions {
  url: QueueUrl;
  prefix: string;
  /** One queue per map: its name and map. */
  queues: ReadonlyArray<{ name: string; map: string | undefined }>;
  renderer: MetaTileRenderer;
  sink: TileSink;
  /** Renders at once on this node, over every map. */
  slots: number;
  /** Lock and stall check bound (see QUEUE_STALL_MS). */
  stallMs: number;
  mapCheck: (map: string | undefined) => { metatile: number; maxZoom: number };
  log: Logger;
  /** A job rendered (or found on disk) here: its queue and id. */
  onDone?: (queue: string, jobId: string) => void;
}

/** What the processor returns (a job's `returnvalue`). */
export interface RenderJobResult {
  tiles: number;
  /** Every tile was on disk already (a job re-added after another node finished it). */
  skipped: boolean;
}

/**
 * This node's share of the rendering: a BullMQ Worker per map queue whose
 * processor renders with this node's renderer and writes to the shared
 * store (temp file + rename, so two nodes finishing the same metatile never
 * tear a tile). Every map's workers share `slots`. Emits `rendered`
 * (meta, ms) per metatile rendered here.
 *
 * A job's error goes back as `CODE: message` (failedReason), so the
 * accepting node answers with the same code as a local render failure.
 */
export class ClusterWorkers extends EventEmitter {
  readonly #o: ClusterWorkerOptions;
  readonly #workers: Worker[] = [];
  #free: number;
  readonly #slotWaiters: Array<() => void> = [];
  running = 0;
  failed = 0;

  constructor(options: ClusterWorkerOptions) {
    super();
    this.#o = options;
    this.#free = options.slots;
    // Locks renewed every stallMs/4; a dead holder's lock lapses after stallMs/2 and the
    // stall check (every stallMs/2) moves the job back: another node has it within ~stallMs.
    const half = Math.max(50, Math.floor(options.stallMs / 2));
    for (const q of options.queues) {
      const worker = new Worker(q.name, async (job, _token, signal) => {
        const result = await this.#process(job, signal);
        if (job.id !== undefined) options.onDone?.(q.name, job.id);
        return result;
      }, {
        connection: connectionOf(options.url),
        prefix: options.prefix,
        concurrency: options.slots,
        lockDuration: half,
        stalledInterval: half,
        maxStalledCount: 5,
        runRetryDelay: 500,
        drainDelay: 5,
        autorun: true,
      });
      worker.on('error', (err) => options.log.warn({ queue: q.name, err: messageOf(err) }, 'queue worker: redis error (reconnecting)'));
      this.#workers.push(worker);
    }
  }

  async waitUntilReady(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.waitUntilReady()));
  }

  /**
   * Takes no more jobs; resolves when this node's running jobs have finished.
   * With Redis away BullMQ could not record their end and close() would wait
   * for it: once no render runs here, it gets CLOSE_GRACE_MS (connection.ts), then the
   * connections are dropped (the jobs' locks lapse and another node takes them).
   */
  async close(): Promise<void> {
    const closing = Promise.all(this.#workers.map((w) => w.close().catch(() => undefined))).then(() => true);
    const tick = () => new Promise<false>((r) => setTimeout(() => r(false), 100));
    while (this.running > 0) if (await Promise.race([closing, tick()])) return;
    // BullMQ's close() is idempotent: this waits for the close started above, CLOSE_GRACE_MS at most.
    await Promise.all(this.#workers.map((w) => closeOrDrop(w)));
  }

  async #process(job: Job, signal?: AbortSignal): Promise<RenderJobResult> {
    let meta: MetaTile;
    let force: boolean;
    try {
      ({ meta, force } = parseJobData(job.data, this.#o.mapCheck));
    } catch (err) {
      this.failed++;
      this.#o.log.warn({ jobId: job.id, err: messageOf(err) }, 'queue worker: refused a malformed job');
      // No retries: the payload will not get better.
      throw new UnrecoverableError(`PROTOCOL_ERROR: ${(err as BadJobDataError).message}`);
    }
    if (!force && tilesOfMeta(meta).every((t) => this.#o.sink.has(t))) return { tiles: 0, skipped: true };
    await this.#slot();
    this.running++;
    const started = performance.now();
    try {
      const tiles = await this.#o.renderer.renderMetaTile(meta, signal);
      await this.#o.sink.writeMany(tiles.map((t) => ({ tile: onMap({ z: meta.z, x: t.x, y: t.y }, meta.map), png: t.png })));
      const ms = performance.now() - started;
      this.emit('rendered', meta, ms, tiles.length);
      return { tiles: tiles.length, skipped: false };
    } catch (err) {
      this.failed++;
      throw new UnrecoverableError(`${codeOf(err)}: render failed: ${messageOf(err)}`);
    } finally {
      this.running--;
      this.#release();
    }
  }

  #slot(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#slotWaiters.push(resolve));
  }

  #release(): void {
    const next = this.#slotWaiters.shift();
    if (next) next();
    else this.#free++;
  }
}
