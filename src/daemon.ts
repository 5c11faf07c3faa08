import { existsSync } from 'node:fs';
import sharp from 'sharp';
import type net from 'node:net';
import { createLogger, type Logger } from './log.js';
import { BadTileError, ConfigError } from './errors.js';
import { resolveConfig, stateDirOf, type DaemonConfig, type DaemonConfigInput } from './config/daemon-config.js';
import { InferenceEngine } from './inference/engine.js';
import { RenderPool } from './render/render-pool.js';
import { InferenceLane } from './scheduler/inference-lane.js';
import { TileScheduler } from './scheduler/tile-scheduler.js';
import type { Scheduler } from './scheduler/scheduler.js';
import type { ClusterScheduler } from './cluster/cluster-scheduler.js';
import type { QueueUrl } from './cluster/queue-url.js';
import { FramedService } from './service/framed-service.js';
import { daemonBackend, instrumentFramed, observeRenders } from './http/daemon-backend.js';
import { HttpServer } from './http/http-server.js';
import { Metrics } from './http/metrics.js';
import { SqliteJournal } from './notify/journal.js';
import { formatErrorNotice } from './protocol/line-command.js';
import { parseTileSyntax } from './protocol/tile-syntax.js';
import { NoticeTargets } from './service/notice-targets.js';
import { LineService } from './service/line-service.js';
import { MapRenderers, MapSet, MapStores, resolveMaps, type MapSpec } from './maps/index.js';
import { checkMapnikStyles, rendererFor } from './maps/map-renderer-factory.js';
import { TileApi } from './service/tile-api.js';
import { CameraFrames } from './service/camera-frames.js';
import type { GrpcServer } from './transport/grpc/grpc-server.js';
import { TileStore } from './store/tile-store.js';
import { FramedSession, type FramedRequestHandler } from './transport/framed-session.js';
import { LineSession } from './transport/line-session.js';
import { RequestServer } from './transport/request-server.js';
import type { MpServer } from './transport/mp-connection/index.js';
import type { DaemonStats } from './daemon-stats.js';
import { tirexStatsByMap } from './render/tirex/tirex-renderer.js';
import type { TileCoord } from './tile/tile-coord.js';

export type { DaemonStats, DaemonInferenceStats } from './daemon-stats.js';

type ClusterModule = typeof import('./cluster/index.js');

/** After a TOO_LARGE length, how long the connection drains the peer's bytes before it is reset, ms. */
const FATAL_LINGER_MS = 5000;

export interface DaemonOptions {
  log?: Logger;
  /** Backoff start for completion notices, ms (tests shorten it). */
  noticeRetryBaseMs?: number;
}

/**
 * The composition root: builds the store, render pool, scheduler,
 * notifiers, inference engine and the request server from one config, and
 * owns their lifecycle.
 *
 *   running ──stop()──► draining (no new work; queue finishes; `done` sent) ──► closed
 *      └──────destroy()─────────► (queued work fails with SHUTTING_DOWN) ──────► closed
 */
