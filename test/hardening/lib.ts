/**
 * Helpers for the hardening tests (test/hardening/*.test.ts). Only
 * loopback addresses are ever connected to. Every wait is bounded and waits
 * on an event or a poll, never on a fixed sleep.
 */
import net from 'node:net';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import type { Test } from 'tap';
import { Daemon } from '../../src/daemon.js';
import { silentLogger } from '../../src/log.js';
import type { DaemonConfigInput } from '../../src/config/daemon-config.js';
import { encodeFrameRequest } from '../../src/protocol/frame-encoder.js';
import { FrameResponseDecoder } from '../../src/protocol/frame-response-decoder.js';

export const LOOPBACK = '127.0.0.1';

export async function tempDir(t: Test, prefix = 'mosaicd-hardening-'): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A free TCP port on loopback (bound and released). */
export async function freePort(): Promise<number> {
  const s = net.createServer().listen({ host: LOOPBACK, port: 0 });
  await once(s, 'listening');
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

export interface Hard {
  daemon: Daemon;
  port: number;
  tilesDir: string;
  callbackPort: number;
}

/**
 * An in-process daemon on an ephemeral loopback port, one render worker
 * (start-up of a render worker costs ~2 s of CPU: the tests keep few), no
 * inference unless asked, test faults on. Destroyed with the test.
 */
export async function startHard(
  t: Test,
  config: DaemonConfigInput = {},
  options: { callbackPort?: number; testFaults?: boolean; noticeRetryBaseMs?: number } = {},
): Promise<Hard> {
  const tilesDir = config.tilesDir ?? (await tempDir(t));
  const callbackPort = options.callbackPort ?? (await freePort());
  const daemon = await Daemon.start(
    { port: 0, tilesDir, callbackPort, concurrency: 1, logLevel: 'silent', inference: false, ...config },
    { log: silentLogger(), noticeRetryBaseMs: options.noticeRetryBaseMs ?? 20, testFaults: options.testFaults ?? true },
  );
  t.teardown(() => daemon.destroy());
  return { daemon, port: daemon.address().port, tilesDir, callbackPort };
}

/** Resolves once `check()` is truthy, polling every `everyMs`; rejects after `timeoutMs` with `what`. */
export async function waitUntil<T>(what: string, check: () => T | Promise<T>, timeoutMs = 30_000, everyMs = 10): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Rejects after `ms` with a message, for racing a promise against a bound. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
}

