import { PyFloat, PyWritableTuple, type PickleKey, type WritableValue } from './values.js';

/**
 * Writes plain values (None, bool, int, float, str, bytes, list, tuple,
 * dict) as a pickle that `pickle.loads` reads in any Python 3 with nothing
 * of ours installed. Protocol 4, or 2 for old clients: protocol 2 has no
 * bytes opcode, so bytes go out as `_codecs.encode(str, 'latin1')`, the
 * way Python itself writes them. No memo: our replies are trees.
 */
export function pickle(value: WritableValue, protocol: 2 | 4 = 4): Buffer {
  const w = new Writer(protocol);
  w.bytes(0x80, protocol);
  w.value(value);
  w.bytes(0x2e); // STOP
  return w.done();
}

/** The protocol a pickle says it uses (its PROTO opcode; 0 when it has none). */
export function pickleProtocolOf(bytes: Uint8Array): number {
  return bytes[0] === 0x80 && bytes.length > 1 ? bytes[1]! : 0;
}

const BATCH = 1000; // items per APPENDS / SETITEMS, as CPython does

class Writer {
  readonly #chunks: Buffer[] = [];
  readonly #protocol: 2 | 4;

  constructor(protocol: 2 | 4) {
    this.#protocol = protocol;
  }

  done(): Buffer {
    return Buffer.concat(this.#chunks);
  }

  bytes(...b: number[]): void {
    this.#chunks.push(Buffer.from(b));
  }

  value(v: WritableValue): void {
    if (v === null) return this.bytes(0x4e); // NONE
    if (v === true) return this.bytes(0x88); // NEWTRUE
    if (v === false) return this.bytes(0x89); // NEWFALSE
    if (typeof v === 'number') return Number.isInteger(v) ? this.#int(BigInt(v)) : this.#float(v);
    if (typeof v === 'bigint') return this.#int(v);
    if (v instanceof PyFloat) return this.#float(v.value);
    if (typeof v === 'string') return this.#str(v);
    if (v instanceof Uint8Array) return this.#binary(v);
    if (v instanceof PyWritableTuple) return this.#tuple(v.items);
    if (v instanceof Map) return this.#dict(v);
    if (Array.isArray(v)) return this.#list(v);
    throw new TypeError(`cannot pickle a ${typeof v}`);
  }

  #int(n: bigint): void {
    if (n >= 0n && n <= 0xffn) return this.bytes(0x4b, Number(n)); // BININT1
    if (n >= 0n && n <= 0xffffn) return this.bytes(0x4d, Number(n & 0xffn), Number(n >> 8n)); // BININT2
    if (n >= -0x80000000n && n <= 0x7fffffffn) {
      const b = Buffer.alloc(5);
      b[0] = 0x4a; // BININT
      b.writeInt32LE(Number(n), 1);
      return void this.#chunks.push(b);
    }
    // LONG1: little-endian two's complement, as short as keeps the sign.
    const out: number[] = [];
    let x = n;
    for (;;) {
      out.push(Number(x & 0xffn));
      x >>= 8n;
      const sign = out[out.length - 1]! & 0x80;
      if ((x === 0n && !sign) || (x === -1n && sign)) break;
    }
    this.bytes(0x8a, out.length, ...out);
  }

  #float(f: number): void {
    const b = Buffer.alloc(9);
    b[0] = 0x47; // BINFLOAT
    b.writeDoubleBE(f, 1);
    this.#chunks.push(b);
  }

  #str(s: string): void {
    const utf8 = Buffer.from(s, 'utf8');
    if (this.#protocol === 4 && utf8.length < 256) this.bytes(0x8c, utf8.length); // SHORT_BINUNICODE
    else this.#len(0x58, utf8.length); // BINUNICODE
    this.#chunks.push(utf8);
  }

  #binary(b: Uint8Array): void {
    if (this.#protocol === 2) {
      // GLOBAL '_codecs encode' (str, 'latin1') REDUCE
      this.#chunks.push(Buffer.from('c_codecs\nencode\n', 'latin1'));
      this.#str(Buffer.from(b).toString('latin1'));
      this.#str('latin1');
      return this.bytes(0x86, 0x52); // TUPLE2 REDUCE
    }
    if (b.length < 256) this.bytes(0x43, b.length); // SHORT_BINBYTES
    else this.#len(0x42, b.length); // BINBYTES
    this.#chunks.push(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  }

  #len(op: number, n: number): void {
    const b = Buffer.alloc(5);
    b[0] = op;
    b.writeUInt32LE(n, 1);
    this.#chunks.push(b);
  }

  #tuple(items: readonly WritableValue[]): void {
    if (items.length === 0) return this.bytes(0x29); // EMPTY_TUPLE
    if (items.length > 3) this.bytes(0x28); // MARK
    for (const v of items) this.value(v);
    this.bytes(items.length > 3 ? 0x74 : 0x84 + items.length); // TUPLE / TUPLE1..3
  }

  #list(items: readonly WritableValue[]): void {
    this.bytes(0x5d); // EMPTY_LIST
    for (let i = 0; i < items.length; i += BATCH) {
      this.bytes(0x28); // MARK
      for (const v of items.slice(i, i + BATCH)) this.value(v);
      this.bytes(0x65); // APPENDS
    }
  }

  #dict(map: ReadonlyMap<PickleKey, WritableValue>): void {
    this.bytes(0x7d); // EMPTY_DICT
    const entries = [...map];
    for (let i = 0; i < entries.length; i += BATCH) {
      this.bytes(0x28); // MARK
      for (const [k, v] of entries.slice(i, i + BATCH)) {
        this.value(k);
        this.value(v);
      }
      this.bytes(0x75); // SETITEMS
    }
  }
}
