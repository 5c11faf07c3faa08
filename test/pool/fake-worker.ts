/**
 * A scripted worker for WorkerPool tests: what each job does is in the job
 * itself, so a test reads as the story it tells. Nothing here is a thread or
 * a process; the pool cannot tell.
 */
import type { WorkerEvents } from '../../src/pool/worker-handle.js';
import type { FromPoolWorker, ToPoolWorker } from '../../src/pool/protocol.js';
import type { PoolWorkerHandle } from '../../src/pool/worker-handle.js';

export interface FakeJob {
  readonly name: string;
  /**
   * answer: answers on the next turn; hold: waits for release(); fail: an
   * error as data; hang: never answers; crash: the worker dies; crashOnce:
   * the first worker to get it dies, the next answers.
   */
  readonly does: 'answer' | 'hold' | 'fail' | 'hang' | 'crash' | 'crashOnce';
  /** Resident bytes reported with the answer. */
  readonly rss?: number;
}

type Out = FromPoolWorker<string, never>;

export class FakeWorker implements PoolWorkerHandle<unknown, FakeJob, string, never> {
  readonly pid: number;
  events: WorkerEvents<Out> | null = null;
  readonly received: FakeJob[] = [];
  killedWith: NodeJS.Signals | null = null;
  private readonly held = new Map<string, number>();

  constructor(
    readonly farm: FakeFarm,
    readonly index: number,
    startup: 'ready' | 'die',
  ) {
    this.pid = 10_000 + index;
    setImmediate(() => {
      if (startup === 'ready') this.emit({ type: 'ready' });
      else this.exit('it exited with code 78');
    });
  }

  listen(events: WorkerEvents<Out>): void {
    this.events = events;
  }

  send(msg: ToPoolWorker<unknown, FakeJob>): void {
    if (msg.type !== 'job') return;
    const { id, job } = msg;
    this.received.push(job);
    this.farm.log.push(`${job.name}@${this.index}`);
    const rss = job.rss === undefined ? {} : { rss: job.rss };
    switch (job.does) {
      case 'answer':
        setImmediate(() => this.emit({ type: 'done', id, result: `${job.name} by ${this.index}`, ...rss }));
        return;
      case 'hold':
        this.held.set(job.name, id);
        return;
      case 'fail':
        setImmediate(() => this.emit({ type: 'failed', id, error: { code: 'PROCESSING_ERROR', message: `${job.name} is bad` } }));
        return;
      case 'hang':
        return;
      case 'crash':
        setImmediate(() => this.exit('it was killed by SIGSEGV'));
        return;
      case 'crashOnce':
        if (this.farm.crashed.has(job.name)) setImmediate(() => this.emit({ type: 'done', id, result: `${job.name} by ${this.index}`, ...rss }));
        else {
          this.farm.crashed.add(job.name);
          setImmediate(() => this.exit('it was killed by SIGSEGV'));
        }
    }
  }

  /** Answers a held job. */
  release(name: string): void {
    const id = this.held.get(name);
    if (id === undefined) throw new Error(`worker ${this.index} holds no job ${name}`);
    this.held.delete(name);
    this.emit({ type: 'done', id, result: `${name} by ${this.index}` });
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.killedWith !== null) return;
    this.killedWith = signal;
    setImmediate(() => this.exit(`it was killed by ${signal}`));
  }

  private gone = false;
  private exit(reason: string): void {
    if (this.gone) return;
    this.gone = true;
    this.events?.exit(reason);
  }

  private emit(msg: Out): void {
    if (!this.gone) this.events?.message(msg);
  }
}

/** The spawn function and every worker it made, in order. */
export class FakeFarm {
  readonly workers: FakeWorker[] = [];
  /** "job@worker" for each job sent, in order. */
  readonly log: string[] = [];
  readonly crashed = new Set<string>();
  /** When each worker was spawned (performance.now()). */
  readonly spawnedAt: number[] = [];

  constructor(private readonly startup: (index: number) => 'ready' | 'die' = () => 'ready') {}

  spawn = (): FakeWorker => {
    const w = new FakeWorker(this, this.workers.length, this.startup(this.workers.length));
    this.workers.push(w);
    this.spawnedAt.push(performance.now());
    return w;
  };

  /** The live worker holding a job of this name. */
  holder(name: string): FakeWorker {
    const w = this.workers.find((x) => x.killedWith === null && x.received.some((j) => j.name === name));
    if (!w) throw new Error(`no worker got ${name}`);
    return w;
  }
}
