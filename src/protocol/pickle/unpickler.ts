import { ProtocolError, TooLargeError } from '../../errors.js';
import { ALLOWED_GLOBALS, ArrayBuilder, Dtype, GlobalRef, resolveBuilt } from './numpy.js';
import { NdArray, PyTuple, pyTypeOf, type PickleDict, type PickleKey, type PickleValue } from './values.js';

/** Bounds of one unpickling; every one is a limit in src/limits.ts (`--pickle-limit`). */
export interface PickleLimits {
  /** Deepest nesting of lists, tuples, dicts (and MARKs). */
  readonly depth: number;
  /** Values pushed plus container entries: bounds the work and the memory of one pickle. */
  readonly items: number;
  /** Distinct memo slots. */
  readonly memo: number;
  /** Longest LONG1/LONG4 integer, bytes. */
  readonly intBytes: number;
}

/** Values only the VM sees: they never reach the caller. */
type Internal = GlobalRef | Dtype | ArrayBuilder;
type StackValue = PickleValue | Internal;

/** Longest text line an opcode may read (GLOBAL, INST, INT, LONG, FLOAT, GET, PUT). */
const MAX_LINE = 512;

const utf8 = new TextDecoder('utf-8', { fatal: true });
const ascii = new TextDecoder('latin1');

/**
 * A pickle VM (protocols 2-5, plus the protocol 0/1 opcodes Python still
 * emits) that builds plain values only. Nothing in the pickle is ever
 * looked up or called: a global is one of the TypeScript functions in
 * ALLOWED_GLOBALS (numpy uint8 array reconstruction, `_codecs.encode`) or
 * the pickle is refused at that opcode, naming `module.name`, before any
 * later opcode runs. INST, OBJ, NEWOBJ(_EX), PERSID, EXT* and out-of-band
 * buffers are refused outright.
 *
 * Bounded: every length is checked against the bytes left, big ints,
 * nesting, pushes and memo slots have limits, and a container cannot be
 * changed once it sits inside another one, so no pickle can build a cycle
 * or grow a structure behind its depth check.
 */
export function unpickle(bytes: Uint8Array, limits: PickleLimits): PickleValue {
  return new Machine(bytes, limits).run();
}

class Machine {
  readonly #b: Uint8Array;
  readonly #view: DataView;
  readonly #limits: PickleLimits;
  #pos = 0;
  #stack: StackValue[] = [];
  readonly #marks: StackValue[][] = [];
  readonly #memo = new Map<number, StackValue>();
  #items = 0;
  /** Nesting depth of each container built so far. */
  readonly #depth = new WeakMap<object, number>();
  /** Containers placed inside another: no longer mutable (no cycles, depth stays true). */
  readonly #sealed = new WeakSet<object>();
  /** Tuples holding a VM-internal value (a class, a dtype, an unbuilt array): REDUCE/BUILD arguments only. */
  readonly #internalTuples = new WeakSet<PyTuple>();

  constructor(bytes: Uint8Array, limits: PickleLimits) {
    this.#b = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#limits = limits;
  }

  run(): PickleValue {
    for (;;) {
      const at = this.#pos;
      const op = this.#u8();
      if (op === 0x2e /* STOP */) {
        const top = this.#pop();
        return this.#plain(top, 'the pickled value');
      }
      try {
        this.#step(op);
      } catch (err) {
        if (err instanceof ProtocolError || err instanceof TooLargeError) {
          if (!err.message.startsWith('pickle')) err.message = `pickle refused at byte ${at} (${opName(op)}): ${err.message}`;
        }
        throw err;
      }
    }
  }

