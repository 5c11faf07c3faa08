import { setMaxListeners } from 'node:events';
import type net from 'node:net';
import type { Logger } from '../../log.js';
import { ErrorCode } from '../../errors.js';
import type { ProcessRequest } from '../../protocol/framed-request.js';
import type { RequestId } from '../../protocol/request-id.js';
import {
  encodeMpError,
  encodeMpReply,
  encodeNdImage,
  frameError,
  parseMpMessage,
  resultsOfFramedJson,
  type MpFrame,
  type MpFrameOutcome,
  type MpMessage,
  type PickleKey,
  type PickleLimits,
} from '../../protocol/pickle/index.js';
import type { FramedContext, FramedRequestHandler } from '../framed-session.js';
import { MAX_PIPELINED_REQUESTS } from '../framed-session.js';
import type { SessionHandle } from '../tcp-listener.js';
import { AUTH_MESSAGE_BYTES, FAILURE, WELCOME, answerChallenge, makeChallenge, verifyResponse } from './mp-auth.js';
import { MpMessageDecoder, encodeMpMessage, type MpDecoderItem } from './mp-framing.js';

export interface MpSessionOptions {
  socket: net.Socket;
  peer: string;
  /** When set, the multiprocessing authkey handshake comes first (mp-auth.ts). */
  authkey: Buffer | undefined;
  maxMessageBytes: number;
  pickleLimits: PickleLimits;
  maxInputPixels: number;
  /** The framed protocol's request handler: each frame becomes a `process` request. */
  handle: FramedRequestHandler;
  log: Logger;
  onClose: (reason: 'end' | 'fatal' | 'error' | 'unauthorized') => void;
}

type State = 'await-response' | 'await-challenge' | 'await-welcome' | 'ready' | 'closed';

/**
 * One multiprocessing.connection client: the authkey handshake when one is
 * configured, then pickled messages in, pickled replies out, in order. Every
 * frame of a message becomes a typed `process` request for the same handler
 * the framed protocol uses; whatever goes wrong with a message or a frame is
 * answered as data (an error dict with its code). Only a length over the
 * limit ends the connection, after its error reply.
 */
export class MpSession implements SessionHandle {
  readonly #o: MpSessionOptions;
  readonly #decoder: MpMessageDecoder;
  readonly #controller = new AbortController();
  /** Replies owed, in request order; `fatal` ends the connection once written. */
  readonly #replies: Array<Promise<{ bytes: Buffer; fatal: boolean }>> = [];
  #state: State;
  #challenge: Buffer | undefined;
  #writing = false;
  #inputEnded = false;
  #paused = false;
  #lastActivity = performance.now();

