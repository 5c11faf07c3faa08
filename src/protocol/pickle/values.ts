/**
 * The plain values a pickle may hold here, as TypeScript values:
 *
 * | Python            | TypeScript                                    |
 * |-------------------|-----------------------------------------------|
 * | None, bool, str   | null, boolean, string                         |
 * | int               | number (safe integers), else bigint           |
 * | float             | number (`PyFloat` when writing)               |
 * | bytes, bytearray  | Uint8Array                                    |
 * | list              | PickleValue[]                                 |
 * | tuple             | PyTuple                                       |
 * | dict              | Map (keys: str, int, float, bool, None)       |
 * | numpy.ndarray     | NdArray (uint8 only)                          |
 */
export type PickleKey = string | number | bigint | boolean | null;

export type PickleValue = PickleKey | Uint8Array | PickleValue[] | PyTuple | PickleDict | NdArray;

export type PickleDict = Map<PickleKey, PickleValue>;

export class PyTuple {
  constructor(readonly items: readonly PickleValue[]) {}
}

/** A float the writer must write as a float even when it is a whole number (1.0, not 1). */
export class PyFloat {
  constructor(readonly value: number) {}
}

/** A C- or Fortran-ordered uint8 numpy array, its bytes as they came. */
export class NdArray {
  constructor(
    readonly shape: readonly number[],
    readonly data: Uint8Array,
    /** True when `data` is column-major (numpy's is_fortran / order 'F'). */
    readonly fortran: boolean,
  ) {}
}

/** What the writer takes: the plain values plus floats that must stay floats. */
export type WritableValue =
  | PickleKey
  | PyFloat
  | Uint8Array
  | readonly WritableValue[]
  | PyWritableTuple
  | ReadonlyMap<PickleKey, WritableValue>;

export class PyWritableTuple {
  constructor(readonly items: readonly WritableValue[]) {}
}

/** A Python-ish spelling of a value's type, for error messages. */
export function pyTypeOf(v: unknown): string {
  if (v === null) return 'None';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'string') return 'str';
  if (v instanceof Uint8Array) return 'bytes';
  if (Array.isArray(v)) return 'list';
  if (v instanceof PyTuple) return 'tuple';
  if (v instanceof Map) return 'dict';
  if (v instanceof NdArray) return 'numpy.ndarray';
  return 'object';
}