  #step(op: number): void {
    switch (op) {
      case 0x80: { // PROTO
        const p = this.#u8();
        if (p > 5) throw new ProtocolError(`pickle protocol ${p} is not supported (0-5)`);
        return;
      }
      case 0x95: // FRAME: a length hint; the data is read as it comes
        this.#take(8);
        return;
      case 0x28: // MARK
        if (this.#marks.length >= this.#limits.depth) throw tooDeep(this.#limits.depth);
        this.#marks.push(this.#stack);
        this.#stack = [];
        return;
      case 0x30: // POP
        if (this.#stack.length === 0 && this.#marks.length > 0) this.#popMark();
        else this.#pop();
        return;
      case 0x31: // POP_MARK
        this.#popMark();
        return;
      case 0x32: // DUP
        this.#push(this.#peek());
        return;
      case 0x4e: return this.#push(null); // NONE
      case 0x88: return this.#push(true); // NEWTRUE
      case 0x89: return this.#push(false); // NEWFALSE
      case 0x4a: return this.#push(this.#int32()); // BININT
      case 0x4b: return this.#push(this.#u8()); // BININT1
      case 0x4d: return this.#push(this.#u16()); // BININT2
      case 0x49: { // INT (text; "00"/"01" are False/True)
        const line = this.#line();
        if (line === '00') return this.#push(false);
        if (line === '01') return this.#push(true);
        return this.#push(this.#textInt(line));
      }
      case 0x4c: // LONG (text, trailing L)
        return this.#push(this.#textInt(this.#line().replace(/L$/, '')));
      case 0x8a: return this.#push(this.#long(this.#u8())); // LONG1
      case 0x8b: { // LONG4
        const n = this.#int32();
        if (n < 0) throw new ProtocolError(`LONG4 with a negative length ${n}`);
        return this.#push(this.#long(n));
      }
      case 0x46: { // FLOAT (text)
        const line = this.#line();
        const f = Number(line);
        if (line === '' || (Number.isNaN(f) && !/^[+-]?nan$/i.test(line))) throw new ProtocolError(`FLOAT ${JSON.stringify(line)} is not a number`);
        return this.#push(f);
      }
      case 0x47: { // BINFLOAT
        const f = this.#view.getFloat64(this.#need(8), false);
        this.#pos += 8;
        return this.#push(f);
      }
      case 0x58: return this.#push(this.#utf8(this.#take(this.#len32()))); // BINUNICODE
      case 0x8c: return this.#push(this.#utf8(this.#take(this.#u8()))); // SHORT_BINUNICODE
      case 0x8d: return this.#push(this.#utf8(this.#take(this.#len64()))); // BINUNICODE8
      case 0x42: return this.#push(this.#take(this.#len32())); // BINBYTES
      case 0x43: return this.#push(this.#take(this.#u8())); // SHORT_BINBYTES
      case 0x8e: return this.#push(this.#take(this.#len64())); // BINBYTES8
      case 0x96: return this.#push(this.#take(this.#len64())); // BYTEARRAY8
      case 0x54: return this.#push(this.#ascii(this.#take(this.#len32()))); // BINSTRING (Python 2 str)
      case 0x55: return this.#push(this.#ascii(this.#take(this.#u8()))); // SHORT_BINSTRING
      case 0x53: // STRING
      case 0x56: // UNICODE
        throw new ProtocolError('protocol 0 text strings are not supported: pickle with protocol 2 or higher');
      case 0x5d: return this.#push(this.#container([])); // EMPTY_LIST
      case 0x7d: return this.#push(this.#container(new Map())); // EMPTY_DICT
      case 0x29: return this.#push(this.#tuple([])); // EMPTY_TUPLE
      case 0x6c: { // LIST
        const items = this.#popMark();
        const list = this.#container([]);
        for (const v of items) this.#append(list, v);
        return this.#push(list);
      }
      case 0x64: { // DICT
        const items = this.#popMark();
        const dict = this.#container(new Map());
        this.#setItems(dict, items);
        return this.#push(dict);
      }
      case 0x74: return this.#push(this.#tuple(this.#popMark())); // TUPLE
      case 0x85: return this.#push(this.#tuple(this.#popN(1))); // TUPLE1
      case 0x86: return this.#push(this.#tuple(this.#popN(2))); // TUPLE2
      case 0x87: return this.#push(this.#tuple(this.#popN(3))); // TUPLE3
      case 0x61: { // APPEND
        const v = this.#pop();
        this.#append(this.#list(this.#peek()), v);
        return;
      }
      case 0x65: { // APPENDS
        const items = this.#popMark();
        const list = this.#list(this.#peek());
        for (const v of items) this.#append(list, v);
        return;
      }
      case 0x73: { // SETITEM
        const [k, v] = this.#popN(2);
        this.#setItems(this.#dict(this.#peek()), [k!, v!]);
        return;
      }
      case 0x75: { // SETITEMS
        const items = this.#popMark();
        this.#setItems(this.#dict(this.#peek()), items);
        return;
      }
      case 0x67: return this.#push(this.#get(this.#textIndex())); // GET
      case 0x68: return this.#push(this.#get(this.#u8())); // BINGET
      case 0x6a: return this.#push(this.#get(this.#u32())); // LONG_BINGET
      case 0x70: return this.#put(this.#textIndex()); // PUT
      case 0x71: return this.#put(this.#u8()); // BINPUT
      case 0x72: return this.#put(this.#u32()); // LONG_BINPUT
      case 0x94: return this.#put(this.#memo.size); // MEMOIZE
      case 0x63: { // GLOBAL
        const module = this.#line();
        const name = this.#line();
        return this.#push(this.#global(module, name));
      }
      case 0x93: { // STACK_GLOBAL
        const [module, name] = this.#popN(2);
        if (typeof module !== 'string' || typeof name !== 'string') {
          throw new ProtocolError(`STACK_GLOBAL needs two str, got ${describe(module)} and ${describe(name)}`);
        }
        return this.#push(this.#global(module, name));
      }
      case 0x69: { // INST: module and class inline, then instantiated
        const module = this.#line();
        const name = this.#line();
        throw refusedGlobal(`${module}.${name}`, 'INST');
      }
      case 0x52: { // REDUCE
        const [callable, args] = this.#popN(2);
        if (!(callable instanceof GlobalRef) || !callable.call) {
          throw new ProtocolError(`REDUCE on ${describe(callable)}: only ${callableNames()} may be called`);
        }
        if (!(args instanceof PyTuple)) throw new ProtocolError(`REDUCE arguments for ${callable.name} must be a tuple, got ${describe(args)}`);
        return this.#push(callable.call(args.items));
      }
      case 0x62: { // BUILD
        const state = this.#pop();
        const target = this.#peek();
        if (typeof target === 'object' && target !== null && this.#sealed.has(target)) throw new ProtocolError('BUILD on a value already inside a container');
        if (target instanceof Dtype || target instanceof ArrayBuilder) return target.build(state);
        throw new ProtocolError(`BUILD on ${describe(target)}: only numpy arrays and dtypes take a state`);
      }
      case 0x6f: { // OBJ
        const [cls] = this.#popMark();
        throw refusedGlobal(cls instanceof GlobalRef ? cls.name : describe(cls), 'OBJ');
      }
      case 0x81: // NEWOBJ
      case 0x92: { // NEWOBJ_EX
        const n = op === 0x81 ? 2 : 3;
        const [cls] = this.#popN(n);
        throw refusedGlobal(cls instanceof GlobalRef ? cls.name : describe(cls), opName(op));
      }
      case 0x50: // PERSID
      case 0x51: // BINPERSID
        throw new ProtocolError('persistent ids are not supported');
      case 0x82: // EXT1
      case 0x83: // EXT2
      case 0x84: // EXT4
        throw new ProtocolError('the copyreg extension registry is not supported');
      case 0x97: // NEXT_BUFFER
      case 0x98: // READONLY_BUFFER
        throw new ProtocolError('out-of-band buffers are not supported: pickle protocol 5 without buffer_callback');
      case 0x8f: // EMPTY_SET
      case 0x90: // ADDITEMS
      case 0x91: // FROZENSET
        throw new ProtocolError('sets are not supported: send a list');
      default:
        throw new ProtocolError(`unknown opcode 0x${op.toString(16).padStart(2, '0')}`);
    }
  }

  // --- values -------------------------------------------------------------

  #global(module: string, name: string): GlobalRef {
    const ref = ALLOWED_GLOBALS.get(`${module}.${name}`);
    if (!ref) throw refusedGlobal(`${module}.${name}`, 'global');
    return ref;
  }

  #container<T extends PickleValue[] | PickleDict>(c: T): T {
    this.#depth.set(c, 1);
    return c;
  }

