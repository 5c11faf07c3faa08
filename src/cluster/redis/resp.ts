/**
 * RESP2, the Redis wire format: commands out, replies in. Replies are a
 * peer's bytes: the decoder bounds what it buffers, how long an array may be
 * and how deep arrays nest, and reports anything else as a protocol error
 * (the connection is then dropped, never trusted further).
 */

/** null and undefined go as empty strings, as ioredis sends them. */
export type RespArg = string | number | Buffer | boolean | null | undefined;
export type RespReply = string | number | null | RedisReplyError | RespReply[];

/** An error reply (`-ERR ...`): the command failed, the connection is fine. */
export class RedisReplyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplyError';
  }
}

/** The bytes broke RESP or a bound: the connection cannot be trusted any more. */
export class RespProtocolError extends Error {
  constructor(message: string) {
    super(`redis protocol error: ${message}`);
    this.name = 'RespProtocolError';
  }
}

export interface RespBounds {
  /** Largest reply, bytes, buffered before it is complete. */
  maxReplyBytes: number;
  /** Most elements in one array. */
  maxArrayItems: number;
  /** Deepest nesting of arrays. */
  maxDepth: number;
}

/** One command as a RESP array of bulk strings. */
export function encodeCommand(args: readonly RespArg[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(a === null || a === undefined ? '' : String(a), 'utf8');
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

const INCOMPLETE = Symbol('incomplete');

/** Incremental reply decoder: push() bytes, then take complete replies with next(). */
export class RespDecoder {
  #buf: Buffer = Buffer.alloc(0);
  #pos = 0;
  readonly #bounds: RespBounds;

  constructor(bounds: RespBounds) {
    this.#bounds = bounds;
  }

  push(chunk: Buffer): void {
    const rest = this.#buf.subarray(this.#pos);
    if (rest.length + chunk.length > this.#bounds.maxReplyBytes) {
      throw new RespProtocolError(`a reply is larger than ${this.#bounds.maxReplyBytes} bytes`);
    }
    this.#buf = rest.length === 0 ? chunk : Buffer.concat([rest, chunk]);
    this.#pos = 0;
  }

  /** The next complete reply, or `undefined` until more bytes arrive. */
  next(): { reply: RespReply } | undefined {
    const start = this.#pos;
    const reply = this.#parse(0);
    if (reply === INCOMPLETE) {
      this.#pos = start;
      return undefined;
    }
    return { reply };
  }

  #line(): string | typeof INCOMPLETE {
    const end = this.#buf.indexOf('\r\n', this.#pos, 'latin1');
    if (end < 0) {
      if (this.#buf.length - this.#pos > 64 * 1024) throw new RespProtocolError('a header line is longer than 64 KiB');
      return INCOMPLETE;
    }
    const s = this.#buf.toString('utf8', this.#pos, end);
    this.#pos = end + 2;
    return s;
  }

  #int(s: string): number {
    if (!/^-?\d{1,16}$/.test(s)) throw new RespProtocolError(`not an integer: ${JSON.stringify(s.slice(0, 40))}`);
    return Number(s);
  }

  #parse(depth: number): RespReply | typeof INCOMPLETE {
    if (this.#pos >= this.#buf.length) return INCOMPLETE;
    const type = String.fromCharCode(this.#buf[this.#pos]!);
    this.#pos++;
    const line = this.#line();
    if (line === INCOMPLETE) return INCOMPLETE;
    switch (type) {
      case '+':
        return line;
      case '-':
        return new RedisReplyError(line);
      case ':':
        return this.#int(line);
      case '$': {
        const len = this.#int(line);
        if (len === -1) return null;
        if (len < 0 || len > this.#bounds.maxReplyBytes) throw new RespProtocolError(`bulk string of ${len} bytes`);
        if (this.#buf.length - this.#pos < len + 2) return INCOMPLETE;
        const s = this.#buf.toString('utf8', this.#pos, this.#pos + len);
        this.#pos += len + 2;
        return s;
      }
      case '*': {
        const n = this.#int(line);
        if (n === -1) return null;
        if (n < 0 || n > this.#bounds.maxArrayItems) throw new RespProtocolError(`array of ${n} items`);
        if (depth >= this.#bounds.maxDepth) throw new RespProtocolError(`arrays nested deeper than ${this.#bounds.maxDepth}`);
        const out: RespReply[] = [];
        for (let i = 0; i < n; i++) {
          const item = this.#parse(depth + 1);
          if (item === INCOMPLETE) return INCOMPLETE;
          out.push(item);
        }
        return out;
      }
      default:
        throw new RespProtocolError(`unknown reply type ${JSON.stringify(type)}`);
    }
  }
}
