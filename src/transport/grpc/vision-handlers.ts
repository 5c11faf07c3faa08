import { setMaxListeners } from 'node:events';
import type { ServerDuplexStream, ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js';
import { CancelledError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { FramedContext, FramedRequestHandler } from '../framed-session.js';
import { errorResult, frameToRequest, replyToResult, type FrameMessage, type ResultMessage } from './vision-codec.js';

export interface VisionHandlerOptions {
  /** The framed protocol's request handler: the same service, whatever the wire. */
  handle: FramedRequestHandler;
  /** Frames read on one Stream call whose results are not yet written, before the call stops being read. */
  maxInFlight: number;
  log: Logger;
}

/** One Frame → its Result; never rejects (a failure is a Result with `error`). */
async function answer(handle: FramedRequestHandler, frame: FrameMessage, ctx: FramedContext): Promise<ResultMessage> {
  const decoded = frameToRequest(frame);
  if (!decoded.ok) return errorResult(decoded.requestId, decoded.error, frame.camera_number);
  try {
    return replyToResult(await handle(decoded.request, ctx), decoded.request.cameraNumber);
  } catch (err) {
    return errorResult(decoded.request.requestId, err, decoded.request.cameraNumber);
  }
}

/** `ipv4:1.2.3.4:5` / `1.2.3.4:5` / `[::1]:5` → the address part, as the framed transport names peers. */
export function peerAddress(peer: string): string {
  const bare = peer.replace(/^ipv[46]:/, '');
  const v6 = /^\[([^\]]+)\]:\d+$/.exec(bare);
  if (v6) return v6[1]!;
  const colon = bare.lastIndexOf(':');
  return colon > 0 ? bare.slice(0, colon) : bare;
}

function contextOf(call: { getPeer(): string }, signal: AbortSignal): FramedContext {
  const peer = peerAddress(call.getPeer());
  return { peer, clientId: `grpc:${call.getPeer()}`, signal };
}

/** mosaicd.v1.Vision/Process: one frame, one result; a cancelled call cancels its queued frame. */
export function processHandler(o: VisionHandlerOptions) {
  return (call: ServerUnaryCall<FrameMessage, ResultMessage>, callback: sendUnaryData<ResultMessage>): void => {
    const controller = new AbortController();
    call.once('cancelled', () => controller.abort(new CancelledError('the gRPC call was cancelled')));
    void answer(o.handle, call.request, contextOf(call, controller.signal)).then((result) => callback(null, result));
  };
}

/**
 * mosaicd.v1.Vision/Stream on one call. Results are written as they finish,
 * each tagged with its frame's request_id. Flow control both ways: at most
 * `maxInFlight` frames read and not yet answered (then the call is not read,
 * and HTTP/2 flow control holds the client), and a write the transport
 * cannot take yet (`write` false) holds further writes until 'drain'.
 */
export class VisionStream {
  readonly #call: ServerDuplexStream<FrameMessage, ResultMessage>;
  readonly #o: VisionHandlerOptions;
  readonly #controller = new AbortController();
  readonly #ready: ResultMessage[] = [];
  #inFlight = 0;
  #paused = false;
  #waitingForDrain = false;
  #inputEnded = false;
  #closed = false;
  /** Set by finish(): the daemon is stopping; read no more frames. */
  #finishing = false;
  readonly #onClose: () => void;

  constructor(call: ServerDuplexStream<FrameMessage, ResultMessage>, options: VisionHandlerOptions, onClose: () => void = () => {}) {
    this.#call = call;
    this.#o = options;
    this.#onClose = onClose;
    // Every frame of the call listens on the one signal.
    setMaxListeners(0, this.#controller.signal);
    call.on('data', (frame: FrameMessage) => this.#accept(frame));
    call.on('end', () => {
      this.#inputEnded = true;
      this.#maybeEnd();
    });
    call.on('cancelled', () => this.#close(new CancelledError('the gRPC call was cancelled')));
    call.on('error', (err: Error) => this.#close(err));
  }

  /** Frames read and not yet answered (tests, stats). */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Graceful stop: read no more frames, answer those in flight, then end the call with OK. */
  finish(): void {
    this.#finishing = true;
    this.#inputEnded = true;
    this.#call.pause();
    this.#maybeEnd();
  }

  #accept(frame: FrameMessage): void {
    if (this.#closed || this.#finishing) return;
    this.#inFlight++;
    if (this.#inFlight >= this.#o.maxInFlight && !this.#paused) {
      this.#paused = true;
      this.#call.pause();
    }
    void answer(this.#o.handle, frame, contextOf(this.#call, this.#controller.signal)).then((result) => {
      this.#ready.push(result);
      this.#flush();
    });
  }

  #flush(): void {
    if (this.#waitingForDrain) return;
    while (this.#ready.length > 0) {
      const result = this.#ready.shift()!;
      this.#inFlight--;
      if (this.#closed) continue;
      if (!this.#call.write(result)) {
        this.#waitingForDrain = true;
        this.#call.once('drain', () => {
          this.#waitingForDrain = false;
          this.#flush();
        });
        return;
      }
    }
    if (this.#paused && !this.#finishing && this.#inFlight < this.#o.maxInFlight) {
      this.#paused = false;
      this.#call.resume();
    }
    this.#maybeEnd();
  }

  #maybeEnd(): void {
    if (this.#closed || !this.#inputEnded || this.#inFlight > 0 || this.#waitingForDrain) return;
    this.#closed = true;
    this.#call.end();
    this.#onClose();
  }

  /** The client cancelled or the call failed: cancel the queued frames, write nothing more. */
  #close(reason: Error): void {
    if (!this.#closed) this.#o.log.debug({ peer: this.#call.getPeer(), err: reason.message, inFlight: this.#inFlight }, 'gRPC stream closed');
    this.#controller.abort(reason);
    if (this.#closed) return;
    this.#closed = true;
    this.#onClose();
  }
}
