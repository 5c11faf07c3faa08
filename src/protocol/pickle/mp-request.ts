import { MosaicError, ProtocolError, codeOf, messageOf } from '../../errors.js';
import { pickle, pickleProtocolOf } from './pickler.js';
import { unpickle, type PickleLimits } from './unpickler.js';
import { NdArray, PyFloat, pyTypeOf, type PickleKey, type PickleValue, type WritableValue } from './values.js';

/**
 * One multiprocessing.connection message (docs/protocol.md, "Python
 * multiprocessing clients") -> typed frames, and their outcomes -> the reply
 * message. The seeds' clients send `{'frame_num': n, 'image': ..., ...}` or
 * a list of them, pickled once (`conn.send(obj)`) or twice
 * (`conn.send(pickle.dumps(obj))`); the reply has the same nesting.
 */

/** One image to run: frame_num echoed, camera route or model, the numpy array or encoded bytes. */
export interface MpFrame {
  readonly frameNum: PickleKey;
  readonly cameraNumber: number;
  readonly model?: string;
  readonly image: NdArray | Uint8Array;
}

/** How the reply must be wrapped to match the request. */
export interface MpShape {
  /** The message was a pickle of the bytes of another pickle. */
  readonly doublePickled: boolean;
  /** The request was a list of frames (the reply is a list too). */
  readonly list: boolean;
  /** Reply protocol: 2 for protocol 0-2 requests, else 4. */
  readonly protocol: 2 | 4;
}

export type MpFrameOrError =
  | { readonly ok: true; readonly frame: MpFrame }
  | { readonly ok: false; readonly frameNum: PickleKey; readonly error: MosaicError };

export type MpMessage =
  | { readonly ok: true; readonly shape: MpShape; readonly frames: readonly MpFrameOrError[] }
  | { readonly ok: false; readonly shape: MpShape; readonly error: MosaicError };

/** One result as the reply carries it. */
export interface MpResult {
  readonly className: string;
  readonly score: number;
  /** [x, y, w, h] in input pixels. */
  readonly box: readonly [number, number, number, number];
  /** Extra fields of the model (text, polygon, text_angle, ...). */
  readonly extra: Readonly<Record<string, unknown>>;
}

export type MpFrameOutcome =
  | { readonly frameNum: PickleKey; readonly cameraNumber: number | null; readonly model: string | null; readonly results: readonly MpResult[] }
  | { readonly frameNum: PickleKey; readonly cameraNumber: number | null; readonly error: { readonly code: string; readonly message: string } };

export function parseMpMessage(bytes: Uint8Array, limits: PickleLimits): MpMessage {
  let shape: MpShape = { doublePickled: false, list: false, protocol: replyProtocol(bytes) };
  try {
    let value = unpickle(bytes, limits);
    if (value instanceof Uint8Array) {
      shape = { ...shape, doublePickled: true, protocol: replyProtocol(value) };
      value = unpickle(value, limits);
    }
    if (Array.isArray(value)) {
      shape = { ...shape, list: true };
      return { ok: true, shape, frames: value.map((v, i) => readFrame(v, `frame ${i}`)) };
    }
    return { ok: true, shape, frames: [readFrame(value, 'the request')] };
  } catch (err) {
    if (err instanceof MosaicError) return { ok: false, shape, error: err };
    throw err;
  }
}

function replyProtocol(bytes: Uint8Array): 2 | 4 {
  return pickleProtocolOf(bytes) <= 2 ? 2 : 4;
}

function readFrame(v: PickleValue, where: string): MpFrameOrError {
  if (!(v instanceof Map)) {
    return { ok: false, frameNum: null, error: new ProtocolError(`${where} must be a dict {'frame_num': n, 'image': ...} (or a list of them), got ${pyTypeOf(v)}`) };
  }
  const frameNum = echoable(v.get('frame_num'));
  try {
    const image = v.get('image');
    if (image === undefined) throw new ProtocolError(`${where} has no 'image' key`);
    if (!(image instanceof NdArray) && !(image instanceof Uint8Array)) {
      throw new ProtocolError(`${where}: 'image' must be a numpy uint8 array or bytes, got ${pyTypeOf(image)}`);
    }
    const camera = v.get('camera_number') ?? 0;
    if (typeof camera !== 'number' || !Number.isSafeInteger(camera) || camera < 0) {
      throw new ProtocolError(`${where}: 'camera_number' must be a non-negative int, got ${pyTypeOf(camera)}`);
    }
    const model = v.get('model') ?? undefined;
    if (model !== undefined && (typeof model !== 'string' || model === '')) {
      throw new ProtocolError(`${where}: 'model' must be a non-empty str, got ${pyTypeOf(model)}`);
    }
    const frame: MpFrame = model === undefined ? { frameNum, cameraNumber: camera, image } : { frameNum, cameraNumber: camera, model, image };
    return { ok: true, frame };
  } catch (err) {
    if (err instanceof MosaicError) return { ok: false, frameNum, error: err };
    throw err;
  }
}

