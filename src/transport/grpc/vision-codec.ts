import { ErrorCode, ProtocolError, codeOf, messageOf } from '../../errors.js';
import { RESULT_FIELDS, type FrameResponseJson, type ResultItem } from '../../protocol/frame-encoder.js';
import type { ProcessRequest } from '../../protocol/framed-request.js';
import type { RequestId } from '../../protocol/request-id.js';
import type { FramedReply } from '../framed-session.js';

/**
 * mosaicd.v1.Vision messages (proto/mosaicd/v1/vision.proto) ↔ the typed
 * requests and replies of the framed service. No sockets and no state: the
 * gRPC handlers decode with frameToRequest(), hand the request to the same
 * handler the framed protocol uses, and encode its reply with replyToResult().
 *
 * Field names are the .proto's (the loader keeps their case).
 */

/** A `Frame` as @grpc/proto-loader delivers it (defaults filled in). */
export interface FrameMessage {
  camera_number: number;
  request_id: string;
  model: string;
  image: Buffer;
}

export interface PointMessage {
  x: number;
  y: number;
}

export interface DetectionMessage {
  result_index: number;
  class_name: string;
  score: number;
  camera_number: number;
  image: Uint8Array;
  image_format: string;
  image_width: number;
  image_height: number;
  image_mode: string;
  box: PointMessage[];
  extra_json: string;
}

export interface ErrorMessage {
  code: string;
  message: string;
}

export interface ResultMessage {
  request_id: string;
  success: boolean;
  results: DetectionMessage[];
  error: ErrorMessage | null;
  model: string;
  elapsed_ms: number;
  camera_number: number;
}

export type FrameDecodeResult =
  | { readonly ok: true; readonly request: ProcessRequest }
  | { readonly ok: false; readonly requestId: RequestId; readonly error: ProtocolError };

/** A Frame → a `process` request, exactly as a framed `process` would be typed. Never throws. */
export function frameToRequest(frame: FrameMessage): FrameDecodeResult {
  const requestId: RequestId = frame.request_id === '' ? null : frame.request_id;
  if (!Number.isSafeInteger(frame.camera_number) || frame.camera_number < 0) {
    return { ok: false, requestId, error: new ProtocolError(`camera_number must be a non-negative integer, got ${String(frame.camera_number)}`) };
  }
  if (!Buffer.isBuffer(frame.image) || frame.image.length === 0) {
    return { ok: false, requestId, error: new ProtocolError('process needs an image, got an empty image field') };
  }
  const request: ProcessRequest = { type: 'process', requestId, cameraNumber: frame.camera_number, payload: frame.image };
  return { ok: true, request: frame.model === '' ? request : { ...request, model: frame.model } };
}

/** The framed service's reply to a `process` request → a Result. */
export function replyToResult(reply: FramedReply, cameraNumber: number): ResultMessage {
  const json = reply.json as FrameResponseJson;
  const model = typeof json['model'] === 'string' ? json['model'] : '';
  const elapsed = typeof json['elapsed_ms'] === 'number' ? json['elapsed_ms'] : 0;
  return {
    request_id: requestIdText(json.request_id),
    success: json.success,
    results: json.results.map((r) => detection(r, reply.images[r.image_index])),
    error: json.error === null ? null : { code: String(json.error.code), message: json.error.message },
    model,
    elapsed_ms: elapsed,
    camera_number: cameraNumber,
  };
}

/** A failed frame as a Result: the stream stays open. */
export function errorResult(requestId: RequestId, err: unknown, cameraNumber = 0): ResultMessage {
  // As on the framed wire (framed-session.ts): a bad tile is a bad field.
  const code = codeOf(err) === ErrorCode.BAD_TILE ? ErrorCode.PROTOCOL_ERROR : codeOf(err);
  return {
    request_id: requestIdText(requestId),
    success: false,
    results: [],
    error: { code, message: messageOf(err) },
    model: '',
    elapsed_ms: 0,
    camera_number: cameraNumber,
  };
}

function requestIdText(id: RequestId): string {
  return id === null ? '' : String(id);
}

const WIRE_FIELDS = new Set<string>([...RESULT_FIELDS, 'box', 'image_length']);

function detection(r: ResultItem, image: Uint8Array | undefined): DetectionMessage {
  const extra: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(r)) if (!WIRE_FIELDS.has(key)) extra[key] = value;
  return {
    result_index: r.result_index,
    class_name: r.class_name,
    score: r.score,
    camera_number: r.camera_number ?? 0,
    image: image ?? new Uint8Array(0),
    image_format: r.image_format,
    image_width: r.image_width,
    image_height: r.image_height,
    image_mode: r.image_mode,
    box: pointsOf(r['box']),
    extra_json: Object.keys(extra).length === 0 ? '' : JSON.stringify(extra),
  };
}

/** `[[x, y], ...]` → points; anything else → none. */
export function pointsOf(box: unknown): PointMessage[] {
  if (!Array.isArray(box)) return [];
  const points: PointMessage[] = [];
  for (const p of box) {
    if (!Array.isArray(p) || typeof p[0] !== 'number' || typeof p[1] !== 'number') return [];
    points.push({ x: p[0], y: p[1] });
  }
  return points;
}