  constructor(options: MpSessionOptions) {
    this.#o = options;
    this.#state = options.authkey ? 'await-response' : 'ready';
    // The client's answer to our challenge, its own challenge, its #WELCOME#.
    const handshake = options.authkey ? { messages: 3, maxBytes: AUTH_MESSAGE_BYTES } : undefined;
    this.#decoder = new MpMessageDecoder(options.maxMessageBytes, handshake);
    setMaxListeners(0, this.#controller.signal);
  }

  start(): void {
    const { socket } = this.#o;
    socket.on('data', (chunk: Buffer) => this.#feed(this.#decoder.push(chunk)));
    socket.on('end', () => this.#onEnd());
    socket.on('error', (err) => this.#close('error', err.message));
    socket.on('close', () => this.#close('error', 'connection closed'));
    if (this.#o.authkey) {
      const { message, payload } = makeChallenge();
      this.#challenge = payload;
      this.#send(message);
    }
  }

  isBusy(): boolean {
    return this.#replies.length > 0;
  }

  lastActivityAt(): number {
    return this.#lastActivity;
  }

  #feed(items: MpDecoderItem[]): void {
    for (const item of items) {
      if (this.#state === 'closed') return;
      if (item.type === 'truncated') continue;
      this.#lastActivity = performance.now();
      if (item.type === 'fatal') {
        if (this.#state !== 'ready') return this.#refuse('a handshake message over 256 bytes (is the client missing the authkey?)');
        this.#enqueue(Promise.resolve(encodeMpError({ doublePickled: false, list: false, protocol: 4 }, item.error)), true);
        this.#inputEnded = true;
        this.#o.socket.pause();
        return;
      }
      if (this.#state === 'ready') this.#accept(item.bytes);
      else this.#handshake(item.bytes);
    }
  }

  // --- handshake ------------------------------------------------------------

  #handshake(message: Buffer): void {
    const authkey = this.#o.authkey!;
    switch (this.#state) {
      case 'await-response': {
        const form = verifyResponse(authkey, this.#challenge!, message);
        if (!form) return this.#refuse('wrong authkey (the answer to our challenge did not match)');
        this.#o.log.debug({ form }, 'mp client answered the challenge');
        this.#send(WELCOME);
        this.#state = 'await-challenge';
        return;
      }
      case 'await-challenge': {
        const answer = answerChallenge(authkey, message);
        if (!answer) return this.#refuse('the client sent no challenge we can answer');
        this.#send(answer);
        this.#state = 'await-welcome';
        return;
      }
      case 'await-welcome':
        if (!message.equals(WELCOME)) return this.#refuse('the client refused our answer to its challenge');
        this.#state = 'ready';
        this.#o.log.debug('mp client authenticated');
        return;
      default:
        return;
    }
  }

  #refuse(why: string): void {
    this.#o.log.warn({ peer: this.#o.peer, reason: why }, 'mp client refused: authentication failed');
    if (this.#state === 'await-response') this.#send(FAILURE);
    this.#o.socket.end();
    this.#close('unauthorized');
  }

  // --- messages ---------------------------------------------------------------

  #accept(bytes: Buffer): void {
    const message = parseMpMessage(bytes, this.#o.pickleLimits);
    if (!message.ok) {
      this.#o.log.info({ peer: this.#o.peer, code: message.error.code, err: message.error.message }, 'mp message refused');
      this.#enqueue(Promise.resolve(encodeMpError(message.shape, message.error)));
      return;
    }
    this.#enqueue(this.#run(message).catch((err: unknown) => encodeMpError(message.shape, err)));
  }

  async #run(message: Extract<MpMessage, { ok: true }>): Promise<Buffer> {
    const outcomes = await Promise.all(
      message.frames.map((f) => (f.ok ? this.#frame(f.frame) : Promise.resolve(frameError(f.frameNum, null, f.error)))),
    );
    return encodeMpReply(message.shape, outcomes);
  }

  async #frame(frame: MpFrame): Promise<MpFrameOutcome> {
    const { frameNum, cameraNumber } = frame;
    try {
      const image = await encodeNdImage(frame.image, this.#o.maxInputPixels);
      const base = { type: 'process', requestId: requestIdOf(frameNum), cameraNumber, payload: image.payload } as const;
      const request: ProcessRequest = frame.model === undefined ? base : { ...base, model: frame.model };
      const context: FramedContext = { peer: this.#o.peer, clientId: `mp:${this.#o.peer}`, signal: this.#controller.signal };
      const reply = await this.#o.handle(request, context);
      const json = reply.json as { success?: unknown; error?: { code?: unknown; message?: unknown } | null };
      if (json.success === false) {
        return { frameNum, cameraNumber, error: { code: String(json.error?.code ?? ErrorCode.PROCESSING_ERROR), message: String(json.error?.message ?? '') } };
      }
      const { model, results } = resultsOfFramedJson(reply.json, image.width, image.height);
      return { frameNum, cameraNumber, model, results };
    } catch (err) {
      return frameError(frameNum, cameraNumber, err);
    }
  }

  // --- replies, in order -------------------------------------------------------

  #enqueue(reply: Promise<Buffer>, fatal = false): void {
    this.#replies.push(reply.then((bytes) => ({ bytes, fatal })));
    if (this.#replies.length >= MAX_PIPELINED_REQUESTS && !this.#paused) {
      this.#paused = true;
      this.#o.socket.pause();
    }
    void this.#drain();
  }

  async #drain(): Promise<void> {
    if (this.#writing) return;
    this.#writing = true;
    try {
      while (this.#replies.length > 0 && this.#state !== 'closed') {
        const reply = await this.#replies[0]!;
        this.#replies.shift();
        const ok = this.#send(reply.bytes);
        if (reply.fatal) {
          this.#endAfterFatal();
          return;
        }
        if (!ok) await new Promise<void>((resolve) => this.#o.socket.once('drain', resolve));
        if (this.#paused && this.#replies.length < MAX_PIPELINED_REQUESTS / 2) {
          this.#paused = false;
          this.#o.socket.resume();
        }
      }
    } finally {
      this.#writing = false;
    }
    this.#maybeFinish();
  }

  #send(bytes: Buffer): boolean {
    const { socket } = this.#o;
    if (this.#state === 'closed' || socket.destroyed || !socket.writable) return true;
    this.#lastActivity = performance.now();
    return socket.write(encodeMpMessage(bytes));
  }

  /** After a TOO_LARGE length: read and drop what the peer still sends, so it sees the answer, then close. */
  #endAfterFatal(): void {
    const { socket } = this.#o;
    socket.end();
    socket.resume();
    this.#close('fatal');
  }

  #onEnd(): void {
    this.#inputEnded = true;
    for (const item of this.#decoder.end()) {
      if (item.type === 'truncated') this.#o.log.info({ peer: this.#o.peer }, 'mp connection ended in the middle of a message');
    }
    if (this.#state !== 'ready') {
      this.#o.socket.end();
      this.#close('end');
      return;
    }
    this.#maybeFinish();
  }

  #maybeFinish(): void {
    if (this.#inputEnded && this.#replies.length === 0 && !this.#writing && this.#state !== 'closed') {
      this.#o.socket.end();
      this.#close('end');
    }
  }

  #close(reason: 'end' | 'fatal' | 'error' | 'unauthorized', detail?: string): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    if (reason === 'error') {
      this.#o.log.debug({ peer: this.#o.peer, err: detail }, 'mp session ended');
      this.#controller.abort(new Error(detail ?? 'connection closed'));
    }
    this.#o.onClose(reason);
  }
}

/** frame_num as the request_id the service echoes (ints and strs; other keys are not ids). */
function requestIdOf(frameNum: PickleKey): RequestId {
  if (typeof frameNum === 'number' || typeof frameNum === 'string') return frameNum;
  if (typeof frameNum === 'bigint') return String(frameNum);
  return null;
}