/** frame_num is echoed as given when it is a plain key (int, str, ...); anything else as None. */
function echoable(v: PickleValue | undefined): PickleKey {
  return v === undefined || !(v === null || ['string', 'number', 'bigint', 'boolean'].includes(typeof v)) ? null : (v as PickleKey);
}

/** The outcome for a frame that failed (decode, model, queue ...): the wire.md §5 code and message. */
export function frameError(frameNum: PickleKey, cameraNumber: number | null, err: unknown): MpFrameOutcome {
  return { frameNum, cameraNumber, error: { code: codeOf(err), message: messageOf(err) } };
}

/** The reply to a message that could not be read at all: one error dict, in the request's nesting as far as it was known. */
export function encodeMpError(shape: MpShape, err: unknown): Buffer {
  const outcome = frameError(null, null, err);
  return encodeMpReply({ ...shape, list: false }, [outcome]);
}

export function encodeMpReply(shape: MpShape, outcomes: readonly MpFrameOutcome[]): Buffer {
  const dicts = outcomes.map(outcomeDict);
  const value: WritableValue = shape.list ? dicts : (dicts[0] ?? null);
  const once = pickle(value, shape.protocol);
  return shape.doublePickled ? pickle(once, shape.protocol) : once;
}

function outcomeDict(o: MpFrameOutcome): Map<PickleKey, WritableValue> {
  const d = new Map<PickleKey, WritableValue>([
    ['frame_num', o.frameNum],
    ['camera_number', o.cameraNumber],
  ]);
  if ('error' in o) {
    d.set('results', []);
    d.set('error', new Map<PickleKey, WritableValue>([['code', o.error.code], ['message', o.error.message]]));
    return d;
  }
  d.set('model', o.model);
  d.set('results', o.results.map(resultDict));
  d.set('error', null);
  return d;
}

function resultDict(r: MpResult): Map<PickleKey, WritableValue> {
  const d = new Map<PickleKey, WritableValue>([
    ['class_name', r.className],
    ['score', new PyFloat(r.score)],
    ['box', r.box.map((n) => plain(n))],
  ]);
  for (const [k, v] of Object.entries(r.extra)) if (!d.has(k)) d.set(k, plain(v));
  return d;
}

/** JSON-like extra fields -> writable values (floats stay floats). */
function plain(v: unknown, depth = 0): WritableValue {
  if (depth > 16) return null;
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return Number.isInteger(v) ? v : new PyFloat(v);
  if (typeof v === 'string' || typeof v === 'boolean' || typeof v === 'bigint') return v;
  if (Array.isArray(v)) return v.map((x) => plain(x, depth + 1));
  if (typeof v === 'object') return new Map(Object.entries(v).map(([k, x]) => [k, plain(x, depth + 1)] as [PickleKey, WritableValue]));
  return String(v);
}

/**
 * The framed service's success JSON (wire.md §5) -> results for the reply.
 * A result without a box gets the whole image, [0, 0, width, height]; an
 * OCR quad (four [x, y] corners) becomes its bounding box, the quad kept as
 * `polygon`.
 */
export function resultsOfFramedJson(json: unknown, width: number, height: number): { model: string | null; results: MpResult[] } {
  const root = json as { results?: unknown; model?: unknown };
  const items = Array.isArray(root.results) ? (root.results as Array<Record<string, unknown>>) : [];
  const results = items.map((item): MpResult => {
    const { class_name, score, box, result_index: _i, camera_number: _c, image_index: _ii, image_format: _f, image_length: _l, image_width: _w, image_height: _h, image_mode: _m, ...extra } = item;
    const quad = isQuad(box) ? box : undefined;
    const rect = isRect(box) ? box : undefined;
    return {
      className: typeof class_name === 'string' ? class_name : String(class_name),
      score: typeof score === 'number' ? score : 0,
      box: quad ? boundsOf(quad) : rect ?? [0, 0, width, height],
      extra: quad ? { ...extra, polygon: quad } : extra,
    };
  });
  return { model: typeof root.model === 'string' ? root.model : null, results };
}

function isQuad(v: unknown): v is Array<[number, number]> {
  return Array.isArray(v) && v.length >= 3 && v.every((p) => Array.isArray(p) && p.length === 2 && p.every((n) => typeof n === 'number'));
}

function isRect(v: unknown): v is [number, number, number, number] {
  return Array.isArray(v) && v.length === 4 && v.every((n) => typeof n === 'number');
}

function boundsOf(quad: Array<[number, number]>): [number, number, number, number] {
  const xs = quad.map((p) => p[0]);
  const ys = quad.map((p) => p[1]);
  const x = Math.min(...xs);
  const y = Math.min(...ys);
  return [x, y, Math.max(...xs) - x, Math.max(...ys) - y];
}
