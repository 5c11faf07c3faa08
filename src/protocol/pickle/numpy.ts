import { ProtocolError } from '../../errors.js';
import { NdArray, PyTuple, pyTypeOf } from './values.js';

/**
 * The only globals a pickle may name, each backed by a TypeScript function
 * of ours: what numpy's `ndarray.__reduce_ex__` emits for a uint8 array
 * (numpy 1.x spells the modules `numpy.core`, 2.x `numpy._core`), and the
 * `_codecs.encode`, `bytes()` and `bytearray(...)` that protocols 2-4 use
 * for raw bytes. Nothing is looked up by
 * name anywhere else.
 */
export class GlobalRef {
  constructor(
    readonly name: string,
    /** Absent: the global may only be passed as an argument (numpy.ndarray). */
    readonly call?: (args: readonly unknown[]) => NdArray | ArrayBuilder | Dtype | Uint8Array,
  ) {}
}

/** numpy.dtype('u1', False, True), later given its state by BUILD. */
export class Dtype {
  #built = false;

  constructor(readonly str: 'u1') {}

  build(state: unknown): void {
    if (this.#built) throw new ProtocolError('BUILD on a numpy dtype twice');
    if (!(state instanceof PyTuple)) throw new ProtocolError(`numpy dtype state must be a tuple, got ${pyTypeOf(state)}`);
    // (version, byteorder, subdtype, names, fields, elsize, alignment, flags): '|' or '<'/'>'/'=' for one byte.
    const order = state.items[1];
    if (order !== undefined && order !== '|' && order !== '<' && order !== '>' && order !== '=') {
      throw new ProtocolError(`numpy dtype byte order ${JSON.stringify(order)} is not one of | < > =`);
    }
    this.#built = true;
  }
}

/** numpy.core.multiarray._reconstruct(ndarray, (0,), b'b'): an empty array that BUILD fills. */
export class ArrayBuilder {
  #array: NdArray | undefined;

  get array(): NdArray | undefined {
    return this.#array;
  }

  build(state: unknown): void {
    if (this.#array) throw new ProtocolError('BUILD on a numpy array twice');
    if (!(state instanceof PyTuple)) throw new ProtocolError(`numpy array state must be a tuple, got ${pyTypeOf(state)}`);
    // (version, shape, dtype, is_fortran, data); numpy before 1.x-era pickles omit the version.
    let items = state.items as readonly unknown[];
    if (items.length === 5) {
      if (items[0] !== 1) throw new ProtocolError(`numpy array state version ${String(items[0])} is not 1`);
      items = items.slice(1);
    }
    if (items.length !== 4) throw new ProtocolError(`numpy array state must have 4 or 5 items, got ${state.items.length}`);
    const [shape, dtype, fortran, data] = items;
    checkDtype(dtype);
    if (typeof fortran !== 'boolean' && fortran !== 0 && fortran !== 1) throw new ProtocolError(`numpy is_fortran must be a bool, got ${pyTypeOf(fortran)}`);
    if (!(data instanceof Uint8Array)) {
      throw new ProtocolError(`numpy array data must be bytes, got ${pyTypeOf(data)} (only uint8 arrays are accepted)`);
    }
    this.#array = new NdArray(checkShape(shape, data.length), data, Boolean(fortran));
  }
}

/** A built ArrayBuilder is its array; everything else is itself. */
export function resolveBuilt<T>(v: T | ArrayBuilder): T | NdArray | ArrayBuilder {
  return v instanceof ArrayBuilder && v.array ? v.array : v;
}

/** Most dimensions an array may have (numpy's own limit is 64). */
const MAX_DIMS = 32;

/** A shape tuple whose element count is exactly the data length (uint8: one byte each). */
function checkShape(shape: unknown, dataLength: number): number[] {
  if (!(shape instanceof PyTuple)) throw new ProtocolError(`numpy shape must be a tuple, got ${pyTypeOf(shape)}`);
  if (shape.items.length > MAX_DIMS) throw new ProtocolError(`numpy shape has ${shape.items.length} dimensions, over ${MAX_DIMS}`);
  let count = 1;
  const dims: number[] = [];
  for (const d of shape.items) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) throw new ProtocolError(`numpy shape entries must be non-negative ints, got ${String(d)}`);
    dims.push(d);
    // Stop before the product can lose precision: it must end equal to the data length anyway.
    count = Math.min(count * d, Number.MAX_SAFE_INTEGER);
  }
  if (count !== dataLength) {
    throw new ProtocolError(`numpy shape (${dims.join(', ')}) needs ${count} bytes of uint8 data, the pickle has ${dataLength}`);
  }
  return dims;
}

