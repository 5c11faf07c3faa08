/**
 * tirex's backend messages: one UDP datagram of `key=value` lines.
 * Replies come from another process: bounded, checked, typed.
 */
import { MAX_TIREX_MESSAGE_BYTES } from '../../limits.js';

export interface TirexRenderRequest {
  readonly id: string;
  readonly map: string;
  readonly prio: number;
  /** The metatile's top-left tile. */
  readonly x: number;
  readonly y: number;
  readonly z: number;
}

export interface TirexReply {
  readonly id: string | undefined;
  readonly type: string | undefined;
  /** `ok`, or anything else for a failed render. */
  readonly result: string | undefined;
  readonly errmsg: string | undefined;
  /** The `.meta` file's path (Debian's Mapnik backend sends it; tirex's Perl backends do not). */
  readonly metatile: string | undefined;
  readonly renderTimeMs: number | undefined;
  readonly map: string | undefined;
  readonly x: number | undefined;
  readonly y: number | undefined;
  readonly z: number | undefined;
}

export function encodeRenderRequest(r: TirexRenderRequest): Buffer {
  return Buffer.from(`type=metatile_render_request\nid=${r.id}\nmap=${r.map}\nprio=${r.prio}\nx=${r.x}\ny=${r.y}\nz=${r.z}\n`, 'latin1');
}

const int = (v: string | undefined): number | undefined => (v !== undefined && /^\d{1,10}$/.test(v) ? Number(v) : undefined);

/** Parses a reply datagram; undefined when it is over MAX_TIREX_MESSAGE_BYTES or not key=value lines. */
export function decodeReply(buf: Uint8Array): TirexReply | undefined {
  if (buf.length > MAX_TIREX_MESSAGE_BYTES) return undefined;
  const fields = new Map<string, string>();
  for (const line of Buffer.from(buf).toString('latin1').split('\n')) {
    if (line === '') continue;
    const eq = line.indexOf('=');
    if (eq <= 0) return undefined;
    fields.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return {
    id: fields.get('id'),
    type: fields.get('type'),
    result: fields.get('result'),
    errmsg: fields.get('errmsg'),
    metatile: fields.get('metatile'),
    renderTimeMs: int(fields.get('render_time')),
    map: fields.get('map'),
    x: int(fields.get('x')),
    y: int(fields.get('y')),
    z: int(fields.get('z')),
  };
}
