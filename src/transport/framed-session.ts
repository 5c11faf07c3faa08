import { setMaxListeners } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import type { Logger } from '../log.js';
import { ErrorCode, codeOf, messageOf } from '../errors.js';
import { FrameDecoder, type FrameDecoderItem } from '../protocol/frame-decoder.js';
import { encodeFrameResponse, errorResponse } from '../protocol/frame-encoder.js';
import { parseFramedRequest, requestIdOf, type FramedRequest } from '../protocol/framed-request.js';
import type { RequestId } from '../protocol/request-id.js';
import type { SessionHandle } from './tcp-listener.js';

/** Requests decoded but not yet answered on one connection before we stop reading from it. */
export const MAX_PIPELINED_REQUESTS = 64;

/** A reply ready to encode: the response JSON and its images. */
export interface FramedReply {
  json: object;
  images: readonly Uint8Array[];
  /** After this reply is written the session ends and the daemon stops (`shutdown`). */
  shutdown?: boolean;
}

export interface FramedContext {
  /** undefined for stdio (the parent process). */
  readonly peer: string | undefined;
  readonly clientId: string;
  /** Aborts when the connection goes away: its queued work is cancelled. */
  readonly signal: AbortSignal;
}

export type FramedRequestHandler = (request: FramedRequest, context: FramedContext) => Promise<FramedReply>;

export interface FramedSessionOptions {
  input: Readable;
  output: Writable;
  peer: string | undefined;
  clientId: string;
  maxJsonBytes: number;
  maxPayloadBytes: number;
  handle: FramedRequestHandler;
  log: Logger;
  /** Called once the session is over (input ended and every reply written, or the connection failed). */
  onClose?: (reason: 'end' | 'shutdown' | 'fatal' | 'error') => void;
}

/**
 * The framed protocol (wire.md §5) on one byte stream: a TCP connection or
 * stdin/stdout. Requests may be pipelined; replies go out in request order.
 * Every failure is answered as data with a code; only an envelope that
 * cannot be resynchronised ends the session, after its error reply.
 */
export class FramedSession implements SessionHandle {
  readonly #o: FramedSessionOptions;
  readonly #decoder: FrameDecoder;
  readonly #controller = new AbortController();
  readonly #replies: Array<Promise<FramedReply>> = [];
  #writing = false;
  #inputEnded = false;
  #closed = false;
  #paused = false;
  /** Last complete frame received or reply written (the server's idle rule). */
  #lastActivity = performance.now();

