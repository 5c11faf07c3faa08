/**
 * mosaicd as tirex's backend manager: runs `procs` backend processes of one
 * tirex renderer, hands each a metatile at a time, reads the `.meta` file it
 * wrote and returns the tiles. Supervision follows tirex-backend-manager: a
 * process that exits is started again (with backoff); one silent past the
 * alive timeout gets HUP, TERM, KILL; exit code 10 disables the renderer.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  BadTileError,
  CancelledError,
  ConfigError,
  MosaicError,
  ProcessingError,
  ShuttingDownError,
  TimeoutError,
} from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import type { MetaTile } from '../../tile/tile-coord.js';
import type { RenderedTile } from '../meta.js';
import type { Renderer } from '../mapnik/renderer.js';
import { BackendProcess, freeUdpPort } from './backend-process.js';
import { formatConf } from './conf-file.js';
import { encodeRenderRequest, type TirexReply } from './message.js';
import { metatilePath, readMetatileFile } from './metatile-file.js';
import { EXIT_CODE_DISABLE, resolveTirexOptions, type ResolvedTirexOptions, type TirexRendererOptions } from './options.js';

/** A process that lived this long before it died was healthy: the next one starts at once, ms. */
const HEALTHY_LIFETIME_MS = 10_000;
/** Deaths before the first sign of life, in a row, after which waiting jobs fail and ready() rejects. */
const START_FAILURES = 3;
/** A job is tried on at most this many processes (a crash mid-job retries it once). */
const MAX_ATTEMPTS = 2;

interface Job {
  readonly meta: MetaTile;
  readonly resolve: (tiles: RenderedTile[]) => void;
  readonly reject: (err: unknown) => void;
  readonly signal: AbortSignal | undefined;
  attempts: number;
  id: string;
  timer: NodeJS.Timeout | undefined;
  settled: boolean;
  onAbort: (() => void) | undefined;
}

/** Why a backend process was replaced (`stats().restartReasons`). */
export type TirexRestartReason = 'exited' | 'silent' | 'timeout' | 'diedBeforeReady';
export const TIREX_RESTART_REASONS: readonly TirexRestartReason[] = ['exited', 'silent', 'timeout', 'diedBeforeReady'];

export interface TirexRendererStats {
  /** The tirex renderer's name (its backend). */
  readonly backend: string;
  /** Backend processes configured (`procs`). */
  readonly procs: number;
  /** Backend processes running now (started, not yet exited). */
  readonly alive: number;
  /** Their PIDs by slot; null while a slot's process is being replaced. */
  readonly pids: ReadonlyArray<number | null>;
  /** Metatiles being drawn now, and waiting for a free process. */
  readonly running: number;
  readonly queued: number;
  /** Metatiles drawn and cut into tiles; failed (other than by timeout); past `jobTimeoutMs`. */
  readonly rendered: number;
  readonly failed: number;
  readonly timedOut: number;
  /** Processes replaced, in all and by why: exited by itself (crash, kill, exit code), stopped for silence, stopped for overrunning a job, died (or could not start) before its first sign of life. */
  readonly restarts: number;
  readonly restartReasons: Readonly<Record<TirexRestartReason, number>>;
  /** Why the renderer is disabled (exit code 10, a program that cannot start); absent while it works. */
  readonly disabled: string | undefined;
}

export class TirexRenderer implements Renderer {
  readonly options: ResolvedTirexOptions;
  readonly #log: Logger;
  readonly #slots: Array<BackendProcess | undefined>;
  readonly #busy = new Map<BackendProcess, Job>();
  readonly #queue: Job[] = [];
  readonly #mapConfigs: readonly string[];
  readonly #tmpDir: string | undefined;
  readonly #watch: NodeJS.Timeout;
  readonly #restartTimers = new Set<NodeJS.Timeout>();
  #deathsInARow = 0;
  #startFailures = 0;
  #nextId = 1;
  #closed = false;
  #disabled: MosaicError | undefined;
  #stats = { rendered: 0, failed: 0, timedOut: 0, restarts: 0 };
  readonly #restartReasons: Record<TirexRestartReason, number> = { exited: 0, silent: 0, timeout: 0, diedBeforeReady: 0 };
  /** Processes mosaicd itself is stopping, and why (their exit is then not counted as `exited`). */
  readonly #stopReasons = new WeakMap<BackendProcess, 'silent' | 'timeout'>();
  #ready: { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void; settled: boolean };

