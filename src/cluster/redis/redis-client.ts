import { EventEmitter } from 'node:events';
import net from 'node:net';
import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import { MAX_QUEUE_OFFLINE_COMMANDS, MAX_REDIS_REPLY_BYTES } from '../../limits.js';
import { RedisReplyError, RespDecoder, encodeCommand, type RespArg, type RespReply } from './resp.js';

/**
 * A small Redis client with the surface BullMQ 6 asks of one (its
 * IRedisClient: structured commands, Lua scripts by name, pipelines,
 * duplicate, ioredis-like status and events). BullMQ 6 no longer brings
 * ioredis along, and the project adds no npm dependency for this; the
 * commands BullMQ sends are few and plain RESP2.
 *
 * Like ioredis: it connects at once, reconnects with backoff when the
 * connection drops (commands in flight then fail with "Connection is
 * closed."), and keeps commands issued while disconnected until it is back,
 * up to MAX_QUEUE_OFFLINE_COMMANDS (more fail at once).
 */
export interface RedisClientOptions {
  host: string;
  port: number;
  db?: number;
  connectionName?: string;
  /** Delay before reconnect attempt `times` (1, 2, ...), ms; null: give up. */
  retryStrategy?: (times: number) => number | null;
  /** Give up on the very first connection after this long, ms (start-up probe). */
  connectTimeoutMs?: number;
  [key: string]: unknown;
}

export const CONNECTION_CLOSED = 'Connection is closed.';

type Status = 'wait' | 'connecting' | 'connect' | 'ready' | 'reconnecting' | 'close' | 'end';

interface Pending {
  args: RespArg[];
  resolve: (r: RespReply) => void;
  reject: (e: Error) => void;
}

const BOUNDS = { maxReplyBytes: MAX_REDIS_REPLY_BYTES, maxArrayItems: 10_000_000, maxDepth: 16 };

function defaultRetry(times: number): number {
  return Math.min(50 * 2 ** Math.min(times, 10), 2000);
}

function check<T extends RespReply>(r: RespReply): T {
  if (r instanceof RedisReplyError) throw r;
  return r as T;
}

