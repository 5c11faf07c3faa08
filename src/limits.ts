/**
 * Every limit mosaicd enforces, in one place. Each has a flag or config key
 * (see src/config) and a line in docs/operations.md.
 */

/** Longest request line, newline excluded. Longer lines are answered with an error and skipped. */
export const MAX_LINE_BYTES = 4096;

/** Largest JSON metadata in a framed request (wire.md §5). */
export const MAX_FRAME_JSON_BYTES = 10 * 1024 * 1024;

/** Largest image payload in a framed request. */
export const MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;

/** Largest decoded image accepted for inference (width × height); stops decompression bombs. */
export const MAX_INPUT_PIXELS = 40_000_000;

/** Highest zoom rendered unless `--max-zoom` says otherwise. */
export const DEFAULT_MAX_ZOOM = 20;

/** Hard ceiling for `--max-zoom`: 2^z must stay an exact integer in tile maths. */
export const MAX_SUPPORTED_ZOOM = 30;

/** Notices kept for an absent completion listener before new tile requests are refused as busy. */
export const MAX_PENDING_NOTICES = 1_000_000;

/** Simultaneous client connections on the request port. */
export const MAX_CONNECTIONS = 1024;

/**
 * A connection that completes no request (line or frame) and is written no
 * reply for this long is closed, unless it is owed an answer, ms. Bytes of an
 * unfinished request do not count, so a line or frame must arrive whole
 * within this time (slow-loris guard; src/transport/request-server.ts).
 */
export const IDLE_TIMEOUT_MS = 120_000;

/** A single render job past this is failed and its worker replaced, ms. */
export const RENDER_TIMEOUT_MS = 60_000;

/** A single inference job past this is failed and its worker replaced, ms. */
export const INFERENCE_TIMEOUT_MS = 60_000;

/**
 * On a graceful stop, how long undelivered notices (and `done`) are still
 * retried for an absent listener before the daemon exits anyway, ms.
 * While the daemon runs, notices are never dropped; this bounds only the exit.
 */
export const STOP_NOTICE_TIMEOUT_MS = 60_000;

/** Maps one daemon serves (the default map included); each has its own renderer workers. */
export const MAX_MAPS = 16;

/**
 * Most boxes a detector returns for one image (best first), and so the most
 * crops a pipeline classifies per image; a model's `maxDetections` is capped
 * by it. 300 is Ultralytics' max_det default.
 */
export const MAX_DETECTIONS = 300;

/**
 * First delay before replacing a worker (render or inference) that died
 * again without completing a job in between, ms; it doubles with each such
 * death up to MAX_RESTART_BACKOFF_MS. The first death is replaced at once.
 */
export const RESTART_BACKOFF_MS = 250;

/** Longest delay before replacing a worker that keeps dying, ms (a broken install must not spin). */
export const MAX_RESTART_BACKOFF_MS = 30_000;

/** A render worker is replaced after this many metatiles (0 = never); bounds slow leaks in long-running renderers. */
export const RECYCLE_AFTER_JOBS = 0;

/** A render process reporting more resident memory than this after a job is replaced, MB (0 = never). Threads share the daemon's RSS, so this applies to `--isolation process`. */
export const RECYCLE_RSS_MB = 1024;

/** Largest gRPC message received or sent (above gRPC's 4 MiB default: camera frames can be bigger); a larger one ends its call with RESOURCE_EXHAUSTED. */
export const GRPC_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** Frames read on one gRPC Vision/Stream call and not yet answered before the call stops being read (HTTP/2 flow control holds the client). */
export const GRPC_STREAM_IN_FLIGHT = 32;

/** Cameras whose newest frame is kept for viewers (gRPC MainServer); one more forgets the camera that sent nothing for longest. */
export const MAX_CAMERAS = 64;

/** Deepest nesting of lists, tuples and dicts in a pickle from a multiprocessing client (`--mp-port`). */
export const MAX_PICKLE_DEPTH = 100;

/** Values one pickle may push or put into containers: bounds its work and its memory. */
export const MAX_PICKLE_ITEMS = 100_000;

/** Memo slots one pickle may fill. */
export const MAX_PICKLE_MEMO = 10_000;

/** Longest integer (LONG1/LONG4) in a pickle, bytes. */
export const MAX_PICKLE_INT_BYTES = 64;

/**
 * tirex backends (src/render/tirex/): a backend silent (no alive message, no
 * reply) this long is stopped (HUP, TERM, KILL) and replaced, ms. tirex's
 * backend manager waits 8 minutes; the backend is told 20 s less.
 */
export const TIREX_ALIVE_TIMEOUT_MS = 480_000;

/** Largest `.meta` file read from a tirex backend, bytes (64 PNGs of a busy 512 px metatile fit easily). */
export const MAX_TIREX_METATILE_BYTES = 64 * 1024 * 1024;

/** Largest reply datagram accepted from a tirex backend, bytes (tirex's master takes 512). */
export const MAX_TIREX_MESSAGE_BYTES = 4096;

/** Most backend processes one tirex map may start (`procs`). */
export const MAX_TIREX_PROCS = 32;

/**
 * Largest Mapnik buffer around a metatile (a map's `bufferSize`, or a
 * style's `buffer-size`), px: every render grows by twice this per side.
 * Without either, 128 px is used, as renderd does.
 */
export const MAX_BUFFER_PX = 1024;

/**
 * `--queue` (src/cluster/): a worker that stops renewing its job's lock (its
 * node was killed) loses the job to another node after about this long, ms
 * (BullMQ's lockDuration and stalledInterval).
 */
export const QUEUE_STALL_MS = 30_000;

/** `--queue`: at start-up, a Redis that does not answer within this long stops the daemon (one log line, exit 1), ms. */
export const QUEUE_CONNECT_TIMEOUT_MS = 3000;

/**
 * `--queue`: render jobs this node accepted and has not yet got onto the
 * shared queue (Redis away: they wait and are queued when it is back); one
 * more request for a new metatile is refused with `QUEUE_UNAVAILABLE`.
 */
export const MAX_QUEUE_PENDING_ADDS = 10_000;

/** `--queue`: how long the cluster-wide queue counts (per class) are reused before Redis is asked again, ms (`busy` may lag by this much). */
export const QUEUE_COUNTS_CACHE_MS = 500;

/**
 * A temporary tile file written by another machine sharing the tile folder
 * (`--queue`) is removed at start-up only once it is older than this, ms: its
 * writer's PID cannot be checked from here, and a tile write takes
 * milliseconds, so a file this old is a crashed node's leftover.
 */
export const FOREIGN_TEMP_MAX_AGE_MS = 600_000;

/**
 * Largest geometry cache file read (src/render/geometry-cache.ts), bytes; a
 * larger one is ignored with a warning and the level rebuilt. The biggest
 * level (9, from the 10m data) is ~7 MB.
 */
export const MAX_GEOMETRY_CACHE_FILE_BYTES = 64 * 1024 * 1024;