/** Resolves when the socket has closed (unlike events.once, an 'error' before it does not reject). */
export function closeOf(socket: net.Socket): Promise<void> {
  if (socket.destroyed && socket.closed) return Promise.resolve();
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

/** Writes bytes on one connection, half-closes, resolves with everything written back until the daemon closes. */
export async function exchange(port: number, bytes: string | Buffer, timeoutMs = 30_000): Promise<string> {
  const socket = net.connect({ port, host: LOOPBACK, allowHalfOpen: true });
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  let reply = '';
  socket.setEncoding('utf8');
  socket.on('data', (c: string) => (reply += c));
  socket.end(bytes);
  await within(closeOf(socket), timeoutMs, 'the daemon closing a line connection');
  return reply;
}

/**
 * A connected loopback socket (errors swallowed: the tests look at close/end).
 * Half-open by default (the line protocol's last command counts at EOF);
 * `allowHalfOpen: false` closes on the daemon's FIN like most clients do.
 */
export async function connect(port: number, options: { allowHalfOpen?: boolean } = {}): Promise<net.Socket> {
  const socket = net.connect({ port, host: LOOPBACK, allowHalfOpen: options.allowHalfOpen ?? true });
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  return socket;
}

/** Reads text from a socket until `pattern` has appeared; resolves with all text read. */
export function readUntil(socket: net.Socket, pattern: RegExp | string, timeoutMs = 30_000): Promise<string> {
  let seen = '';
  return within(
    new Promise<string>((resolve, reject) => {
      const onData = (c: Buffer | string) => {
        seen += c.toString();
        if (typeof pattern === 'string' ? seen.includes(pattern) : pattern.test(seen)) {
          socket.off('data', onData);
          socket.off('close', onClose);
          resolve(seen);
        }
      };
      const onClose = () => reject(new Error(`connection closed before ${String(pattern)}; saw ${JSON.stringify(seen.slice(0, 200))}`));
      socket.on('data', onData);
      socket.once('close', onClose);
    }),
    timeoutMs,
    `reading ${String(pattern)}`,
  );
}

/** One framed request's bytes. */
export function frame(json: object, payload?: Uint8Array): Buffer {
  return Buffer.concat(encodeFrameRequest(json, payload));
}

/** A u64 little-endian length. */
export function u64(n: number | bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

export interface RawResponse {
  json: { success: boolean; request_id: unknown; error: { code: string; message: string } | null; [k: string]: unknown };
  images: Buffer[];
}

/**
 * A framed connection that decodes every response, for raw bytes the
 * FramedClient would refuse to send. `responses` fills as they come;
 * `closed` resolves when the daemon closes.
 */
export class RawFramed {
  readonly responses: RawResponse[] = [];
  readonly closed: Promise<void>;
  readonly #decoder = new FrameResponseDecoder({ maxJsonBytes: 64 * 1024 * 1024 });
  #waiters: Array<() => void> = [];
  #ended = false;
  /** Requests written so far. */
  #sent = 0;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const item of this.#decoder.push(chunk)) {
        if (item.type !== 'response') continue;
        this.responses.push({ json: JSON.parse(item.json.toString('utf8')) as RawResponse['json'], images: item.images.map((b) => Buffer.from(b)) });
      }
      this.#wake();
    });
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.#ended = true;
        this.#wake();
        resolve();
      });
    });
  }

  /** A framed connection that closes when the daemon does (not half-open, as the shipped clients). */
  static async open(port: number): Promise<RawFramed> {
    return new RawFramed(await connect(port, { allowHalfOpen: false }));
  }

  /** Writes raw bytes holding `requests` requests (each answered once, in order). */
  write(bytes: Buffer, requests = 1): void {
    this.#sent += requests;
    this.socket.write(bytes);
  }

  /** Resolves when `n` responses have arrived in total; rejects if the connection closes first or after timeoutMs. */
  async waitFor(n: number, timeoutMs = 30_000): Promise<RawResponse[]> {
    const deadline = performance.now() + timeoutMs;
    while (this.responses.length < n) {
      if (this.#ended) throw new Error(`connection closed after ${this.responses.length} of ${n} responses`);
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms with ${this.responses.length} of ${n} responses`);
      await within(new Promise<void>((resolve) => this.#waiters.push(resolve)), left, `response ${this.responses.length + 1} of ${n}`).catch(() => undefined);
    }
    return this.responses.slice(0, n);
  }

  /** Sends one request and waits for its response (the answer to the n-th request sent is the n-th response). */
  async request(json: object, payload?: Uint8Array, timeoutMs = 30_000): Promise<RawResponse> {
    const index = this.#sent;
    this.write(frame(json, payload));
    return (await this.waitFor(index + 1, timeoutMs))[index]!;
  }

  end(): void {
    this.socket.end();
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }
}

/**
 * A completion listener that records each notice with the order its
 * connection was accepted: the order a listener that accepts and reads one
 * connection at a time (the C# one) would see. Persistent-mode lines keep
 * their order within their connection.
 */
export class OrderedListener {
  readonly lines: string[] = [];
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  /** accept index → lines of that connection, once it ended. */
  readonly #byConn = new Map<number, string[]>();
  #accepted = 0;
  #flushed = 0;
  #listeners: Array<() => void> = [];

  private constructor(server: net.Server) {
    this.#server = server;
  }

  static async listen(port: number): Promise<OrderedListener> {
    let listener!: OrderedListener;
    const server = net.createServer((socket) => listener.#accept(socket));
    listener = new OrderedListener(server);
    server.listen({ host: LOOPBACK, port, exclusive: true });
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([e]) => Promise.reject(e as Error))]);
    return listener;
  }

  #accept(socket: net.Socket): void {
    const index = this.#accepted++;
    this.#sockets.add(socket);
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => (text += c));
    socket.on('error', () => undefined);
    socket.on('end', () => {
      this.#byConn.set(index, text.split('\n').filter((l) => l !== ''));
      socket.end();
      this.#flush();
    });
    socket.on('close', () => this.#sockets.delete(socket));
  }

  /** Moves finished connections to `lines`, in accept order, stopping at the first one not finished. */
  #flush(): void {
    while (this.#byConn.has(this.#flushed)) {
      this.lines.push(...this.#byConn.get(this.#flushed)!);
      this.#byConn.delete(this.#flushed);
      this.#flushed++;
    }
    for (const l of this.#listeners.splice(0)) l();
  }

  /** Resolves once `check(lines)` holds. */
  async until(what: string, check: (lines: readonly string[]) => boolean, timeoutMs = 30_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!check(this.lines)) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; have ${JSON.stringify(this.lines.slice(-20))}`);
      await within(new Promise<void>((resolve) => this.#listeners.push(resolve)), left, what).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** mulberry32: a small seeded PRNG, so a fuzz run is reproducible from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/**
 * A decompression bomb: a valid PNG whose IHDR claims width × height RGB,
 * with two rows of zeros deflated: a few hundred bytes that would decode to
 * gigabytes.
 */
export function pngBomb(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(Buffer.alloc((Math.min(width, 4096) * 3 + 1) * 2))),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}