  constructor(options: FramedSessionOptions) {
    this.#o = options;
    this.#decoder = new FrameDecoder({ maxJsonBytes: options.maxJsonBytes, maxPayloadBytes: options.maxPayloadBytes });
    // Every pipelined request on this connection listens on the one signal.
    setMaxListeners(0, this.#controller.signal);
  }

  start(buffered: Buffer = Buffer.alloc(0), ended = false): void {
    const { input, output } = this.#o;
    if (buffered.length > 0) this.#feed(this.#decoder.push(buffered));
    output.on('error', (err) => this.#fail(err));
    if (ended) {
      this.#onEnd();
      return;
    }
    input.on('data', (chunk: Buffer) => this.#feed(this.#decoder.push(chunk)));
    input.on('end', () => this.#onEnd());
    input.on('error', (err) => this.#fail(err));
    input.on('close', () => {
      if (!this.#inputEnded) this.#fail(new Error('input closed'));
    });
  }

  isBusy(): boolean {
    return this.#replies.length > 0;
  }

  lastActivityAt(): number {
    return this.#lastActivity;
  }

  #onEnd(): void {
    this.#inputEnded = true;
    for (const item of this.#decoder.end()) {
      if (item.type === 'truncated') this.#o.log.warn({ peer: this.#o.peer }, 'framed stream ended in the middle of a frame');
    }
    this.#maybeFinish();
  }

  #feed(items: FrameDecoderItem[]): void {
    for (const item of items) {
      if (this.#closed) return;
      if (item.type !== 'truncated') this.#lastActivity = performance.now();
      switch (item.type) {
        case 'frame':
          this.#accept(item.json, item.payload);
          break;
        case 'bad-frame':
          this.#enqueue(Promise.resolve(errorReply(null, item.error)));
          break;
        case 'fatal': {
          // When the payload length is what is over the limit, the JSON was read: echo its request_id.
          const reply = errorReply(item.json ? requestIdOf(item.json) : null, item.error);
          this.#enqueue(Promise.resolve({ ...reply, fatal: true } as FramedReply));
          this.#inputEnded = true;
          this.#o.input.pause();
          return;
        }
        case 'truncated':
          break;
      }
    }
  }

  #accept(json: Buffer, payload: Buffer): void {
    const parsed = parseFramedRequest(json, payload);
    if (!parsed.ok) {
      this.#enqueue(Promise.resolve(errorReply(parsed.requestId, parsed.error)));
      return;
    }
    const request = parsed.request;
    const context: FramedContext = {
      peer: this.#o.peer,
      clientId: request.clientId ?? this.#o.clientId,
      signal: this.#controller.signal,
    };
    let reply: Promise<FramedReply>;
    try {
      reply = this.#o.handle(request, context).catch((err: unknown) => errorReply(request.requestId, err));
    } catch (err) {
      reply = Promise.resolve(errorReply(request.requestId, err));
    }
    this.#enqueue(reply);
  }

  #enqueue(reply: Promise<FramedReply>): void {
    this.#replies.push(reply);
    if (this.#replies.length >= MAX_PIPELINED_REQUESTS && !this.#paused) {
      this.#paused = true;
      this.#o.input.pause();
    }
    void this.#drain();
  }

  /** Writes finished replies in request order. */
  async #drain(): Promise<void> {
    if (this.#writing) return;
    this.#writing = true;
    try {
      while (this.#replies.length > 0 && !this.#closed) {
        const reply = await this.#replies[0]!;
        this.#replies.shift();
        const ok = this.#write(reply);
        if (reply.shutdown || (reply as { fatal?: boolean }).fatal) {
          this.#finish(reply.shutdown ? 'shutdown' : 'fatal');
          return;
        }
        if (!ok) await new Promise<void>((resolve) => this.#o.output.once('drain', resolve));
        if (this.#paused && this.#replies.length < MAX_PIPELINED_REQUESTS / 2) {
          this.#paused = false;
          this.#o.input.resume();
        }
      }
    } finally {
      this.#writing = false;
    }
    this.#maybeFinish();
  }

  #write(reply: FramedReply): boolean {
    const { output } = this.#o;
    if (this.#closed || output.destroyed || !output.writable) return true;
    this.#lastActivity = performance.now();
    const chunks = encodeFrameResponse(reply.json, reply.images);
    // One write per response: separate small writes on a no-delay socket become
    // separate packets and separate reads on the other side.
    return output.write(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
  }

  #maybeFinish(): void {
    if (this.#inputEnded && this.#replies.length === 0 && !this.#writing) this.#finish('end');
  }

  #finish(reason: 'end' | 'shutdown' | 'fatal'): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#o.onClose?.(reason);
  }

  #fail(err: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#o.log.debug({ peer: this.#o.peer, err: err.message }, 'framed session failed');
    this.#controller.abort(err);
    this.#o.onClose?.('error');
  }
}

function errorReply(requestId: RequestId | undefined, err: unknown): FramedReply {
  // A bad tile in a framed request is a bad field: wire.md §5 calls that PROTOCOL_ERROR.
  const code = codeOf(err) === ErrorCode.BAD_TILE ? ErrorCode.PROTOCOL_ERROR : codeOf(err);
  return { json: errorResponse(requestId ?? null, code, messageOf(err)), images: [] };
}