function checkDtype(dtype: unknown): void {
  if (!(dtype instanceof Dtype)) throw new ProtocolError(`numpy dtype expected, got ${pyTypeOf(dtype)}`);
}

function reconstruct(name: string, ndarray: GlobalRef) {
  return (args: readonly unknown[]): ArrayBuilder => {
    const [cls, shape, typecode] = args;
    if (args.length !== 3 || cls !== ndarray) throw new ProtocolError(`${name} is accepted only as ${name}(numpy.ndarray, (0,), b'b')`);
    if (!(shape instanceof PyTuple) || shape.items.length !== 1 || shape.items[0] !== 0) throw new ProtocolError(`${name}: the shape argument must be (0,)`);
    if (!(typecode instanceof Uint8Array) && typeof typecode !== 'string') throw new ProtocolError(`${name}: the typecode must be b'b'`);
    return new ArrayBuilder();
  };
}

function dtype(args: readonly unknown[]): Dtype {
  const [str] = args;
  if (typeof str !== 'string') throw new ProtocolError(`numpy.dtype needs a str, got ${pyTypeOf(str)}`);
  if (str !== 'u1' && str !== '|u1' && str !== 'uint8') {
    throw new ProtocolError(`numpy dtype ${JSON.stringify(str)} is not accepted: images must be uint8 (u1)`);
  }
  return new Dtype('u1');
}

function frombuffer(name: string) {
  return (args: readonly unknown[]): NdArray => {
    const [buffer, dt, shape, order] = args;
    if (args.length !== 4) throw new ProtocolError(`${name} takes (buffer, dtype, shape, order), got ${args.length} arguments`);
    if (!(buffer instanceof Uint8Array)) throw new ProtocolError(`${name}: the buffer must be bytes or bytearray, got ${pyTypeOf(buffer)}`);
    checkDtype(dt);
    if (order !== 'C' && order !== 'F') throw new ProtocolError(`${name}: order must be 'C' or 'F', got ${JSON.stringify(order)}`);
    return new NdArray(checkShape(shape, buffer.length), buffer, order === 'F');
  };
}

function codecsEncode(args: readonly unknown[]): Uint8Array {
  const [text, encoding] = args;
  if (typeof text !== 'string' || (encoding !== 'latin1' && encoding !== 'latin-1')) {
    throw new ProtocolError("_codecs.encode is accepted only as _codecs.encode(str, 'latin1')");
  }
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff) throw new ProtocolError('_codecs.encode: a character above U+00FF cannot be latin1');
    out[i] = c;
  }
  return out;
}

/** bytearray(), bytearray(bytes) (protocols 3-4), bytearray(str, 'latin-1') (protocol 2). */
function bytearray(args: readonly unknown[]): Uint8Array {
  const [data, encoding] = args;
  if (args.length === 0) return new Uint8Array(0);
  if (args.length === 1 && data instanceof Uint8Array) return data;
  if (args.length === 2) return codecsEncode([data, encoding]);
  throw new ProtocolError("bytearray is accepted only as bytearray(), bytearray(bytes) or bytearray(str, 'latin-1')");
}

/** bytes() with no argument: how protocol 2 writes b''. */
function emptyBytes(args: readonly unknown[]): Uint8Array {
  if (args.length !== 0) throw new ProtocolError('bytes is accepted only as bytes()');
  return new Uint8Array(0);
}

const ndarray = new GlobalRef('numpy.ndarray');

export const ALLOWED_GLOBALS: ReadonlyMap<string, GlobalRef> = new Map(
  [
    ndarray,
    new GlobalRef('numpy.dtype', dtype),
    new GlobalRef('_codecs.encode', codecsEncode),
    ...['builtins.bytearray', '__builtin__.bytearray'].map((n) => new GlobalRef(n, bytearray)),
    ...['builtins.bytes', '__builtin__.bytes'].map((n) => new GlobalRef(n, emptyBytes)),
    ...['numpy.core.multiarray._reconstruct', 'numpy._core.multiarray._reconstruct'].map((n) => new GlobalRef(n, reconstruct(n, ndarray))),
    ...['numpy.core.numeric._frombuffer', 'numpy._core.numeric._frombuffer'].map((n) => new GlobalRef(n, frombuffer(n))),
  ].map((g) => [g.name, g]),
);
