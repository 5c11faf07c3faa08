import type net from 'node:net';
import { setMaxListeners } from 'node:events';
import type { Logger } from '../log.js';
import { LineDecoder } from '../protocol/line-decoder.js';
import { BARRIER_REPLY, lineCommandOf, type LineCommand } from '../protocol/line-command.js';
import { BarrierTracker } from '../notify/barrier.js';
import type { SessionHandle } from './tcp-listener.js';

/** What a line command may do to the connection it came on. */
export interface LineContext {
  /** The peer's address (`127.0.0.1`, `::1`, ...). */
  readonly peer: string;
  /** Groups this connection's requests with others from the same client (viewport, cancel). */
  readonly clientId: string;
  /** Writes a reply on this connection (`ping`, `stats`, in-band errors). */
  reply(text: string): void;
  /** Marks one request as outstanding for the barrier; call the result when it is finished. */
  track(): () => void;
  /** Marks a reply as owed on this connection (in-band answers): it stays open until it is written. */
  owe(): () => void;
  /** Aborts when the connection goes away (in-band requests are then withdrawn). */
  readonly signal: AbortSignal;
  /** This connection's logger. */
  readonly log: Logger;
}

/**
 * Acts on one line command: LineService.handle (src/service/line-service.ts)
 * in production. A returned promise holds back the following lines until it
 * settles (a full bulk queue makes a seeding client wait instead of failing).
 */
export type LineCommandHandler = (command: LineCommand, context: LineContext) => void | Promise<void>;

/**
 * One line-protocol connection (wire.md §3): bytes → lines → commands, in
 * order; the empty-line barrier answered on this connection once everything
 * asked before it has finished. The connection closing does not cancel its
 * tiles: old clients send one line and close at once.
 */
export class LineSession implements SessionHandle {
  readonly #socket: net.Socket;
  readonly #decoder: LineDecoder;
  readonly #barriers = new BarrierTracker();
  readonly #context: LineContext;
  readonly #handle: LineCommandHandler;
  readonly #controller = new AbortController();
  /** Commands waiting behind a handler that asked us to hold back. */
  readonly #held: LineCommand[] = [];
  #holding = false;
  #pendingBarriers = 0;
  #peerEnded = false;
  #owed = 0;
  /** Last complete line received or reply written (the server's idle rule). */
  #lastActivity = performance.now();

  constructor(socket: net.Socket, options: { peer: string; maxLineBytes: number; handle: LineCommandHandler; log: Logger; clientId?: string }) {
    this.#socket = socket;
    this.#decoder = new LineDecoder({ maxLineBytes: options.maxLineBytes });
    this.#handle = options.handle;
    const peer = options.peer;
    this.#context = {
      peer,
      clientId: options.clientId ?? `line:${peer}`,
      reply: (text) => {
        if (!socket.destroyed && socket.writable) {
          this.#lastActivity = performance.now();
          socket.write(text);
        }
      },
      track: () => this.#barriers.track(),
      owe: () => {
        this.#owed++;
        let paid = false;
        return () => {
          if (paid) return;
          paid = true;
          this.#owed--;
          this.#maybeClose();
        };
      },
      signal: this.#controller.signal,
      log: options.log,
    };
    // Every in-band request on this connection listens on the one signal.
    setMaxListeners(0, this.#controller.signal);
    socket.once('close', () => this.#controller.abort());
  }

  /** Starts reading, after feeding the bytes the protocol sniffer already consumed. */
  start(buffered: Buffer, ended: boolean): void {
    if (buffered.length > 0) this.#onData(buffered);
    if (ended) {
      this.#onEnd();
      return;
    }
    this.#socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.#socket.on('end', () => this.#onEnd());
  }

  isBusy(): boolean {
    return this.#pendingBarriers > 0 || this.#owed > 0 || this.#holding;
  }

  lastActivityAt(): number {
    return this.#lastActivity;
  }

  #onData(chunk: Buffer): void {
    for (const item of this.#decoder.push(chunk)) this.#dispatch(lineCommandOf(item));
  }

  #onEnd(): void {
    for (const item of this.#decoder.end()) this.#dispatch(lineCommandOf(item));
    this.#peerEnded = true;
    this.#maybeClose();
  }

  #dispatch(command: LineCommand): void {
    this.#lastActivity = performance.now();
    if (this.#holding) {
      this.#held.push(command);
      return;
    }
    this.#run(command);
  }

  #run(command: LineCommand): void {
    if (command.type === 'barrier') {
      this.#pendingBarriers++;
      void this.#barriers.barrier().then(() => {
        this.#pendingBarriers--;
        this.#context.reply(BARRIER_REPLY);
        this.#maybeClose();
      });
      return;
    }
    const held = this.#handle(command, this.#context);
    if (held === undefined) return;
    this.#holding = true;
    this.#socket.pause();
    void held.finally(() => {
      this.#holding = false;
      while (this.#held.length > 0 && !this.#holding) this.#run(this.#held.shift()!);
      if (!this.#holding) {
        this.#socket.resume();
        this.#maybeClose();
      }
    });
  }

  /**
   * After the peer half-closed, our side ends once every reply owed on this
   * connection (barriers, in-band answers) has been written. Tiles whose
   * notices go to the listener do not hold the connection open.
   */
  #maybeClose(): void {
    if (this.#peerEnded && !this.#holding && this.#pendingBarriers === 0 && this.#owed === 0 && !this.#socket.destroyed) {
      this.#socket.end();
    }
  }
}