export class RedisClient extends EventEmitter {
  status: Status = 'wait';
  readonly isCluster = false;
  options: RedisClientOptions;
  readonly #scripts = new Map<string, { lua: string; sha: string; keys: number }>();
  #socket: net.Socket | undefined;
  #decoder = new RespDecoder(BOUNDS);
  #inFlight: Pending[] = [];
  #offline: Pending[] = [];
  #manualEnd = false;
  #attempts = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: RedisClientOptions) {
    super();
    this.options = options;
    this.#open();
  }

  /** Resolves once ready (BullMQ calls this on a client in `wait` or `end`). */
  connect(): Promise<void> {
    if (this.status === 'ready') return Promise.resolve();
    if (this.status === 'end' || this.status === 'wait') {
      this.#manualEnd = false;
      this.#open();
    }
    return new Promise((resolve, reject) => {
      const onReady = () => {
        this.off('end', onEnd);
        resolve();
      };
      const onEnd = () => {
        this.off('ready', onReady);
        reject(new Error(CONNECTION_CLOSED));
      };
      this.once('ready', onReady);
      this.once('end', onEnd);
    });
  }

  disconnect(reconnect = false): void {
    if (reconnect) {
      this.#socket?.destroy();
      return;
    }
    this.#manualEnd = true;
    clearTimeout(this.#timer);
    if (this.#socket) this.#socket.destroy();
    else this.#ended();
  }

  async quit(): Promise<string> {
    if (this.status === 'end') return 'OK';
    if (this.status !== 'ready') {
      this.disconnect();
      return 'OK';
    }
    this.#manualEnd = true;
    const r = await this.call('QUIT').catch(() => 'OK');
    this.#socket?.end();
    return String(r);
  }

  duplicate(overrides: Partial<RedisClientOptions> = {}): RedisClient {
    return new RedisClient({ ...this.options, ...overrides });
  }

  /** Any command; resolves with its reply, rejects with its error reply. */
  call(...args: RespArg[]): Promise<RespReply> {
    return this.send(args).then(check);
  }

  /** Like call(), but an error reply resolves as a RedisReplyError (pipelines). */
  send(args: RespArg[]): Promise<RespReply> {
    return new Promise((resolve, reject) => {
      const p: Pending = { args, resolve, reject };
      if (this.status === 'ready') this.#write(p);
      else if (this.status === 'end' || this.#manualEnd) reject(new Error(CONNECTION_CLOSED));
      else if (this.#offline.length >= MAX_QUEUE_OFFLINE_COMMANDS) {
        reject(new Error(`redis at ${this.options.host}:${this.options.port} is unreachable and ${MAX_QUEUE_OFFLINE_COMMANDS} commands already wait for it`));
      } else this.#offline.push(p);
    });
  }

  defineCommand(name: string, def: { numberOfKeys: number; lua: string }): void {
    this.#scripts.set(name, { lua: def.lua, sha: createHash('sha1').update(def.lua).digest('hex'), keys: def.numberOfKeys });
  }

  /** A script defined with defineCommand: EVALSHA, and EVAL when the server does not have it yet. */
  async runCommand(name: string, args: unknown[]): Promise<RespReply> {
    const s = this.#scripts.get(name);
    if (!s) throw new Error(`unknown script ${name}`);
    const flat = flatten(args);
    const r = await this.send(['EVALSHA', s.sha, s.keys, ...flat]);
    if (r instanceof RedisReplyError && r.message.startsWith('NOSCRIPT')) return this.call('EVAL', s.lua, s.keys, ...flat);
    return check(r);
  }

  multi(): RedisTransaction {
    return new RedisTransaction(this, true);
  }

  pipeline(): RedisTransaction {
    return new RedisTransaction(this, false);
  }

  scriptOf(name: string): { lua: string; keys: number } | undefined {
    return this.#scripts.get(name);
  }

  // --- the structured commands of BullMQ's IRedisClient ---
  async hgetall(key: string): Promise<Record<string, string>> {
    return pairsToObject((await this.call('HGETALL', key)) as string[]);
  }
  hget(key: string, field: string) { return this.call('HGET', key, field) as Promise<string | null>; }
  hmget(key: string, ...fields: string[]) { return this.call('HMGET', key, ...fields) as Promise<(string | null)[]>; }
  hset(key: string, data: Record<string, string | number> | string, ...rest: RespArg[]) {
    return this.call('HSET', key, ...(typeof data === 'string' ? [data, ...rest] : objectArgs(data))) as Promise<number>;
  }
  hdel(key: string, ...fields: string[]) { return this.call('HDEL', key, ...fields) as Promise<number>; }
  hexists(key: string, field: string) { return this.call('HEXISTS', key, field) as Promise<number>; }
  get(key: string) { return this.call('GET', key) as Promise<string | null>; }
  set(key: string, value: string | number, options?: { PX?: number; EX?: number }) {
    const extra = options?.PX != null ? ['PX', options.PX] : options?.EX != null ? ['EX', options.EX] : [];
    return this.call('SET', key, value, ...extra) as Promise<string | null>;
  }
  del(...keys: string[]) { return this.call('DEL', ...keys) as Promise<number>; }
  zrange(key: string, start: number, end: number, options?: { WITHSCORES?: boolean }) {
    return this.call('ZRANGE', key, start, end, ...(options?.WITHSCORES ? ['WITHSCORES'] : [])) as Promise<string[]>;
  }
  zrevrange(key: string, start: number, end: number, options?: { WITHSCORES?: boolean }) {
    return this.call('ZREVRANGE', key, start, end, ...(options?.WITHSCORES ? ['WITHSCORES'] : [])) as Promise<string[]>;
  }
  zcard(key: string) { return this.call('ZCARD', key) as Promise<number>; }
  zscore(key: string, member: string) { return this.call('ZSCORE', key, member) as Promise<string | null>; }
  lrange(key: string, start: number, end: number) { return this.call('LRANGE', key, start, end) as Promise<string[]>; }
  llen(key: string) { return this.call('LLEN', key) as Promise<number>; }
  ltrim(key: string, start: number, end: number) { return this.call('LTRIM', key, start, end) as Promise<string>; }
  lpos(key: string, value: string) { return this.call('LPOS', key, value) as Promise<number | null>; }
  smembers(key: string) { return this.call('SMEMBERS', key) as Promise<string[]>; }
  xadd(key: string, id: string, fields: Record<string, string | number>, options?: { MAXLEN?: number; approximate?: boolean }) {
    const trim = options?.MAXLEN != null ? ['MAXLEN', ...(options.approximate !== false ? ['~'] : []), options.MAXLEN] : [];
    return this.call('XADD', key, ...trim, id, ...objectArgs(fields)) as Promise<string>;
  }
  xread(streams: { key: string; id: string }[], options?: { BLOCK?: number; COUNT?: number }) {
    const args: RespArg[] = ['XREAD'];
    if (options?.BLOCK != null) args.push('BLOCK', options.BLOCK);
    if (options?.COUNT != null) args.push('COUNT', options.COUNT);
    args.push('STREAMS', ...streams.map((s) => s.key), ...streams.map((s) => s.id));
    return this.call(...args);
  }
  xtrim(key: string, strategy: 'MAXLEN', threshold: number, options?: { approximate?: boolean }) {
    return this.call('XTRIM', key, strategy, ...(options?.approximate !== false ? ['~'] : []), threshold) as Promise<number>;
  }
  bzpopmin(key: string, timeout: number) {
    return this.call('BZPOPMIN', key, timeout) as Promise<[string, string, string] | null>;
  }
  info() { return this.call('INFO') as Promise<string>; }
  client(...args: RespArg[]) { return this.call('CLIENT', ...args); }
  clientSetName(name: string) { return this.call('CLIENT', 'SETNAME', name); }
  clientList() { return this.call('CLIENT', 'LIST') as Promise<string>; }
  clientInfo() { return this.call('CLIENT', 'INFO') as Promise<string>; }
  async scan(cursor: string | number, options: { MATCH?: string; COUNT?: number } = {}): Promise<[string, string[]]> {
    const args: RespArg[] = ['SCAN', cursor];
    if (options.MATCH != null) args.push('MATCH', options.MATCH);
    if (options.COUNT != null) args.push('COUNT', options.COUNT);
    return (await this.call(...args)) as [string, string[]];
  }
  scanStream(options: { match: string; count?: number }): Readable {
    let cursor = '0';
    let done = false;
    const stream: Readable = new Readable({
      objectMode: true,
      read: () => {
        if (done) return;
        this.scan(cursor, { MATCH: options.match, COUNT: options.count ?? 100 }).then(
          ([next, keys]) => {
            cursor = next;
            done = next === '0';
            stream.push(keys);
            if (done) stream.push(null);
          },
          (err: Error) => stream.destroy(err),
        );
      },
    });
    return stream;
  }

  // --- connection ---
  #open(): void {
    this.status = this.#attempts === 0 ? 'connecting' : 'reconnecting';
    const socket = net.connect({ host: this.options.host, port: this.options.port });
    this.#socket = socket;
    this.#decoder = new RespDecoder(BOUNDS);
    socket.setNoDelay(true);
    const connectTimeout =
      this.#attempts === 0 && this.options.connectTimeoutMs
        ? setTimeout(() => socket.destroy(new Error(`connect timed out after ${this.options.connectTimeoutMs} ms`)), this.options.connectTimeoutMs)
        : undefined;
    socket.on('connect', () => {
      clearTimeout(connectTimeout);
      this.status = 'connect';
      this.emit('connect');
      void this.#handshake(socket);
    });
    socket.on('data', (chunk: Buffer) => this.#onData(socket, chunk));
    socket.on('error', (err) => {
      clearTimeout(connectTimeout);
      if (this.listenerCount('error') > 0) this.emit('error', err);
    });
    socket.on('close', () => {
      clearTimeout(connectTimeout);
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      const failed = this.#inFlight;
      this.#inFlight = [];
      for (const p of failed) p.reject(new Error(CONNECTION_CLOSED));
      this.status = 'close';
      this.emit('close');
      if (this.#manualEnd) return this.#ended();
      const delay = (this.options.retryStrategy ?? defaultRetry)(++this.#attempts);
      if (delay === null || delay === undefined) return this.#ended();
      this.status = 'reconnecting';
      this.emit('reconnecting', delay);
      this.#timer = setTimeout(() => this.#open(), delay);
    });
  }

  async #handshake(socket: net.Socket): Promise<void> {
    const direct = (args: RespArg[]) =>
      new Promise<RespReply>((resolve, reject) => this.#write({ args, resolve, reject })).then(check);
    try {
      if (this.options.db) await direct(['SELECT', this.options.db]);
      if (this.options.connectionName) await direct(['CLIENT', 'SETNAME', this.options.connectionName]);
    } catch (err) {
      if (this.listenerCount('error') > 0) this.emit('error', err);
      socket.destroy();
      return;
    }
    if (this.#socket !== socket) return;
    this.#attempts = 0;
    this.status = 'ready';
    const waiting = this.#offline;
    this.#offline = [];
    for (const p of waiting) this.#write(p);
    this.emit('ready');
  }

  #write(p: Pending): void {
    const socket = this.#socket;
    if (!socket) {
      p.reject(new Error(CONNECTION_CLOSED));
      return;
    }
    this.#inFlight.push(p);
    socket.write(encodeCommand(p.args));
  }

  #onData(socket: net.Socket, chunk: Buffer): void {
    try {
      this.#decoder.push(chunk);
      for (let r = this.#decoder.next(); r; r = this.#decoder.next()) {
        const p = this.#inFlight.shift();
        if (!p) throw new Error('a reply nobody asked for');
        p.resolve(r.reply);
      }
    } catch (err) {
      if (this.listenerCount('error') > 0) this.emit('error', err);
      socket.destroy();
    }
  }

  #ended(): void {
    if (this.status === 'end') return;
    this.status = 'end';
    const waiting = this.#offline;
    this.#offline = [];
    for (const p of waiting) p.reject(new Error(CONNECTION_CLOSED));
    this.emit('end');
  }
}

/** MULTI/EXEC (multi) or plain pipelining (pipeline); exec() gives [error, result] per command, as ioredis does. */
export class RedisTransaction {
  readonly #client: RedisClient;
  readonly #atomic: boolean;
  readonly #cmds: RespArg[][] = [];

  constructor(client: RedisClient, atomic: boolean) {
    this.#client = client;
    this.#atomic = atomic;
  }

  #add(...args: RespArg[]): this {
    this.#cmds.push(args);
    return this;
  }
  hgetall(key: string) { return this.#add('HGETALL', key); }
  hset(key: string, data: Record<string, string | number>) { return this.#add('HSET', key, ...objectArgs(data)); }
  hscan(key: string, cursor: string | number, options?: { COUNT?: number }) {
    return this.#add('HSCAN', key, cursor, ...(options?.COUNT != null ? ['COUNT', options.COUNT] : []));
  }
  smembers(key: string) { return this.#add('SMEMBERS', key); }
  sscan(key: string, cursor: string | number, options?: { COUNT?: number }) {
    return this.#add('SSCAN', key, cursor, ...(options?.COUNT != null ? ['COUNT', options.COUNT] : []));
  }
  zrange(key: string, start: number, end: number) { return this.#add('ZRANGE', key, start, end); }
  lrange(key: string, start: number, end: number) { return this.#add('LRANGE', key, start, end); }
  llen(key: string) { return this.#add('LLEN', key); }
  del(...keys: string[]) { return this.#add('DEL', ...keys); }
  /** Scripts go as EVAL inside a transaction (a NOSCRIPT there could not be retried). */
  runCommand(name: string, args: unknown[]): this {
    const s = this.#client.scriptOf(name);
    if (!s) throw new Error(`unknown script ${name}`);
    return this.#add('EVAL', s.lua, s.keys, ...flatten(args));
  }

  async exec(): Promise<[Error | null, unknown][] | null> {
    const shape = (cmd: RespArg[], r: RespReply): [Error | null, unknown] =>
      r instanceof Error ? [r, null] : [null, cmd[0] === 'HGETALL' && Array.isArray(r) ? pairsToObject(r as string[]) : r];
    if (!this.#atomic) {
      const replies = await Promise.all(this.#cmds.map((c) => this.#client.send(c)));
      return replies.map((r, i) => shape(this.#cmds[i]!, r));
    }
    const sent = [this.#client.send(['MULTI']), ...this.#cmds.map((c) => this.#client.send(c)), this.#client.send(['EXEC'])];
    const replies = await Promise.all(sent);
    const exec = replies[replies.length - 1];
    if (exec instanceof Error) throw exec;
    if (exec === null) return null;
    return (exec as RespReply[]).map((r, i) => shape(this.#cmds[i]!, r));
  }
}

function flatten(args: unknown[]): RespArg[] {
  const out: RespArg[] = [];
  for (const a of args) {
    if (Array.isArray(a)) out.push(...flatten(a));
    else out.push(a as RespArg);
  }
  return out;
}

function objectArgs(data: Record<string, string | number>): RespArg[] {
  const out: RespArg[] = [];
  for (const [k, v] of Object.entries(data)) out.push(k, v);
  return out;
}

function pairsToObject(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}
