import net from 'node:net';
import { once } from 'node:events';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { encodeFrameRequest } from '../protocol/frame-encoder.js';
import { FrameResponseDecoder } from '../protocol/frame-response-decoder.js';

/** One decoded response: its JSON and its result images. */
export interface FramedResponse {
  readonly json: {
    success: boolean;
    request_id: unknown;
    result_count: number;
    results: Array<Record<string, unknown>>;
    error: { code: string; message: string } | null;
    [extra: string]: unknown;
  };
  readonly images: readonly Buffer[];
}

/**
 * The framed protocol (wire.md §5) from the client's side, over TCP or over
 * a spawned `mosaicd stdio` child. Requests may be pipelined: responses are
 * matched to requests by order, as the daemon answers in request order.
 */
export class FramedClient {
  readonly #output: Writable;
  readonly #decoder = new FrameResponseDecoder();
  readonly #waiting: Array<{ resolve: (r: FramedResponse) => void; reject: (e: Error) => void }> = [];
  readonly #closeStream: () => void;
  #failure: Error | undefined;
  #nextId = 1;
  /** The spawned child, in stdio mode. */
  readonly child: ChildProcessWithoutNullStreams | undefined;

  private constructor(input: Readable, output: Writable, close: () => void, child?: ChildProcessWithoutNullStreams) {
    this.#output = output;
    this.#closeStream = close;
    this.child = child;
    input.on('data', (chunk: Buffer) => {
      for (const item of this.#decoder.push(chunk)) {
        if (item.type === 'response') {
          const json = JSON.parse(item.json.toString('utf8')) as FramedResponse['json'];
          this.#waiting.shift()?.resolve({ json, images: item.images.map((b) => Buffer.from(b)) });
        } else {
          this.#fail(item.error);
        }
      }
    });
    input.on('end', () => this.#fail(new Error('the daemon closed the connection')));
    input.on('error', (err: Error) => this.#fail(err));
    output.on('error', (err: Error) => this.#fail(err));
  }

  static async connect(options: { host?: string; port?: number } = {}): Promise<FramedClient> {
    const socket = net.connect({ host: options.host ?? '127.0.0.1', port: options.port ?? 12345 });
    await Promise.race([once(socket, 'connect'), once(socket, 'error').then(([e]) => Promise.reject(e))]);
    socket.setNoDelay(true);
    return new FramedClient(socket, socket, () => socket.end());
  }

  /** Spawns `mosaicd stdio` (or any command speaking the framed protocol on stdio). */
  static spawn(command: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; stderr?: 'inherit' | 'pipe' } = {}): FramedClient {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', options.stderr ?? 'inherit'], env: options.env ?? process.env }) as ChildProcessWithoutNullStreams;
    return new FramedClient(child.stdout, child.stdin, () => child.stdin.end(), child);
  }

  /** Sends one request; resolves with its response. */
  request(json: Record<string, unknown>, payload?: Uint8Array): Promise<FramedResponse> {
    if (this.#failure) return Promise.reject(this.#failure);
    const promise = new Promise<FramedResponse>((resolve, reject) => this.#waiting.push({ resolve, reject }));
    this.#output.write(Buffer.concat(encodeFrameRequest(json, payload)));
    return promise;
  }

  process(image: Uint8Array, options: { camera?: number; model?: string; requestId?: number | string } = {}): Promise<FramedResponse> {
    return this.request(
      {
        command: 'process',
        request_id: options.requestId ?? this.#nextId++,
        camera_number: options.camera ?? 0,
        ...(options.model ? { model: options.model } : {}),
      },
      image,
    );
  }

  render(tile: string): Promise<FramedResponse> {
    return this.request({ command: 'render', request_id: this.#nextId++, tile });
  }

  ping(): Promise<FramedResponse> {
    return this.request({ command: 'ping', request_id: this.#nextId++ });
  }

  stats(): Promise<FramedResponse> {
    return this.request({ command: 'stats', request_id: this.#nextId++ });
  }

  viewport(z: number, minX: number, minY: number, maxX: number, maxY: number): Promise<FramedResponse> {
    return this.request({ command: 'viewport', request_id: this.#nextId++, z, min_x: minX, min_y: minY, max_x: maxX, max_y: maxY });
  }

  shutdown(token?: string): Promise<FramedResponse> {
    return this.request({ command: 'shutdown', request_id: this.#nextId++, ...(token ? { token } : {}) });
  }

  /** Half-closes our side; in stdio mode the child then exits. */
  close(): void {
    this.#closeStream();
  }

  /** In stdio mode: resolves with the child's exit code. */
  async exited(): Promise<number | null> {
    if (!this.child) return null;
    if (this.child.exitCode !== null) return this.child.exitCode;
    const [code] = (await once(this.child, 'exit')) as [number | null];
    return code;
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    for (const w of this.#waiting.splice(0)) w.reject(err);
  }
}
