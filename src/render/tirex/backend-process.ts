/**
 * One tirex backend process as tirex's backend manager runs it: the
 * documented environment, the alive pipe on an inherited descriptor, and a
 * UDP port of its own on 127.0.0.1.
 *
 * Why a port per process and not an inherited UDP socket: Node cannot hand a
 * datagram socket to a child through its public API (spawn's stdio takes
 * streams and descriptor numbers; a dgram socket exposes neither), and
 * tirex documents the fallback (no TIREX_BACKEND_SOCKET_FILENO: the backend
 * binds localhost:PORT itself). A port per process also tells mosaicd which
 * process holds which job, so a crash or a hang fails exactly that job.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import type { Readable } from 'node:stream';
import type { Logger } from '../../log.js';
import { decodeReply, type TirexReply } from './message.js';
import { backendAliveSeconds, type ResolvedTirexOptions } from './options.js';

/** The descriptor the alive pipe has in the backend (stdin, stdout, stderr, then this). */
const PIPE_FD = 3;
/** How much of a backend's stderr/stdout is kept for error messages, bytes. */
const TAIL_BYTES = 2048;
/** A request sent before the backend has bound its port is refused (ICMP); it is sent again after this, ms. */
const RESEND_MS = 100;

export interface BackendEvents {
  alive(p: BackendProcess): void;
  reply(p: BackendProcess, reply: TirexReply): void;
  exit(p: BackendProcess, code: number | null, signal: NodeJS.Signals | null): void;
}

/** A free UDP port on 127.0.0.1 (held for a moment, then handed to the backend). */
export async function freeUdpPort(): Promise<number> {
  const probe = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.bind(0, '127.0.0.1', resolve);
  });
  const { port } = probe.address();
  await new Promise<void>((resolve) => probe.close(resolve));
  return port;
}

export function backendEnv(o: ResolvedTirexOptions, port: number, mapConfigs: readonly string[]): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TIREX_BACKEND_')) env[k] = v;
  env['TIREX_BACKEND_NAME'] = o.rendererName;
  env['TIREX_BACKEND_PORT'] = String(port);
  env['TIREX_BACKEND_SYSLOG_FACILITY'] = o.syslogFacility;
  env['TIREX_BACKEND_MAP_CONFIGS'] = mapConfigs.join(' ');
  env['TIREX_BACKEND_ALIVE_TIMEOUT'] = String(backendAliveSeconds(o.aliveTimeoutMs));
  env['TIREX_BACKEND_PIPE_FILENO'] = String(PIPE_FD);
  if (o.debug) env['TIREX_BACKEND_DEBUG'] = '1';
  for (const [k, v] of o.cfg) env[`TIREX_BACKEND_CFG_${k}`] = v;
  return env;
}

export class BackendProcess {
  readonly slot: number;
  readonly port: number;
  readonly startedAt = Date.now();
  /** Last alive message or reply (ms since epoch). */
  lastSignOfLife = Date.now();
  /** Has sent an alive message or a reply since it started. */
  everAlive = false;
  /** The silence ladder: which signal was sent last, and when. */
  stopStep: { signal: 'SIGHUP' | 'SIGTERM' | 'SIGKILL'; at: number } | undefined;
  exited = false;
  readonly #child: ChildProcess;
  readonly #socket: dgram.Socket;
  readonly #events: BackendEvents;
  readonly #log: Logger;
  #tail = '';
  #pending: Buffer | undefined;
  #connected = false;
  #resendTimer: NodeJS.Timeout | undefined;
  readonly #closed: Promise<void>;

  constructor(slot: number, port: number, o: ResolvedTirexOptions, mapConfigs: readonly string[], events: BackendEvents, log: Logger) {
    this.slot = slot;
    this.port = port;
    this.#events = events;
    this.#log = log;
    this.#socket = dgram.createSocket('udp4');
    this.#socket.on('message', (msg) => this.#onMessage(msg));
    // ECONNREFUSED: the backend has not bound its port yet (or has closed it).
    this.#socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') this.#scheduleResend();
      else this.#log.warn({ err, slot }, 'tirex backend socket error');
    });
    // Connected: the kernel drops datagrams from anyone but this backend's port.
    this.#socket.connect(port, '127.0.0.1', () => {
      this.#connected = true;
      if (this.#pending !== undefined && !this.exited) this.#socket.send(this.#pending);
    });

    this.#child = spawn(o.program, [], {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      env: backendEnv(o, port, mapConfigs),
    });
    const alivePipe = this.#child.stdio[PIPE_FD] as Readable;
    alivePipe.on('data', () => this.#sign('alive'));
    alivePipe.on('error', () => undefined);
    for (const s of [this.#child.stdout, this.#child.stderr]) {
      s?.setEncoding('utf8').on('data', (c: string) => {
        this.#tail = (this.#tail + c).slice(-TAIL_BYTES);
        if (o.debug) this.#log.debug({ slot, pid: this.pid, out: c.trimEnd() }, 'tirex backend output');
      });
    }
    this.#closed = new Promise<void>((resolve) => {
      let done = false;
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        if (done) return;
        done = true;
        this.exited = true;
        clearTimeout(this.#resendTimer);
        this.#socket.close();
        this.#events.exit(this, code, signal);
        resolve();
      };
      // 'close' (not 'exit'): the output is read to its end, so the tail is whole.
      this.#child.on('close', finish);
      this.#child.on('error', (err) => {
        this.#tail += `\n${err.message}`;
        if (this.#child.pid === undefined) finish(null, null);
      });
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** The last lines the backend wrote to stderr/stdout (for error messages). */
  get outputTail(): string {
    return this.#tail.trim().split('\n').slice(-5).join(' | ');
  }

  /** Resolves once the process has exited and its output is read. */
  closed(): Promise<void> {
    return this.#closed;
  }

  send(msg: Buffer): void {
    this.#pending = msg;
    if (this.#connected) this.#socket.send(msg);
  }

  kill(signal: NodeJS.Signals): void {
    if (this.exited) return;
    try {
      this.#child.kill(signal);
    } catch {
      /* already gone */
    }
  }

  #scheduleResend(): void {
    if (this.#pending === undefined || this.exited || this.#resendTimer !== undefined) return;
    this.#resendTimer = setTimeout(() => {
      this.#resendTimer = undefined;
      if (this.#pending !== undefined && !this.exited && this.#connected) this.#socket.send(this.#pending);
    }, RESEND_MS);
  }

  #sign(kind: 'alive' | 'reply'): void {
    this.lastSignOfLife = Date.now();
    const first = !this.everAlive;
    this.everAlive = true;
    if (kind === 'alive' || first) this.#events.alive(this);
  }

  #onMessage(msg: Buffer): void {
    const reply = decodeReply(msg);
    if (reply === undefined) {
      this.#log.warn({ slot: this.slot, bytes: msg.length }, 'tirex backend sent a reply that is not a tirex message (too long or not key=value); dropped');
      return;
    }
    this.#pending = undefined;
    this.#sign('reply');
    this.#events.reply(this, reply);
  }
}
