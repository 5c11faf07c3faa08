import {
  Server,
  ServerCredentials,
  ServerInterceptingCall,
  status,
  type ServerDuplexStream,
  type ServerInterceptor,
} from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import type { Logger } from '../../log.js';
import type { CameraFrames } from '../../service/camera-frames.js';
import type { FramedRequestHandler } from '../framed-session.js';
import { CameraViewer, type ViewerReply, type ViewerRequest } from './camera-viewer.js';
import { loadServices } from './protos.js';
import type { FrameMessage, ResultMessage } from './vision-codec.js';
import { VisionStream, processHandler } from './vision-handlers.js';

/** On a graceful stop, how long open calls get to answer their frames before they are cut, ms. */
const STOP_GRACE_MS = 5000;

/** Told about every call (the daemon's /metrics). `code` is a gRPC status name such as OK or CANCELLED. */
export interface GrpcCallObserver {
  started(method: string): void;
  finished(method: string, code: string): void;
}

export interface GrpcServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Largest message received or sent, bytes; a larger one ends its call with RESOURCE_EXHAUSTED. */
  maxMessageBytes: number;
  /** Frames in flight per Vision/Stream call. */
  streamInFlight: number;
  handle: FramedRequestHandler;
  cameras: CameraFrames;
  log: Logger;
  calls?: GrpcCallObserver;
}

/** Service names the health service reports on ('' is the whole server). */
const SERVICES = ['', 'mosaicd.v1.Vision', 'MainServer'] as const;

/**
 * The gRPC wire: mosaicd.v1.Vision, seed 002's MainServer and the standard
 * grpc.health.v1.Health, on one HTTP/2 port. A transport only: requests go
 * to the same handler as framed ones.
 */
export class GrpcServer {
  readonly #o: GrpcServerOptions;
  readonly #server: Server;
  readonly #health = new HealthImplementation(Object.fromEntries(SERVICES.map((s) => [s, 'SERVING'])));
  /** Open streaming calls, so a stop can end them. */
  readonly #streams = new Set<{ finish(): void }>();
  #port: number | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: GrpcServerOptions) {
    this.#o = options;
    this.#server = new Server({
      'grpc.max_receive_message_length': options.maxMessageBytes,
      'grpc.max_send_message_length': options.maxMessageBytes,
      interceptors: options.calls ? [countCalls(options.calls)] : [],
    });
    const services = loadServices();
    const visionOptions = { handle: options.handle, maxInFlight: options.streamInFlight, log: options.log };
    this.#server.addService(services.vision, {
      Process: processHandler(visionOptions),
      Stream: (call: ServerDuplexStream<FrameMessage, ResultMessage>) => {
        const stream = new VisionStream(call, visionOptions, () => this.#streams.delete(stream));
        this.#streams.add(stream);
      },
    });
    this.#server.addService(services.mainServer, {
      getStream: (call: ServerDuplexStream<ViewerRequest, ViewerReply>) => {
        const viewer = new CameraViewer(call, options.cameras, options.log, () => this.#streams.delete(viewer));
        this.#streams.add(viewer);
      },
    });
    this.#health.addToServer(this.#server);
  }

  async listen(): Promise<{ host: string; port: number }> {
    const { host, port } = this.#o;
    const target = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    this.#port = await new Promise<number>((resolve, reject) =>
      this.#server.bindAsync(target, ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
    );
    this.#o.log.info({ host, port: this.#port }, 'gRPC listening');
    return { host, port: this.#port };
  }

  /** The bound port (after listen). */
  get port(): number {
    if (this.#port === undefined) throw new Error('the gRPC server is not listening');
    return this.#port;
  }

  /**
   * Graceful stop: health says NOT_SERVING, no new calls, open streams stop
   * reading and end once their frames are answered; calls still open after
   * STOP_GRACE_MS are cut. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const s of SERVICES) this.#health.setStatus(s, 'NOT_SERVING');
      let timer: NodeJS.Timeout | undefined;
      const done = new Promise<void>((resolve) => {
        this.#server.tryShutdown(() => resolve());
        // Past the grace period, cut what is left; don't rely on tryShutdown's callback after that.
        timer = setTimeout(() => {
          this.#server.forceShutdown();
          resolve();
        }, STOP_GRACE_MS);
      });
      for (const s of [...this.#streams]) s.finish();
      await done;
      clearTimeout(timer);
    })();
    return this.#closing;
  }

  /** Immediate stop: every call is cut (CANCELLED at the client). */
  destroy(): Promise<void> {
    this.#server.forceShutdown();
    return this.#closing ?? Promise.resolve();
  }
}

/** Counts every call by method and final status; the in-flight gauge goes up at start and down at the end. */
function countCalls(observer: GrpcCallObserver): ServerInterceptor {
  return (method, call) => {
    const name = method.path;
    let finished = false;
    const finish = (code: string) => {
      if (finished) return;
      finished = true;
      observer.finished(name, code);
    };
    observer.started(name);
    return new ServerInterceptingCall(call, {
      start: (next) => next({ onCancel: () => finish('CANCELLED') }),
      sendStatus: (s, next) => {
        finish(status[s.code] ?? String(s.code));
        next(s);
      },
    });
  };
}
