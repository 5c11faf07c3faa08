import sharp from 'sharp';
import type { DaemonStats } from '../daemon-stats.js';
import type { Logger } from '../log.js';
import { ProcessingError, ProtocolError, UnauthorizedError } from '../errors.js';
import type { FramedRequest } from '../protocol/framed-request.js';
import { shutdownResponse, successResponse } from '../protocol/frame-encoder.js';
import type { InferenceEngine } from '../inference/engine.js';
import type { CameraFrames } from './camera-frames.js';
import type { InferenceLane } from '../scheduler/inference-lane.js';
import type { TileStore } from '../store/tile-store.js';
import { tileName, type TileCoord } from '../tile/tile-coord.js';
import type { FramedContext, FramedReply } from '../transport/framed-session.js';
import { mayAdminister } from './peer.js';
import type { TileApi, TileRef } from './tile-api.js';

export interface FramedServiceOptions {
  tiles: TileApi;
  store: TileStore;
  /** Absent when the daemon runs without inference. */
  inference: { engine: InferenceEngine; lane: InferenceLane } | undefined;
  /** camera number → model; `*` is the fallback. */
  cameraModels: Readonly<Record<string, string>>;
  adminToken: string | undefined;
  /** Where each camera's newest processed frame is kept for viewers (gRPC MainServer); absent = not kept. */
  cameras?: CameraFrames | undefined;
  log: Logger;
  stats: () => DaemonStats;
}

/**
 * Answers framed requests (wire.md §5): `process` through the inference
 * lane, `render` through the tile scheduler, and the small commands.
 */
export class FramedService {
  readonly #o: FramedServiceOptions;

  constructor(options: FramedServiceOptions) {
    this.#o = options;
  }

  /** The model a camera's images go to. */
  modelFor(camera: number, requested: string | undefined): string {
    return requested ?? this.#o.cameraModels[String(camera)] ?? this.#o.cameraModels['*'] ?? 'ocr';
  }

  handle = async (request: FramedRequest, ctx: FramedContext): Promise<FramedReply> => {
    const id = request.requestId;
    switch (request.type) {
      case 'process':
        return this.#process(request.cameraNumber, request.model, request.payload, id, ctx);
      case 'render':
        return this.#render(request.tile, id, ctx);
      case 'shutdown':
        if (!mayAdminister(ctx.peer, request.token, this.#o.adminToken)) {
          throw new UnauthorizedError('shutdown is accepted only from loopback or with the admin token');
        }
        return { json: shutdownResponse(id), images: [], shutdown: true };
      case 'ping':
        return { json: successResponse(id, [], { pong: true }), images: [] };
      case 'stats':
        return { json: successResponse(id, [], { stats: this.#o.stats() }), images: [] };
      case 'viewport':
        this.#o.tiles.setViewport(ctx.clientId, request);
        return { json: successResponse(id, []), images: [] };
      case 'cancel': {
        const n = this.#o.tiles.cancel(request.tile, ctx.clientId);
        return { json: successResponse(id, [], { cancelled: n }), images: [] };
      }
    }
  };

  async #process(camera: number, requested: string | undefined, image: Buffer, id: FramedRequest['requestId'], ctx: FramedContext): Promise<FramedReply> {
    const inference = this.#o.inference;
    if (!inference) throw new ProcessingError('inference is not enabled in this daemon');
    const model = this.modelFor(camera, requested);
    if (!inference.engine.hasModel(model)) {
      throw new ProtocolError(`unknown model "${model}" (available: ${inference.engine.modelNames().join(', ')})`);
    }
    const started = performance.now();
    const results = await inference.lane.run((signal) => inference.engine.process(model, image, signal ?? ctx.signal), ctx.signal);
    this.#o.cameras?.record(camera, image, results);
    const images = results.map((r) => r.png);
    const items = results.map((r, i) => ({
      result_index: i,
      class_name: r.className,
      score: r.score,
      camera_number: camera,
      image_index: i,
      image_format: 'png',
      image_length: r.png.byteLength,
      image_width: r.width,
      image_height: r.height,
      image_mode: r.mode,
      ...r.extra,
    }));
    return { json: successResponse(id, items, { model, elapsed_ms: Math.round((performance.now() - started) * 10) / 10 }), images };
  }

  async #render(ref: TileRef, id: FramedRequest['requestId'], ctx: FramedContext): Promise<FramedReply> {
    const tiles = this.#o.tiles;
    const tile = tiles.admit(ref);
    const outcome = await tiles.request(tile, { cls: 'interactive', clientId: ctx.clientId, signal: ctx.signal });
    const png = await this.#o.store.read(tile);
    if (png === undefined) throw new ProcessingError(`tile ${tileName(tile)} was rendered but is not on disk`);
    const meta = await sharp(png).metadata();
    const item = {
      result_index: 0,
      class_name: tileName(tile),
      score: 1,
      camera_number: null,
      image_index: 0,
      image_format: 'png',
      image_length: png.byteLength,
      image_width: meta.width ?? 0,
      image_height: meta.height ?? 0,
      image_mode: meta.isPalette ? 'P' : meta.channels === 4 ? 'RGBA' : 'RGB',
      tile: tileName(tile),
      cached: outcome.cached,
    };
    return { json: successResponse(id, [item]), images: [png] };
  }
}