  /** A child placed in a parent: resolved, checked for plainness, sealed, and the parent's depth raised. */
  #adopt(parent: object, child: StackValue, where: string): PickleValue {
    const v = this.#plain(child, where);
    if (v === parent) throw new ProtocolError('a container into itself (a cycle)');
    this.#count(1);
    if (typeof v === 'object' && v !== null) {
      this.#sealed.add(v);
      const d = (this.#depth.get(v) ?? 0) + 1;
      if (d > this.#limits.depth) throw tooDeep(this.#limits.depth);
      if (d > (this.#depth.get(parent) ?? 1)) this.#depth.set(parent, d);
    }
    return v;
  }

  #tuple(items: StackValue[]): PyTuple {
    let internal = false;
    const resolved = items.map((item) => {
      const v = resolveBuilt(item);
      if (v instanceof GlobalRef || v instanceof Dtype || v instanceof ArrayBuilder || (v instanceof PyTuple && this.#internalTuples.has(v))) internal = true;
      return v;
    });
    const t = new PyTuple(resolved as PickleValue[]);
    this.#depth.set(t, 1);
    for (const v of resolved) {
      this.#count(1);
      if (typeof v === 'object' && v !== null) {
        this.#sealed.add(v);
        const d = (this.#depth.get(v) ?? 0) + 1;
        if (d > this.#limits.depth) throw tooDeep(this.#limits.depth);
        if (d > (this.#depth.get(t) ?? 1)) this.#depth.set(t, d);
      }
    }
    if (internal) this.#internalTuples.add(t);
    return t;
  }

  #append(list: PickleValue[], v: StackValue): void {
    list.push(this.#adopt(list, v, 'a list item'));
  }

  #setItems(dict: PickleDict, items: StackValue[]): void {
    if (items.length % 2 !== 0) throw new ProtocolError(`SETITEMS with an odd number of values (${items.length})`);
    for (let i = 0; i < items.length; i += 2) {
      const key = resolveBuilt(items[i]!);
      if (!isKey(key)) throw new ProtocolError(`dict keys must be str, int, float, bool or None, got ${describe(key)}`);
      this.#count(1);
      dict.set(key, this.#adopt(dict, items[i + 1]!, `the value of dict key ${JSON.stringify(String(key))}`));
    }
  }

  #list(v: StackValue): PickleValue[] {
    if (!Array.isArray(v)) throw new ProtocolError(`APPEND to ${describe(v)}: only lists can be appended to`);
    if (this.#sealed.has(v)) throw new ProtocolError('APPEND to a list already inside a container');
    return v;
  }

  #dict(v: StackValue): PickleDict {
    if (!(v instanceof Map)) throw new ProtocolError(`SETITEM on ${describe(v)}: only dicts take items`);
    if (this.#sealed.has(v)) throw new ProtocolError('SETITEM on a dict already inside a container');
    return v;
  }

  /** A value that may leave the VM: built arrays resolved, classes, dtypes and unbuilt arrays refused. */
  #plain(v: StackValue, where: string): PickleValue {
    const r = resolveBuilt(v);
    if (r instanceof GlobalRef) throw new ProtocolError(`${where} is the class or function ${r.name}, which is only accepted as a REDUCE argument`);
    if (r instanceof Dtype) throw new ProtocolError(`${where} is a numpy dtype; only arrays are accepted as values`);
    if (r instanceof ArrayBuilder) throw new ProtocolError(`${where} is a numpy array without its data (no BUILD)`);
    if (r instanceof PyTuple && this.#internalTuples.has(r)) throw new ProtocolError(`${where} is a tuple holding a class, a dtype or an unbuilt array`);
    return r;
  }

  // --- stack and memo -----------------------------------------------------

  #count(n: number): void {
    this.#items += n;
    if (this.#items > this.#limits.items) {
      throw new TooLargeError(`pickle refused: more than ${this.#limits.items} values (--pickle-limit items=${this.#limits.items})`);
    }
  }

  #push(v: StackValue): void {
    this.#count(1);
    this.#stack.push(v);
  }

  #pop(): StackValue {
    if (this.#stack.length === 0) throw new ProtocolError('the stack is empty (or only a MARK is on it)');
    return this.#stack.pop()!;
  }

  #peek(): StackValue {
    if (this.#stack.length === 0) throw new ProtocolError('the stack is empty (or only a MARK is on it)');
    return this.#stack[this.#stack.length - 1]!;
  }

  #popN(n: number): StackValue[] {
    if (this.#stack.length < n) throw new ProtocolError(`needs ${n} values on the stack, found ${this.#stack.length}`);
    return this.#stack.splice(this.#stack.length - n, n);
  }

  #popMark(): StackValue[] {
    const outer = this.#marks.pop();
    if (!outer) throw new ProtocolError('no MARK on the stack');
    const items = this.#stack;
    this.#stack = outer;
    return items;
  }

  #get(i: number): StackValue {
    const v = this.#memo.get(i);
    if (v === undefined) throw new ProtocolError(`memo slot ${i} is empty`);
    return v;
  }

  #put(i: number): void {
    if (!this.#memo.has(i) && this.#memo.size >= this.#limits.memo) {
      throw new TooLargeError(`pickle refused: more than ${this.#limits.memo} memo slots (--pickle-limit memo=${this.#limits.memo})`);
    }
    this.#memo.set(i, this.#peek());
  }

  // --- bytes --------------------------------------------------------------

  /** The position of n more bytes, or a clear error when the pickle is shorter. */
  #need(n: number): number {
    if (n > this.#b.length - this.#pos) {
      throw new ProtocolError(`pickle truncated: needs ${n} more bytes at byte ${this.#pos}, ${this.#b.length - this.#pos} left`);
    }
    return this.#pos;
  }

  #take(n: number): Uint8Array {
    const at = this.#need(n);
    this.#pos += n;
    return this.#b.subarray(at, at + n);
  }

  #u8(): number {
    const at = this.#need(1);
    this.#pos = at + 1;
    return this.#b[at]!;
  }

