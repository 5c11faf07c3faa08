import { randomUUID } from 'node:crypto';
import { codeOf, messageOf, type ErrorCode } from '../errors.js';
import { RawJsonNumber, type RequestId } from './request-id.js';

/**
 * Replies -> bytes for the framed protocol (wire.md §5), and the request
 * encoder our TypeScript client and the tests use.
 *
 * Response:  u64 LE JSON length | JSON | u64 LE image count K | K × (u64 LE length | image)
 * Request:   u64 LE JSON length | JSON | u64 LE payload length | payload
 *
 * Encoders return chunks for `socket.cork()` + writes (or writev): the
 * small headers are packed with the JSON, images and payloads are passed
 * through without copying.
 */

/** One result of a response, with the field names of wire.md §5 (more fields may follow). */
export interface ResultItem {
  result_index: number;
  class_name: string;
  score: number;
  /** null where no camera is involved (a rendered tile). */
  camera_number: number | null;
  image_index: number;
  image_format: string;
  image_length: number;
  image_width: number;
  image_height: number;
  image_mode: string;
  /** Extension fields (a bounding box, recognised text, timings ...), written after the fields above. */
  [extra: string]: unknown;
}

export interface ErrorBody {
  code: ErrorCode | string;
  message: string;
}

export interface FrameResponseJson {
  success: boolean;
  request_id: RequestId;
  result_count: number;
  results: ResultItem[];
  /** Extension fields such as `shutdown: true` sit between `results` and `error`. */
  [extra: string]: unknown;
  error: ErrorBody | null;
}

/** The §5 result fields, in wire order. */
export const RESULT_FIELDS = [
  'result_index',
  'class_name',
  'score',
  'camera_number',
  'image_index',
  'image_format',
  'image_length',
  'image_width',
  'image_height',
  'image_mode',
] as const;

const RESPONSE_FIELDS = new Set(['success', 'request_id', 'result_count', 'results', 'error']);

/**
 * `{success: true, request_id, result_count, results, ...extra, error: null}`.
 * Each result is rewritten with the §5 fields first, in §5 order.
 */
export function successResponse(
  requestId: RequestId,
  results: readonly ResultItem[],
  extra: Readonly<Record<string, unknown>> = {},
): FrameResponseJson {
  const response: FrameResponseJson = {
    success: true,
    request_id: requestId,
    result_count: results.length,
    results: results.map(orderResult),
    error: null,
  };
  return withExtra(response, extra);
}

/** `{success: false, request_id, result_count: 0, results: [], error: {code, message}}`; send it with no images. */
export function errorResponse(requestId: RequestId, code: ErrorCode | string, message: string): FrameResponseJson {
  return { success: false, request_id: requestId, result_count: 0, results: [], error: { code, message } };
}

/** errorResponse for any thrown value: a MosaicError keeps its code, anything else is PROCESSING_ERROR. */
export function errorResponseOf(requestId: RequestId, err: unknown): FrameResponseJson {
  return errorResponse(requestId, codeOf(err), messageOf(err));
}

/** The answer to `shutdown`: a success with no results and `shutdown: true`. */
export function shutdownResponse(requestId: RequestId): FrameResponseJson {
  return successResponse(requestId, [], { shutdown: true });
}

/** `len(JSON) · JSON · trailer`, all u64 LE, in one buffer: the head shared by requests and responses. */
function jsonHead(json: object, trailer: number): Buffer {
  const body = stringifyWire(json);
  const jsonLength = Buffer.byteLength(body);
  const head = Buffer.allocUnsafe(8 + jsonLength + 8);
  head.writeBigUInt64LE(BigInt(jsonLength), 0);
  head.write(body, 8, 'utf8');
  head.writeBigUInt64LE(BigInt(trailer), 8 + jsonLength);
  return head;
}

export function encodeFrameResponse(json: object, images: readonly Uint8Array[] = []): Buffer[] {
  const chunks: Buffer[] = [jsonHead(json, images.length)];
  for (const image of images) {
    chunks.push(u64(image.byteLength), asBuffer(image));
  }
  return chunks;
}

export function encodeFrameRequest(json: object, payload: Uint8Array = new Uint8Array(0)): Buffer[] {
  const head = jsonHead(json, payload.byteLength);
  return payload.byteLength === 0 ? [head] : [head, asBuffer(payload)];
}

/**
 * JSON.stringify, except a RawJsonNumber is written as its number text
 * (a 64-bit request_id goes back digit for digit). The placeholder carries a
 * per-process random id, so no client-supplied string can imitate it.
 */
export function stringifyWire(value: unknown): string {
  let raws: string[] | undefined;
  const text = JSON.stringify(value, function (this: Record<string, unknown>, key, v: unknown) {
    const original = this[key];
    if (original instanceof RawJsonNumber) {
      (raws ??= []).push(original.text);
      return `${RAW_MARK}${raws.length - 1}`;
    }
    return v;
  });
  if (text === undefined) throw new TypeError('frame JSON must be a JSON value');
  if (raws === undefined) return text;
  const found = raws;
  return text.replace(RAW_PLACEHOLDER, (_, i: string) => found[Number(i)]!);
}

const RAW_MARK = `raw-json-${randomUUID()}-`;
const RAW_PLACEHOLDER = new RegExp(`"${RAW_MARK}(\\d+)"`, 'g');

function orderResult(result: ResultItem): ResultItem {
  const ordered: Record<string, unknown> = {};
  for (const field of RESULT_FIELDS) ordered[field] = result[field];
  for (const [key, value] of Object.entries(result)) {
    if (!(key in ordered)) ordered[key] = value;
  }
  return ordered as ResultItem;
}

function withExtra(response: FrameResponseJson, extra: Readonly<Record<string, unknown>>): FrameResponseJson {
  const keys = Object.keys(extra);
  if (keys.length === 0) return response;
  const clash = keys.find((k) => RESPONSE_FIELDS.has(k));
  if (clash !== undefined) throw new TypeError(`extra response field ${JSON.stringify(clash)} would replace a §5 field`);
  const { error, ...head } = response;
  return { ...head, ...extra, error } as FrameResponseJson;
}

function u64(n: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64LE(BigInt(n), 0);
  return b;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