export class Daemon {
  readonly config: Readonly<DaemonConfig>;
  readonly log: Logger;
  /** The maps served (docs/maps.md); the default map is today's. */
  readonly maps: MapSet;
  /** The default map's tile files. */
  readonly store: TileStore;
  /** Every map's tile files. */
  readonly stores: MapStores;
  /** The in-process engine, or with --queue the BullMQ one (src/cluster/). */
  readonly scheduler: Scheduler;
  /** The BullMQ engine when --queue is set. */
  readonly #cluster: ClusterScheduler | undefined;
  /** The tile API every protocol shares. */
  readonly tiles: TileApi;
  /** The line protocol's commands. */
  readonly lines: LineService;
  readonly framed: FramedService;
  /** Prometheus metrics (served on /metrics when --http-port is set). */
  readonly metrics = new Metrics();
  readonly #framedHandle: FramedRequestHandler;
  #http: HttpServer | undefined;
  #grpc: GrpcServer | undefined;
  /** Each camera's newest processed frame, for gRPC viewers (MainServer). */
  readonly cameras: CameraFrames;
  #mp: MpServer | undefined;
  /** The default map's render pool (`render` in stats). */
  readonly #renderPool: RenderPool;
  readonly #renderers: MapRenderers;
  readonly #notices: NoticeTargets;
  /** Accepted line tile requests and undelivered notices, across a crash (--state-dir); none in stdio mode or with --no-journal. */
  readonly #journal: SqliteJournal | undefined;
  readonly #inference: { engine: InferenceEngine; lane: InferenceLane } | undefined;
  #server: RequestServer | undefined;
  #stopping: Promise<void> | undefined;
  /** Aborted by destroy(): a graceful stop stops waiting for notices. */
  readonly #giveUp = new AbortController();
  #resolveClosed!: () => void;
  readonly #startedAt = Date.now();
  /** Resolves once the daemon has stopped, by stop(), destroy(), `stop` or `shutdown`. */
  readonly closed: Promise<void> = new Promise((resolve) => (this.#resolveClosed = resolve));

  private constructor(config: Readonly<DaemonConfig>, maps: MapSet, log: Logger, engine: InferenceEngine | undefined, options: DaemonOptions, journal: SqliteJournal | undefined, cluster?: { module: ClusterModule; url: QueueUrl }) {
    this.config = config;
    this.log = log;
    this.#journal = journal;
    this.maps = maps;
    this.stores = new MapStores(this.maps);
    this.store = this.stores.storeOf({});
    // The scheduler's render slots (--concurrency) are shared by every map; each map's
    // renderer has its own workers, since a worker's renderer options are fixed.
    this.#renderers = new MapRenderers(this.maps, config.concurrency, (spec) => rendererFor(spec, config, log));
    this.#renderPool = this.#renderers.of(undefined) as RenderPool;
    const stores = this.stores;
    const sink = { has: (t: TileCoord) => existsSync(stores.pathOf(t)), writeMany: (list: Parameters<MapStores['writeMany']>[0]) => stores.writeMany(list) };
    this.#cluster = cluster?.module.ClusterScheduler.create({
      url: cluster.url,
      prefix: config.queuePrefix,
      stallMs: config.queueStallMs,
      renderer: this.#renderers,
      sink,
      maps: this.maps.list().map((spec) => this.maps.tileMap(spec)),
      mapCheck: (map) => this.maps.get(map),
      queueLimits: config.queueLimits,
      slots: config.queueWorkers ?? config.concurrency,
      log,
    });
    this.scheduler =
      this.#cluster ??
      new TileScheduler({
        renderer: this.#renderers,
        sink,
        metatile: (map) => this.maps.get(map).metatile,
        queueLimits: config.queueLimits,
      });
    observeRenders(this.scheduler, this.metrics);
    this.#notices = new NoticeTargets({
      host: config.callbackHost,
      port: config.callbackPort ?? config.port + 1,
      mode: config.callbackMode,
      maxPending: config.maxPendingNotices,
      log,
      journal,
      ...(options.noticeRetryBaseMs ? { retryBaseMs: options.noticeRetryBaseMs } : {}),
    });
    this.tiles = new TileApi({ scheduler: this.scheduler, maps: this.maps, prefetch: config.prefetch });
    this.lines = new LineService({
      tiles: this.tiles,
      notices: this.#notices,
      adminToken: config.adminToken,
      log,
      requestStop: () => void this.stop(),
      stats: () => this.stats(),
    });
    this.#inference = engine
      ? {
          engine,
          // Enough requests in flight per worker to overlap decoding with inference (and, with
          // batching on, for crops of several requests to meet in one batch).
          lane: new InferenceLane({ concurrency: config.inferenceWorkers * (config.maxBatch > 1 ? 4 : 2), limit: config.inferenceQueueLimit }),
        }
      : undefined;
    this.cameras = new CameraFrames({ maxCameras: config.maxCameras, maxInputPixels: config.maxInputPixels });
    this.framed = new FramedService({
      cameras: this.cameras,
      tiles: this.tiles,
      store: this.stores,
      inference: this.#inference,
      cameraModels: config.cameraModels,
      adminToken: config.adminToken,
      log,
      stats: () => this.stats(),
    });
    this.#framedHandle = instrumentFramed(this.framed.handle, this.metrics, {
      modelFor: (camera, model) => this.framed.modelFor(camera, model),
      known: (model) => this.#inference?.engine.hasModel(model) ?? false,
    });
  }

  /** Every map of the config, or a ConfigError naming the problem. */
  static #resolveMaps(config: Readonly<DaemonConfig>): MapSpec[] {
    let specs: MapSpec[];
    try {
      specs = resolveMaps(config, config.maps);
    } catch (err) {
      throw new ConfigError(`maps: ${(err as Error).message}`);
    }
    return specs;
  }


  /** Validates the config, cleans up after a crash, starts workers and (unless `listen: false`) the request port. */
  static async start(input: DaemonConfigInput, options: DaemonOptions & { listen?: boolean } = {}): Promise<Daemon> {
    const config = resolveConfig(input);
    const maps = new MapSet(Daemon.#resolveMaps(config));
    await checkMapnikStyles(maps.list());
    const log = options.log ?? createLogger(config.logLevel);
    // Loaded only with --queue (BullMQ is not imported otherwise); an unreachable Redis stops here.
    const cluster = config.queue === undefined ? undefined : await import('./cluster/index.js');
    // Nodes share the tile folder: the default state folder inside it would be one journal for all of them.
    if (config.queue !== undefined && config.journal && options.listen !== false && config.stateDir === undefined) {
      throw new ConfigError('with --queue each node needs its own --state-dir on its local disk (the default <tiles-dir>/.mosaicd-state would be one journal shared by every node), or --no-journal');
    }
    const queueUrl = cluster?.parseQueueUrl(config.queue!, config.queuePassword);
    if (cluster && queueUrl) await cluster.probe(queueUrl);
    const queue = cluster && queueUrl ? { module: cluster, url: queueUrl } : undefined;
    // A long-running daemon sees few repeated inputs; sharp's cache would only hold memory.
    sharp.cache(false);
    const engine =
      !config.inference
        ? undefined
        : await InferenceEngine.create({
            ...(config.modelsDir ? { modelsDir: config.modelsDir } : {}),
            workers: config.inferenceWorkers,
            intraOpThreads: config.intraOpThreads,
            maxBatch: config.maxBatch,
            maxBatchDelayMs: config.maxBatchDelayMs,
            maxInputPixels: config.maxInputPixels,
            maxDetections: config.maxDetections,
            timeoutMs: config.inferenceTimeoutMs,
            preload: config.preload,
          });
    if (engine) {
      for (const [camera, model] of Object.entries(config.cameraModels)) {
        if (!engine.hasModel(model)) {
          await engine.close();
          throw new ConfigError(`"cameraModels": camera ${camera} is routed to "${model}", which is not in the model repository (${engine.modelNames().join(', ')})`);
        }
      }
    }
    // Only a daemon that serves the line protocol journals (a stdio child shares the tiles folder, not the work).
    let journal: SqliteJournal | undefined;
    let daemon: Daemon;
    try {
      if (config.journal && options.listen !== false) journal = new SqliteJournal(stateDirOf(config), log);
      daemon = new Daemon(config, maps, log, engine, options, journal, queue);
    } catch (err) {
      journal?.close();
      await engine?.close();
      throw err;
    }
    try {
      // A tirex map's backend must say it is alive (or fail start-up with why it cannot).
      await daemon.#renderers.ready();
    } catch (err) {
      await daemon.destroy();
      throw err;
    }
    if (daemon.#cluster) {
      try {
        await daemon.#cluster.ready();
      } catch (err) {
        await daemon.destroy();
        throw err;
      }
      log.info({ queue: queueUrl?.text, prefix: config.queuePrefix, workers: config.queueWorkers ?? config.concurrency }, 'render work goes on the shared queue');
    }
    const removed = await daemon.stores.cleanTemporaryFiles();
    if (removed > 0) log.warn({ removed }, 'removed temporary tile files left by an earlier crash');
    daemon.#resume();
    if (options.listen !== false) {
      try {
        await daemon.#listen();
      } catch (err) {
        await daemon.destroy();
        throw err;
      }
    }
    return daemon;
  }

  /** Delivers the notices and re-queues the tile requests an earlier run left in the journal. */
  #resume(): void {
    if (this.#journal === undefined) return;
    const { notices, tiles, skipped } = this.#journal.recover();
    if (notices.length + tiles.length + skipped.length === 0) return;
    this.log.info({ notices: notices.length, tiles: tiles.length, skipped: skipped.length }, 'journal: resuming the work an earlier run left');
    if (skipped.length > 0) this.log.warn({ skipped }, `journal: skipped ${skipped.length} records that do not parse`);
    this.#notices.restore(notices);
    for (const r of tiles) {
      const notifier = this.#notices.at(r.host, r.port);
      // The record keeps the notice name: `Z_X_Y`, or `NAME/Z/X/Y` of a map.
      const ref = parseTileSyntax(r.tile);
      try {
        if (ref === undefined) throw new BadTileError(`not a tile name: ${r.tile}`);
        this.lines.resume(this.tiles.resolve(ref), r.tile, r.cls, r.clientId, r.force, notifier, r.id);
      } catch (err) {
        // e.g. --max-zoom lowered since: tell its listener, as a new request would be told.
        this.log.warn({ tile: r.tile, err: (err as Error).message }, 'journal: a tile request from an earlier run is no longer valid');
        void notifier.enqueue(formatErrorNotice(r.tile, (err as Error).message), { overLimit: true, answers: r.id });
      }
    }
  }

  /** The bound request port (after start). */
  address(): net.AddressInfo {
    if (!this.#server) throw new Error('the daemon is not listening');
    return this.#server.address();
  }

  /** The bound gRPC port, when --grpc-port is set (after start). */
  grpcPort(): number | undefined {
    return this.#grpc?.port;
  }

  /** The bound multiprocessing port, when --mp-port is set (after start). */
  mpAddress(): net.AddressInfo | undefined {
    return this.#mp?.address();
  }

  /** The bound HTTP port, when --http-port is set (after start). */
  httpAddress(): net.AddressInfo | undefined {
    return this.#http?.address();
  }

  async #listen(): Promise<void> {
    const c = this.config;
    this.#server = new RequestServer({
      host: c.host,
      port: c.port,
      maxConnections: c.maxConnections,
      idleTimeoutMs: c.idleTimeoutMs,
      log: this.log,
      openSession: (socket, protocol, buffered, ended, log, peer) => {
        if (protocol === 'lines') {
          const session = new LineSession(socket, { peer, maxLineBytes: c.maxLineBytes, handle: this.lines.handle, log });
          session.start(buffered, ended);
          return session;
        }
        const session = this.openFramedSession(
          socket,
          socket,
          peer,
          (reason) => {
            if (reason === 'error') {
              socket.destroy();
              return;
            }
            socket.end();
            if (reason === 'fatal') {
              // A length over the limit: the peer may still be sending that frame. Read and drop
              // its bytes so its write completes and it sees our FIN after the TOO_LARGE answer
              // (closing with unread input would reset the connection and could lose the answer),
              // and reset the connection if it has not closed within FATAL_LINGER_MS.
              socket.resume();
              const linger = setTimeout(() => socket.destroy(), FATAL_LINGER_MS).unref();
              socket.once('close', () => clearTimeout(linger));
            }
          },
          log,
        );
        session.start(buffered, ended);
        return session;
      },
    });
    const addr = await this.#server.listen();
    this.log.info({ host: addr.address, port: addr.port, tilesDir: c.tilesDir, metatile: c.metatile, workers: c.concurrency }, 'mosaicd listening');
    if (c.httpPort !== undefined) {
      this.#http = new HttpServer({
        backend: daemonBackend({
          tiles: this.tiles,
          store: this.stores,
          scheduler: this.scheduler,
          stats: () => this.stats(),
          ready: () => this.ready(),
        }),
        metrics: this.metrics,
        host: c.host,
        port: c.httpPort,
        log: this.log,
        tileSize: c.tileSize,
        maxZoom: c.maxZoom,
        maps: this.maps.list().map((m) => ({ name: m.name, tileSize: m.tileSize, minZoom: m.minZoom, maxZoom: m.maxZoom })),
      });
      await this.#http.listen();
    }
    if (c.grpcPort !== undefined) {
      // Loaded only when asked for: importing the gRPC stack doubled the daemon's import time (stdio children start often).
      const { GrpcServer } = await import('./transport/grpc/grpc-server.js');
      this.#grpc = new GrpcServer({
        host: c.grpcHost ?? c.host,
        port: c.grpcPort,
        maxMessageBytes: c.grpcMaxMessageBytes,
        streamInFlight: c.grpcStreamInFlight,
        handle: this.#framedHandle,
        cameras: this.cameras,
        log: this.log,
        calls: { started: (m) => this.metrics.grpcCallStarted(m), finished: (m, code) => this.metrics.grpcCallFinished(m, code) },
      });
      await this.#grpc.listen();
    }
    if (c.mpPort !== undefined) {
      const { MpServer } = await import('./transport/mp-connection/index.js');
      this.#mp = new MpServer({
        host: c.host,
        port: c.mpPort,
        authkey: c.mpAuthkey === undefined ? undefined : Buffer.from(c.mpAuthkey, 'utf8'),
        maxConnections: c.maxConnections,
        idleTimeoutMs: c.idleTimeoutMs,
        maxMessageBytes: c.maxPayloadBytes,
        pickleLimits: c.pickleLimits,
        maxInputPixels: c.maxInputPixels,
        handle: this.#framedHandle,
        log: this.log.child({ wire: 'mp' }),
      });
      const mp = await this.#mp.listen();
      this.log.info({ host: mp.address, port: mp.port, authkey: c.mpAuthkey !== undefined }, 'multiprocessing clients listening');
    }
  }

  /** A framed session on any pair of streams (a socket, or stdin/stdout in stdio mode). */
  openFramedSession(
    input: NodeJS.ReadableStream & import('node:stream').Readable,
    output: import('node:stream').Writable,
    peer: string | undefined,
    onEnd: (reason: 'end' | 'shutdown' | 'fatal' | 'error') => void,
    log: Logger = this.log.child({ conn: 'stdio' }),
  ): FramedSession {
    return new FramedSession({
      input,
      output,
      peer,
      clientId: peer === undefined ? 'stdio' : `framed:${peer}`,
      maxJsonBytes: this.config.maxFrameJsonBytes,
      maxPayloadBytes: this.config.maxPayloadBytes,
      handle: this.#framedHandle,
      log,
      onClose: (reason) => {
        onEnd(reason);
        if (reason === 'shutdown') void this.stop();
      },
    });
  }

  stats(): DaemonStats {
    const tirex = tirexStatsByMap(this.#renderers.named());
    return {
      uptime_s: Math.round((Date.now() - this.#startedAt) / 1000),
      connections: this.#server?.connections ?? 0,
      tiles: this.tiles.stats(),
      render: this.#renderPool.stats(),
      notices: this.#notices.stats(),
      inference: this.#inference ? { ...this.#inference.lane.stats(), models: this.#inference.engine.stats() } : null,
      ...(this.#cluster ? { cluster: this.#cluster.clusterStats() } : {}),
      ...(tirex ? { tirex } : {}),
    };
  }

  /** Readiness: listening, and every preloaded model loaded. */
  ready(): boolean {
    return this.#stopping === undefined && (this.#inference?.engine.ready() ?? true);
  }

  /**
   * Graceful stop (the `stop` line, SIGTERM): take no new work, finish the
   * queue, deliver every notice, send `done` last, release everything.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#drainAndClose(false);
    return this.#stopping;
  }

  /** Immediate stop: queued work fails with SHUTTING_DOWN; running renders are awaited. */
  destroy(): Promise<void> {
    this.#giveUp.abort();
    if (this.#stopping) {
      void this.scheduler.destroy();
      this.#server?.destroyConnections();
      void this.#grpc?.destroy();
      this.#mp?.destroyConnections();
      return this.#stopping;
    }
    this.#stopping = this.#drainAndClose(true);
    return this.#stopping;
  }

  async #drainAndClose(force: boolean): Promise<void> {
    this.log.info({ force }, force ? 'stopping now' : 'stopping: finishing queued work');
    this.tiles.beginStop();
    const accepting = this.lines.settleAccepted();
    const serverClosed = this.#server?.stopAccepting();
    // gRPC streams stop reading and end once their frames are answered.
    const grpcClosed = force ? this.#grpc?.destroy() : this.#grpc?.close();
    const mpClosed = this.#mp?.stopAccepting();
    await accepting;
    if (force) await this.scheduler.destroy();
    else await this.scheduler.close();
    await this.#inference?.lane.close();
    // Let the completion callbacks of the last renders enqueue their notices.
    await new Promise((resolve) => setImmediate(resolve));
    // `done` belongs to the line protocol: a stdio daemon has no map client to tell.
    if (!force && this.#server) {
      this.lines.sendDone();
      this.log.info(this.#notices.stats(), 'waiting for every notice to be delivered (a second signal stops now)');
      const limit = this.config.stopNoticeTimeoutMs;
      // A plain timer, not AbortSignal.timeout(): on Node 20 a timeout signal inside
      // AbortSignal.any() can be collected before it fires.
      const timer = limit > 0 ? setTimeout(() => this.#giveUp.abort(), limit) : undefined;
      try {
        for (const n of this.#notices.all()) await n.flush(this.#giveUp.signal);
      } catch {
        this.log.warn({ ...this.#notices.stats(), stopNoticeTimeoutMs: limit }, 'stopped waiting for the completion listener; exiting with notices undelivered');
      } finally {
        clearTimeout(timer);
      }
    }
    this.#server?.destroyConnections();
    this.#mp?.destroyConnections();
    await this.#http?.close();
    await serverClosed;
    await grpcClosed;
    await mpClosed;
    const undelivered = await this.#notices.close();
    if (undelivered > 0) this.log.warn({ undelivered, journalled: this.#journal?.open ?? false }, 'notices not delivered');
    this.#journal?.close();
    await this.#renderers.close();
    await this.#inference?.engine.close();
    this.log.info('stopped');
    this.#resolveClosed();
  }
}
