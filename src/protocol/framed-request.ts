import { ProtocolError } from '../errors.js';
import { RawJsonNumber, rawTopLevelValue, type RequestId } from './request-id.js';
import type { Viewport } from '../tile/viewport.js';
import { parseTileSyntax, TILE_SYNTAX_HINT, type TileName } from './tile-syntax.js';
import { parseViewportJson } from './viewport-syntax.js';
import { describeJson as describe } from './json-value.js';

/**
 * JSON metadata + payload of one frame -> a typed request (wire.md §5).
 *
 * Never throws: the result is `{ ok: true, request }` or
 * `{ ok: false, requestId, error }`, where `requestId` is the frame's
 * request_id whenever the JSON got far enough to have one, so the error
 * answer can echo it.
 *
 * Request JSON fields (snake_case on the wire, camelCase in the types):
 *
 * | command            | fields                                                                 |
 * |--------------------|------------------------------------------------------------------------|
 * | every command      | `command` (string, default `"process"`), `request_id` (number, string, |
 * |                    | null or absent), `client_id` (string, optional)                        |
 * | `process`          | `camera_number` (required, integer >= 0; a boolean is refused),        |
 * |                    | `model` (non-empty string, optional); payload must be non-empty        |
 * | `render`           | `tile` (`"Z_X_Y"` or `"Z/X/Y"`); payload ignored                       |
 * | `shutdown`         | `token` (string, optional); payload ignored                            |
 * | `ping`, `stats`    | none                                                                   |
 * | `viewport`         | `z`, `min_x`, `min_y`, `max_x`, `max_y`, or                            |
 * |                    | `viewport: [z, min_x, min_y, max_x, max_y]` (viewport-syntax.ts rules) |
 * | `cancel`           | `tile` (`"Z_X_Y"` or `"Z/X/Y"`)                                        |
 *
 * An optional field sent as JSON `null` counts as absent (C# serialisers
 * write unset properties as null). Unknown fields are ignored. Tile and
 * viewport numbers are checked for syntax only; the daemon checks bounds.
 * Command names match in any ASCII case (`PROCESS`, `Render`).
 */

interface RequestBase {
  /** Echo this in the answer. */
  readonly requestId: RequestId;
  /** Groups a client's viewport and queued tiles across connections. */
  readonly clientId?: string;
}

export interface ProcessRequest extends RequestBase {
  readonly type: 'process';
  readonly cameraNumber: number;
  /** Model named by the client; absent means the camera's model. */
  readonly model?: string;
  /** The encoded image (non-empty). */
  readonly payload: Buffer;
}
export interface RenderRequest extends RequestBase {
  readonly type: 'render';
  readonly tile: TileName;
}
export interface ShutdownRequest extends RequestBase {
  readonly type: 'shutdown';
  readonly token?: string;
}
export interface PingRequest extends RequestBase {
  readonly type: 'ping';
}
export interface StatsRequest extends RequestBase {
  readonly type: 'stats';
}
export interface ViewportRequest extends RequestBase, Viewport {
  readonly type: 'viewport';
}
export interface CancelRequest extends RequestBase {
  readonly type: 'cancel';
  readonly tile: TileName;
}

export type FramedRequest =
  | ProcessRequest
  | RenderRequest
  | ShutdownRequest
  | PingRequest
  | StatsRequest
  | ViewportRequest
  | CancelRequest;

export type FramedCommand = FramedRequest['type'];

export type FramedRequestResult =
  | { readonly ok: true; readonly request: FramedRequest }
  | { readonly ok: false; readonly requestId: RequestId; readonly error: ProtocolError };

export const FRAMED_COMMANDS: readonly FramedCommand[] = Object.freeze([
  'process',
  'render',
  'shutdown',
  'ping',
  'stats',
  'viewport',
  'cancel',
]);

const utf8 = new TextDecoder('utf-8', { fatal: true });

type JsonObject = Record<string, unknown>;

/** Thrown inside this module only; parseFramedRequest turns it into a result. */
class FieldError extends Error {}

export function parseFramedRequest(json: Buffer, payload: Buffer): FramedRequestResult {
  const parsed = parseRoot(json);
  if (parsed instanceof ProtocolError) return { ok: false, requestId: null, error: parsed };
  const { root, text } = parsed;

  let requestId: RequestId = null;
  try {
    requestId = readRequestId(root, text);
    return { ok: true, request: readRequest(root, requestId, payload) };
  } catch (err) {
    if (!(err instanceof FieldError)) throw err;
    return { ok: false, requestId, error: new ProtocolError(err.message) };
  }
}