  #u16(): number {
    const v = this.#view.getUint16(this.#need(2), true);
    this.#pos += 2;
    return v;
  }

  #u32(): number {
    const v = this.#view.getUint32(this.#need(4), true);
    this.#pos += 4;
    return v;
  }

  #int32(): number {
    const v = this.#view.getInt32(this.#need(4), true);
    this.#pos += 4;
    return v;
  }

  #len32(): number {
    return this.#u32();
  }

  #len64(): number {
    const v = this.#view.getBigUint64(this.#need(8), true);
    this.#pos += 8;
    // Larger than what is left fails in #take; only keep the number exact here.
    return v > BigInt(this.#b.length) ? this.#b.length + 1 : Number(v);
  }

  #line(): string {
    const end = this.#b.indexOf(0x0a, this.#pos);
    if (end < 0 || end - this.#pos > MAX_LINE) {
      throw new ProtocolError(end < 0 ? `pickle truncated: no newline after byte ${this.#pos}` : `a text argument longer than ${MAX_LINE} bytes`);
    }
    const text = ascii.decode(this.#b.subarray(this.#pos, end));
    this.#pos = end + 1;
    return text;
  }

  #utf8(bytes: Uint8Array): string {
    try {
      return utf8.decode(bytes);
    } catch {
      throw new ProtocolError(`a str of ${bytes.length} bytes is not valid UTF-8`);
    }
  }

  #ascii(bytes: Uint8Array): string {
    for (const c of bytes) if (c > 0x7f) throw new ProtocolError('a Python 2 str with non-ASCII bytes');
    return ascii.decode(bytes);
  }

  #textInt(line: string): number | bigint {
    if (!/^[+-]?\d+$/.test(line)) throw new ProtocolError(`integer ${JSON.stringify(line)} is not decimal`);
    if (line.length > this.#limits.intBytes * 2.5 + 2) throw bigInt(this.#limits.intBytes);
    return normalise(BigInt(line));
  }

  #textIndex(): number {
    const line = this.#line();
    if (!/^\d{1,10}$/.test(line)) throw new ProtocolError(`memo index ${JSON.stringify(line)} is not a number`);
    return Number(line);
  }

  /** LONG1/LONG4: little-endian two's complement. */
  #long(n: number): number | bigint {
    if (n > this.#limits.intBytes) throw bigInt(this.#limits.intBytes);
    const bytes = this.#take(n);
    if (n === 0) return 0;
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
    if (bytes[n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
    return normalise(v);
  }
}

function normalise(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function isKey(v: unknown): v is PickleKey {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean';
}

function refusedGlobal(name: string, how: string): ProtocolError {
  return new ProtocolError(
    `pickle refused: ${how} ${name} is not allowed (only plain values and numpy uint8 arrays are accepted; nothing in the pickle is run)`,
  );
}

function tooDeep(limit: number): TooLargeError {
  return new TooLargeError(`pickle refused: nested deeper than ${limit} (--pickle-limit depth=${limit})`);
}

function bigInt(limit: number): TooLargeError {
  return new TooLargeError(`pickle refused: an integer longer than ${limit} bytes (--pickle-limit intBytes=${limit})`);
}

function callableNames(): string {
  return [...ALLOWED_GLOBALS.values()].filter((g) => g.call).map((g) => g.name).join(', ');
}

function describe(v: unknown): string {
  if (v instanceof GlobalRef) return v.name;
  if (v instanceof Dtype) return 'a numpy dtype';
  if (v instanceof ArrayBuilder) return 'a numpy array';
  if (v instanceof NdArray) return 'a numpy array';
  if (typeof v === 'string') return `str ${JSON.stringify(v.length > 40 ? `${v.slice(0, 37)}...` : v)}`;
  return `a ${pyTypeOf(v)}`;
}

const OP_NAMES: Record<number, string> = {
  0x28: 'MARK', 0x2e: 'STOP', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x46: 'FLOAT', 0x49: 'INT', 0x4a: 'BININT',
  0x4b: 'BININT1', 0x4c: 'LONG', 0x4d: 'BININT2', 0x4e: 'NONE', 0x50: 'PERSID', 0x51: 'BINPERSID', 0x52: 'REDUCE',
  0x53: 'STRING', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING', 0x56: 'UNICODE', 0x58: 'BINUNICODE', 0x61: 'APPEND',
  0x62: 'BUILD', 0x63: 'GLOBAL', 0x64: 'DICT', 0x7d: 'EMPTY_DICT', 0x65: 'APPENDS', 0x67: 'GET', 0x68: 'BINGET',
  0x69: 'INST', 0x6a: 'LONG_BINGET', 0x6c: 'LIST', 0x5d: 'EMPTY_LIST', 0x6f: 'OBJ', 0x70: 'PUT', 0x71: 'BINPUT',
  0x72: 'LONG_BINPUT', 0x73: 'SETITEM', 0x74: 'TUPLE', 0x29: 'EMPTY_TUPLE', 0x75: 'SETITEMS', 0x47: 'BINFLOAT',
  0x80: 'PROTO', 0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x85: 'TUPLE1', 0x86: 'TUPLE2', 0x87: 'TUPLE3',
  0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x8a: 'LONG1', 0x8b: 'LONG4', 0x42: 'BINBYTES', 0x43: 'SHORT_BINBYTES',
  0x8c: 'SHORT_BINUNICODE', 0x8d: 'BINUNICODE8', 0x8e: 'BINBYTES8', 0x8f: 'EMPTY_SET', 0x90: 'ADDITEMS', 0x91: 'FROZENSET',
  0x92: 'NEWOBJ_EX', 0x93: 'STACK_GLOBAL', 0x94: 'MEMOIZE', 0x95: 'FRAME', 0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER',
  0x98: 'READONLY_BUFFER',
};

function opName(op: number): string {
  return OP_NAMES[op] ?? `opcode 0x${op.toString(16).padStart(2, '0')}`;
}