  constructor(options: ResolvedTirexOptions, logger: Logger = silentLogger()) {
    this.options = options;
    this.#log = logger.child({ renderer: 'tirex', backend: options.rendererName, map: options.map.name });
    let resolve!: () => void, reject!: (e: unknown) => void;
    const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
    promise.catch(() => undefined);
    this.#ready = { promise, resolve, reject, settled: false };
    // Debian's Mapnik backend refuses a map whose tiledir does not exist yet.
    try {
      mkdirSync(options.map.tiledir, { recursive: true });
    } catch (err) {
      throw new ConfigError(`tirex map "${options.map.name}": cannot create its tiledir ${options.map.tiledir}: ${(err as Error).message}`);
    }
    if (options.inlineMap !== undefined) {
      this.#tmpDir = mkdtempSync(path.join(os.tmpdir(), 'mosaicd-tirex-'));
      const file = path.join(this.#tmpDir, `${options.map.name}.conf`);
      writeFileSync(file, formatConf(options.inlineMap));
      this.#mapConfigs = [file];
    } else {
      this.#mapConfigs = options.mapConfigs;
    }
    this.#slots = new Array<BackendProcess | undefined>(options.procs).fill(undefined);
    for (let i = 0; i < options.procs; i++) void this.#start(i);
    this.#watch = setInterval(() => this.#checkSilence(), Math.min(1000, Math.max(100, options.aliveTimeoutMs / 4)));
    this.#watch.unref();
  }

  /** Render slots: one job per backend process at a time (the scheduler's MetaTileRenderer.size). */
  get size(): number {
    return this.options.procs;
  }

  /** Resolves when a backend process has shown a sign of life; rejects when the renderer is disabled or its processes keep dying at start. */
  ready(): Promise<void> {
    return this.#ready.promise;
  }

  /** The PIDs of the running backend processes, by slot (operators; tests). */
  pids(): Array<number | undefined> {
    return this.#slots.map((p) => (p === undefined || p.exited ? undefined : p.pid));
  }

  stats(): TirexRendererStats {
    return {
      backend: this.options.rendererName,
      procs: this.options.procs,
      alive: this.#slots.filter((p) => p !== undefined && !p.exited).length,
      pids: this.pids().map((p) => p ?? null),
      running: this.#busy.size,
      queued: this.#queue.length,
      ...this.#stats,
      restartReasons: { ...this.#restartReasons },
      disabled: this.#disabled?.message,
    };
  }

  renderMetaTile(meta: MetaTile, signal?: AbortSignal): Promise<RenderedTile[]> {
    if (this.#closed) return Promise.reject(new ShuttingDownError());
    if (this.#disabled !== undefined) return Promise.reject(this.#disabled);
    const problem = this.#checkMeta(meta);
    if (problem !== undefined) return Promise.reject(new BadTileError(problem));
    if (signal?.aborted) return Promise.reject(new CancelledError());
    return new Promise<RenderedTile[]>((resolve, reject) => {
      const job: Job = { meta, resolve, reject, signal, attempts: 0, id: '', timer: undefined, settled: false, onAbort: undefined };
      if (signal !== undefined) {
        job.onAbort = () => {
          const i = this.#queue.indexOf(job);
          // A job a backend is already drawing runs to its end (tirex has no cancel); only its answer is dropped.
          if (i >= 0) this.#queue.splice(i, 1);
          this.#settle(job, new CancelledError());
        };
        signal.addEventListener('abort', job.onAbort, { once: true });
      }
      this.#queue.push(job);
      this.#dispatch();
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#watch);
    for (const t of this.#restartTimers) clearTimeout(t);
    for (const job of this.#queue.splice(0)) this.#settle(job, new ShuttingDownError());
    for (const job of this.#busy.values()) this.#settle(job, new ShuttingDownError());
    const live = this.#slots.filter((p): p is BackendProcess => p !== undefined && !p.exited);
    // HUP asks a tirex backend to finish and exit (as tirex does on stop); KILL after the grace.
    for (const p of live) p.kill('SIGHUP');
    const grace = setTimeout(() => live.forEach((p) => p.kill('SIGKILL')), this.options.termGraceMs);
    await Promise.all(live.map((p) => p.closed()));
    clearTimeout(grace);
    if (this.#tmpDir !== undefined) rmSync(this.#tmpDir, { recursive: true, force: true });
    if (!this.#ready.settled) this.#readyFail(new ShuttingDownError());
  }

  #checkMeta(meta: MetaTile): string | undefined {
    const { map } = this.options;
    const n = 2 ** meta.z;
    const side = Math.min(map.metaSize, n);
    if (![meta.z, meta.x, meta.y, meta.size].every(Number.isInteger)) return `not a metatile: ${JSON.stringify(meta)}`;
    if (meta.z < map.minz || meta.z > map.maxz) return `zoom ${meta.z} is outside tirex map "${map.name}" (zooms ${map.minz}..${map.maxz})`;
    if (meta.size !== side || meta.x % side !== 0 || meta.y % side !== 0 || meta.x < 0 || meta.y < 0 || meta.x + side > n || meta.y + side > n) {
      return `metatile ${meta.z}/${meta.x}/${meta.y} size ${meta.size} is not one of tirex map "${map.name}"'s ${map.metaSize}×${map.metaSize} metatiles`;
    }
    return undefined;
  }

  async #start(slot: number): Promise<void> {
    if (this.#closed || this.#disabled !== undefined) return;
    let port: number;
    try {
      port = this.options.basePort !== undefined ? this.options.basePort + slot : await freeUdpPort();
    } catch (err) {
      this.#log.error({ err, slot }, 'no UDP port for a tirex backend');
      this.#restartLater(slot, 'diedBeforeReady');
      return;
    }
    if (this.#closed || this.#disabled !== undefined) return;
    const p = new BackendProcess(slot, port, this.options, this.#mapConfigs, {
      alive: () => this.#onAlive(),
      reply: (proc, reply) => this.#onReply(proc, reply),
      exit: (proc, code, signal) => this.#onExit(proc, code, signal),
    }, this.#log);
    this.#slots[slot] = p;
    this.#log.info({ slot, pid: p.pid, port }, 'tirex backend started');
    this.#dispatch();
  }

  #onAlive(): void {
    this.#startFailures = 0;
    if (!this.#ready.settled) {
      this.#ready.settled = true;
      this.#ready.resolve();
    }
  }

  #dispatch(): void {
    if (this.#disabled !== undefined || this.#closed) return;
    for (const p of this.#slots) {
      if (this.#queue.length === 0) return;
      if (p === undefined || p.exited || p.stopStep !== undefined || this.#busy.has(p)) continue;
      const job = this.#queue.shift()!;
      if (job.settled) continue;
      job.attempts++;
      job.id = `mosaicd-${this.#nextId++}`;
      this.#busy.set(p, job);
      job.timer = setTimeout(() => this.#onTimeout(p, job), this.options.jobTimeoutMs);
      const { meta } = job;
      p.send(encodeRenderRequest({ id: job.id, map: this.options.map.name, prio: this.options.prio, x: meta.x, y: meta.y, z: meta.z }));
    }
  }

  #onTimeout(p: BackendProcess, job: Job): void {
    if (this.#busy.get(p) !== job) return;
    this.#busy.delete(p);
    this.#settle(job, new TimeoutError(`tirex backend ${this.options.rendererName} (pid ${p.pid}) took longer than ${this.options.jobTimeoutMs} ms for metatile ${this.#name(job.meta)}; its process is replaced`));
    // A backend still drawing cannot take another job: stop it the way a silent one is stopped.
    if (p.stopStep === undefined) this.#stopReasons.set(p, 'timeout');
    this.#stopStep(p);
  }

  #onReply(p: BackendProcess, reply: TirexReply): void {
    const job = this.#busy.get(p);
    if (job === undefined || reply.id !== job.id) {
      this.#log.warn({ slot: p.slot, id: reply.id }, 'tirex backend reply for no job it holds; dropped');
      return;
    }
    clearTimeout(job.timer);
    this.#busy.delete(p);
    this.#deathsInARow = 0;
    this.#dispatch();
    void this.#finish(job, reply);
  }

  async #finish(job: Job, reply: TirexReply): Promise<void> {
    const name = this.#name(job.meta);
    if (reply.result !== 'ok') {
      const why = reply.errmsg ?? `result=${reply.result ?? '(none)'}`;
      this.#settle(job, new ProcessingError(`tirex backend ${this.options.rendererName} could not render metatile ${name}: ${why}`));
      return;
    }
    const expected = metatilePath(this.options.map.tiledir, job.meta.z, job.meta.x, job.meta.y);
    // The path comes from another process: only the file tirex's layout names is read.
    if (reply.metatile !== undefined && path.resolve(reply.metatile) !== expected) {
      this.#settle(job, new ProcessingError(`tirex backend ${this.options.rendererName} wrote metatile ${name} to ${reply.metatile}, not to ${expected} (the map's tiledir)`));
      return;
    }
    try {
      const tiles = await readMetatileFile(expected, job.meta, this.options.map.metaSize);
      if (!this.options.keepMetatiles) await unlink(expected).catch(() => undefined);
      this.#settle(job, undefined, tiles);
    } catch (err) {
      const e = err instanceof MosaicError ? err : new ProcessingError(`tirex backend ${this.options.rendererName} reported metatile ${name} done, but ${expected} cannot be read: ${(err as Error).message}`, { cause: err });
      this.#settle(job, e);
    }
  }

  #onExit(p: BackendProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#slots[p.slot] === p) this.#slots[p.slot] = undefined;
    const how = signal !== null ? `signal ${signal}` : `exit code ${code ?? '(none: it could not be started)'}`;
    const tail = p.outputTail;
    const detail = `${how}${tail ? `; its last output: ${tail}` : ''}`;
    const job = this.#busy.get(p);
    if (job !== undefined) {
      this.#busy.delete(p);
      clearTimeout(job.timer);
      if (job.attempts < MAX_ATTEMPTS && !job.settled && !this.#closed) {
        this.#log.warn({ slot: p.slot, pid: p.pid, metatile: this.#name(job.meta), how }, 'tirex backend died mid-job; the job is tried again');
        this.#queue.unshift(job);
      } else {
        this.#settle(job, new ProcessingError(`tirex backend ${this.options.rendererName} (pid ${p.pid}) died rendering metatile ${this.#name(job.meta)} (${detail}), on its last try`));
      }
    }
    if (this.#closed) return;
    this.#log.warn({ slot: p.slot, pid: p.pid, code, signal, output: tail }, 'tirex backend exited');

    if (code === EXIT_CODE_DISABLE || (code === null && signal === null)) {
      const why = code === EXIT_CODE_DISABLE ? 'exited with code 10 (tirex: "disable this renderer", a configuration error)' : `could not be started (${detail})`;
      this.#disable(new ConfigError(`tirex backend ${this.options.rendererName} (${this.options.program}) ${why}${code === EXIT_CODE_DISABLE && tail ? `; its last output: ${tail}` : ''}. The renderer is disabled: fix its configuration and restart mosaicd`));
      return;
    }
    if (!p.everAlive) {
      this.#startFailures++;
      if (this.#startFailures >= START_FAILURES) {
        const err = new ProcessingError(`tirex backend ${this.options.rendererName} (${this.options.program}) exits before it is ready (${detail}); ${this.#startFailures} starts in a row failed, still retrying`);
        if (!this.#ready.settled) this.#readyFail(err);
        for (const j of this.#queue.splice(0)) this.#settle(j, err);
      }
    }
    const reason = this.#stopReasons.get(p) ?? (p.everAlive ? 'exited' : 'diedBeforeReady');
    this.#restartLater(p.slot, reason, Date.now() - p.startedAt >= HEALTHY_LIFETIME_MS && p.everAlive);
    this.#dispatch();
  }

  #restartLater(slot: number, reason: TirexRestartReason, healthy = false): void {
    if (this.#closed || this.#disabled !== undefined) return;
    this.#stats.restarts++;
    this.#restartReasons[reason]++;
    this.#deathsInARow = healthy ? 0 : this.#deathsInARow + 1;
    // As the worker pool: the first death in a row is replaced at once, then restartBackoffMs, doubling.
    const n = this.#deathsInARow;
    const delay = n <= 1 ? 0 : Math.min(this.options.maxRestartBackoffMs, this.options.restartBackoffMs * 2 ** (n - 2));
    const t = setTimeout(() => {
      this.#restartTimers.delete(t);
      void this.#start(slot);
    }, delay);
    this.#restartTimers.add(t);
  }

  #disable(err: MosaicError): void {
    if (this.#disabled !== undefined) return;
    this.#disabled = err;
    this.#log.error({ err: err.message }, 'tirex renderer disabled');
    this.#readyFail(err);
    for (const job of this.#queue.splice(0)) this.#settle(job, err);
    for (const [p, job] of this.#busy) {
      this.#settle(job, err);
      this.#busy.delete(p);
    }
    for (const p of this.#slots) p?.kill('SIGHUP');
  }

  #readyFail(err: unknown): void {
    if (this.#ready.settled) return;
    this.#ready.settled = true;
    this.#ready.reject(err);
  }

  /** tirex's ladder for a process that went silent (or overran a job): HUP, then TERM, then KILL. */
  #checkSilence(): void {
    const now = Date.now();
    for (const p of this.#slots) {
      if (p === undefined || p.exited) continue;
      if (p.stopStep !== undefined) {
        const grace = p.stopStep.signal === 'SIGHUP' ? this.options.hangupGraceMs : this.options.termGraceMs;
        if (p.stopStep.signal !== 'SIGKILL' && now - p.stopStep.at >= grace) this.#stopStep(p);
      } else if (now - p.lastSignOfLife > this.options.aliveTimeoutMs) {
        this.#log.warn({ slot: p.slot, pid: p.pid, silentMs: now - p.lastSignOfLife }, 'tirex backend silent past the alive timeout; stopping it');
        this.#stopReasons.set(p, 'silent');
        this.#stopStep(p);
      }
    }
  }

  #stopStep(p: BackendProcess): void {
    const next = p.stopStep === undefined ? 'SIGHUP' : p.stopStep.signal === 'SIGHUP' ? 'SIGTERM' : 'SIGKILL';
    p.stopStep = { signal: next, at: Date.now() };
    p.kill(next);
    if (next === 'SIGHUP' && this.options.hangupGraceMs === 0) this.#stopStep(p);
    else if (next === 'SIGTERM' && this.options.termGraceMs === 0) this.#stopStep(p);
  }

  #settle(job: Job, err: unknown, tiles?: RenderedTile[]): void {
    if (job.settled) return;
    job.settled = true;
    clearTimeout(job.timer);
    if (job.onAbort !== undefined) job.signal?.removeEventListener('abort', job.onAbort);
    if (err === undefined) {
      this.#stats.rendered++;
      job.resolve(tiles!);
    } else {
      if (err instanceof TimeoutError) this.#stats.timedOut++;
      else if (!(err instanceof CancelledError || err instanceof ShuttingDownError)) this.#stats.failed++;
      job.reject(err);
    }
  }

  #name(m: MetaTile): string {
    return `${m.z}/${m.x}/${m.y}`;
  }
}

/** The stats of the tirex renderers among a daemon's maps, by map name; undefined when none is tirex. */
export function tirexStatsByMap(renderers: Iterable<readonly [name: string, renderer: unknown]>): Record<string, TirexRendererStats> | undefined {
  const out: Record<string, TirexRendererStats> = {};
  let any = false;
  for (const [name, r] of renderers) {
    if (!(r instanceof TirexRenderer)) continue;
    out[name] = r.stats();
    any = true;
  }
  return any ? out : undefined;
}

/** Checks the options, starts the backend processes, and resolves once one is alive (rejects with a ConfigError when the backend disables itself). */
export async function createTirexRenderer(options: TirexRendererOptions, logger?: Logger): Promise<TirexRenderer> {
  const renderer = new TirexRenderer(resolveTirexOptions(options), logger);
  try {
    await renderer.ready();
  } catch (err) {
    await renderer.close();
    throw err;
  }
  return renderer;
}