/** The request_id of a frame's JSON, or null when there is none usable. For error answers. */
export function requestIdOf(json: Buffer): RequestId {
  const parsed = parseRoot(json);
  if (parsed instanceof ProtocolError) return null;
  try {
    return readRequestId(parsed.root, parsed.text);
  } catch {
    return null;
  }
}

function parseRoot(json: Buffer): { root: JsonObject; text: string } | ProtocolError {
  let text: string;
  try {
    text = utf8.decode(json);
  } catch {
    return new ProtocolError(`frame JSON is not valid UTF-8 (${json.length} bytes)`);
  }
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (err) {
    return new ProtocolError(`frame JSON does not parse: ${(err as Error).message}`);
  }
  if (typeof root !== 'object' || root === null || Array.isArray(root)) {
    return new ProtocolError(`frame JSON root must be an object, got ${describe(root)}`);
  }
  return { root: root as JsonObject, text };
}

function readRequestId(root: JsonObject, text: string): RequestId {
  const id = root['request_id'];
  if (id === undefined || id === null) return null;
  if (typeof id === 'string') return id;
  if (typeof id === 'number') {
    if (Number.isSafeInteger(id)) return id;
    // Precision may have been lost (e.g. a 64-bit id); keep the text if it differs.
    const raw = rawRequestId(text);
    return raw !== undefined && raw !== JSON.stringify(id) ? new RawJsonNumber(raw) : id;
  }
  throw new FieldError(`request_id must be a number, a string or absent, got ${describe(id)}`);
}

/** The JSON text of request_id; undefined if the scan fails (it cannot on JSON that parsed, but never throw here). */
function rawRequestId(text: string): string | undefined {
  try {
    return rawTopLevelValue(text, 'request_id');
  } catch {
    return undefined;
  }
}

function readRequest(root: JsonObject, requestId: RequestId, payload: Buffer): FramedRequest {
  const command = root['command'] ?? 'process';
  if (typeof command !== 'string') {
    throw new FieldError(`command must be a string, got ${describe(command)}`);
  }
  const clientId = optionalString(root, 'client_id');
  const base: RequestBase = clientId === undefined ? { requestId } : { requestId, clientId };

  // The seed's Python server lower-cased commands, so its clients may send "PROCESS" or "Render".
  const name = asciiLowerCase(command);
  switch (name as FramedCommand) {
    case 'process': {
      const cameraNumber = root['camera_number'];
      if (cameraNumber === undefined || cameraNumber === null) {
        throw new FieldError('camera_number is required for process (a non-negative integer)');
      }
      if (!isNonNegativeInteger(cameraNumber)) {
        throw new FieldError(`camera_number must be a non-negative integer, got ${describe(cameraNumber)}`);
      }
      const model = optionalString(root, 'model');
      if (model === '') throw new FieldError('model must be a non-empty string, got ""');
      if (payload.length === 0) {
        throw new FieldError('process needs an image payload, got a payload length of 0');
      }
      const request = { ...base, type: 'process', cameraNumber, payload } as const;
      return model === undefined ? request : { ...request, model };
    }
    case 'render':
      return { ...base, type: 'render', tile: requiredTile(root, 'render') };
    case 'cancel':
      return { ...base, type: 'cancel', tile: requiredTile(root, 'cancel') };
    case 'shutdown': {
      const token = optionalString(root, 'token');
      return token === undefined ? { ...base, type: 'shutdown' } : { ...base, type: 'shutdown', token };
    }
    case 'ping':
    case 'stats':
      return { ...base, type: name as 'ping' | 'stats' };
    case 'viewport':
      return { ...base, type: 'viewport', ...readViewport(root) };
    default:
      throw new FieldError(`unknown command ${describe(command)} (expected one of ${FRAMED_COMMANDS.join(', ')})`);
  }
}

function readViewport(root: JsonObject): Viewport {
  const parsed = parseViewportJson(root);
  if (!parsed.ok) throw new FieldError(parsed.reason);
  return parsed.viewport;
}

function requiredTile(root: JsonObject, command: string): TileName {
  const tile = root['tile'];
  if (typeof tile !== 'string') {
    throw new FieldError(`tile is required for ${command} (a string "Z_X_Y"), got ${describe(tile)}`);
  }
  const parsed = parseTileSyntax(tile);
  if (parsed === undefined) throw new FieldError(`tile ${describe(tile)} is not a tile name (${TILE_SYNTAX_HINT})`);
  return parsed;
}

/** ASCII only: no Unicode folding can turn a foreign string into a command name. */
function asciiLowerCase(s: string): string {
  return s.replace(/[A-Z]+/g, (upper) => upper.toLowerCase());
}

function optionalString(root: JsonObject, field: string): string | undefined {
  const v = root[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new FieldError(`${field} must be a string, got ${describe(v)}`);
  return v;
}

function isNonNegativeInteger(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
