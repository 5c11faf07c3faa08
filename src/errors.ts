/**
 * Every error mosaicd reports carries a stable `code`. The wire protocols,
 * callers and tests branch on the code, never on the message text.
 * docs/errors.md lists them; test/errors.test.ts keeps the two in sync.
 */
export const ErrorCode = {
  /** Bad envelope, bad JSON, bad field, unknown command, undecodable image. */
  PROTOCOL_ERROR: 'PROTOCOL_ERROR',
  /** The model or renderer failed on a well-formed request. */
  PROCESSING_ERROR: 'PROCESSING_ERROR',
  /** A queue is at its limit; try again later. */
  BUSY: 'BUSY',
  /** A frame, line, payload or image is over its limit. */
  TOO_LARGE: 'TOO_LARGE',
  /** An admin command from a peer that may not send it. */
  UNAUTHORIZED: 'UNAUTHORIZED',
  /** A tile coordinate outside the pyramid or above the max zoom. */
  BAD_TILE: 'BAD_TILE',
  /** The job was cancelled (client went away, `cancel`, shutdown). */
  CANCELLED: 'CANCELLED',
  /** The job ran past its deadline. */
  TIMEOUT: 'TIMEOUT',
  /** The daemon is stopping and takes no new work. */
  SHUTTING_DOWN: 'SHUTTING_DOWN',
  /** A configuration file, flag or model config is invalid. */
  CONFIG_ERROR: 'CONFIG_ERROR',
  /** A request names a map the daemon does not serve. */
  UNKNOWN_MAP: 'UNKNOWN_MAP',
  /** The journal (--state-dir) cannot be written (disk full, unwritable folder): the request was not accepted. */
  STORAGE_ERROR: 'STORAGE_ERROR',
  /** A configured renderer's optional module (e.g. @mapnik/mapnik) is not installed or does not load. */
  RENDERER_UNAVAILABLE: 'RENDERER_UNAVAILABLE',
  /** `--queue`: Redis cannot be reached (at start-up), or a request could not be put on the shared queue while it was away. */
  QUEUE_UNAVAILABLE: 'QUEUE_UNAVAILABLE',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class MosaicError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'MosaicError';
  }
}

export class ProtocolError extends MosaicError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.PROTOCOL_ERROR, message, options);
    this.name = 'ProtocolError';
  }
}

export class ProcessingError extends MosaicError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.PROCESSING_ERROR, message, options);
    this.name = 'ProcessingError';
  }
}

export class BusyError extends MosaicError {
  constructor(message: string) {
    super(ErrorCode.BUSY, message);
    this.name = 'BusyError';
  }
}

export class TooLargeError extends MosaicError {
  constructor(message: string) {
    super(ErrorCode.TOO_LARGE, message);
    this.name = 'TooLargeError';
  }
}

export class UnauthorizedError extends MosaicError {
  constructor(message: string) {
    super(ErrorCode.UNAUTHORIZED, message);
    this.name = 'UnauthorizedError';
  }
}

export class BadTileError extends MosaicError {
  constructor(message: string) {
    super(ErrorCode.BAD_TILE, message);
    this.name = 'BadTileError';
  }
}

export class CancelledError extends MosaicError {
  constructor(message = 'the job was cancelled') {
    super(ErrorCode.CANCELLED, message);
    this.name = 'CancelledError';
  }
}

export class TimeoutError extends MosaicError {
  constructor(message: string) {
    super(ErrorCode.TIMEOUT, message);
    this.name = 'TimeoutError';
  }
}

export class ShuttingDownError extends MosaicError {
  constructor(message = 'the daemon is stopping and takes no new work') {
    super(ErrorCode.SHUTTING_DOWN, message);
    this.name = 'ShuttingDownError';
  }
}

export class ConfigError extends MosaicError {
  constructor(message: string) {
    super(ErrorCode.CONFIG_ERROR, message);
    this.name = 'ConfigError';
  }
}

export class StorageError extends MosaicError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.STORAGE_ERROR, message, options);
    this.name = 'StorageError';
  }
}

export class RendererUnavailableError extends MosaicError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.RENDERER_UNAVAILABLE, message, options);
    this.name = 'RendererUnavailableError';
  }
}

/** The code to put on the wire for any thrown value. */
export function codeOf(err: unknown): ErrorCode {
  return err instanceof MosaicError ? err.code : ErrorCode.PROCESSING_ERROR;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class UnknownMapError extends MosaicError {
  constructor(message: string) {
    super(ErrorCode.UNKNOWN_MAP, message);
    this.name = 'UnknownMapError';
  }
}

/** `--queue`: the shared queue on Redis cannot be reached. */
export class QueueUnavailableError extends MosaicError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.QUEUE_UNAVAILABLE, message, options);
    this.name = 'QueueUnavailableError';
  }
}
