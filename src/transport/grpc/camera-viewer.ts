import { status, type ServerDuplexStream } from '@grpc/grpc-js';
import type { Logger } from '../../log.js';
import type { CameraFrames } from '../../service/camera-frames.js';

/** Seed 002's messages (proto/Datas.proto). */
export interface ViewerRequest {
  msg: string;
}
export interface ViewerReply {
  datas: Buffer;
}

/** Characters of `msg` looked at. */
const MAX_MSG_CHARS = 256;

export interface ViewerAsk {
  camera: number;
  /** Draw the frame's results (boxes and labels) on it. */
  boxes: boolean;
}

/**
 * What a `Request.msg` asks for. Words are separated by spaces, commas,
 * semicolons or `&`: a number, `camera=N` or `camera:N` names the camera
 * (camera 0 when none does), `boxes` asks for the results drawn on the
 * frame. Other words (and anything past the first 256 characters) are ignored, so the seed's `give me the stream!!` is
 * camera 0 as it is.
 */
export function parseViewerRequest(msg: string): ViewerAsk {
  let camera = 0;
  let boxes = false;
  // Only the start is read: a message may be as large as --grpc-max-message-bytes.
  for (const word of msg.slice(0, MAX_MSG_CHARS).toLowerCase().split(/[\s,;&]+/)) {
    const m = /^(?:camera[=:])?(\d{1,9})$/.exec(word);
    if (m) camera = Number(m[1]);
    else if (word === 'boxes') boxes = true;
  }
  return { camera, boxes };
}

/**
 * MainServer/getStream on one call: each Request is answered, in order, with
 * one Reply holding the camera's newest frame as base64 JPEG (what the seed's
 * client decodes with cv2). One request is answered at a time: the call is
 * not read while an answer is being made or cannot be written (flow control).
 * A camera with no frame yet ends the call with NOT_FOUND, which the seed's
 * client prints and retries (an empty `datas` would crash its cv2.imdecode).
 */
export class CameraViewer {
  readonly #call: ServerDuplexStream<ViewerRequest, ViewerReply>;
  readonly #cameras: CameraFrames;
  readonly #log: Logger;
  readonly #onClose: () => void;
  #busy = false;
  #inputEnded = false;
  #closed = false;

  constructor(call: ServerDuplexStream<ViewerRequest, ViewerReply>, cameras: CameraFrames, log: Logger, onClose: () => void = () => {}) {
    this.#call = call;
    this.#cameras = cameras;
    this.#log = log;
    this.#onClose = onClose;
    call.on('data', (req: ViewerRequest) => void this.#answer(req));
    call.on('end', () => {
      this.#inputEnded = true;
      this.#maybeEnd();
    });
    call.on('cancelled', () => this.#close());
    call.on('error', () => this.#close());
  }

  /** Graceful stop: answer the request being answered, then end the call. */
  finish(): void {
    this.#inputEnded = true;
    this.#call.pause();
    this.#maybeEnd();
  }

  async #answer(req: ViewerRequest): Promise<void> {
    if (this.#closed) return;
    this.#busy = true;
    this.#call.pause();
    const ask = parseViewerRequest(req.msg);
    try {
      const found = await this.#cameras.jpeg(ask.camera, { boxes: ask.boxes });
      if (this.#closed) return;
      if (!found) {
        this.#fail(status.NOT_FOUND, `camera ${ask.camera} has sent no frame yet`);
        return;
      }
      const reply: ViewerReply = { datas: Buffer.from(found.jpeg.toString('base64'), 'latin1') };
      if (!this.#call.write(reply)) await new Promise((resolve) => this.#call.once('drain', resolve));
    } catch (err) {
      this.#log.warn({ camera: ask.camera, err: (err as Error).message }, 'camera frame could not be encoded as JPEG');
      this.#fail(status.INTERNAL, `camera ${ask.camera}'s frame could not be encoded as JPEG`);
      return;
    } finally {
      this.#busy = false;
    }
    if (this.#closed) return;
    if (this.#inputEnded) this.#maybeEnd();
    else this.#call.resume();
  }

  #fail(code: status, details: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#call.emit('error', { code, details });
    this.#onClose();
  }

  #maybeEnd(): void {
    if (this.#closed || this.#busy || !this.#inputEnded) return;
    this.#closed = true;
    this.#call.end();
    this.#onClose();
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onClose();
  }
}
