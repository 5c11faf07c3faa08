import type { LineDecoderItem } from './line-decoder.js';
import type { Viewport } from '../tile/viewport.js';
import { parseTileSyntax, TILE_SYNTAX_HINT } from './tile-syntax.js';
import { parseViewportWords } from './viewport-syntax.js';
import { MAP_NAME } from '../maps/map-name.js';

/**
 * One request line -> a typed command (wire.md §3), and the text notices
 * written back (§3 barrier, §4 completion notices).
 *
 * Parsing is syntax only. Surrounding whitespace is trimmed; words are split
 * on runs of whitespace; command words are lower-case and case-sensitive.
 *
 * | line                                | command                                   |
 * |-------------------------------------|-------------------------------------------|
 * | `Z_X_Y` or `Z/X/Y`                  | `{ type: 'tile', raw, z, x, y }`          |
 * | (empty, or only whitespace)         | `{ type: 'barrier' }`                     |
 * | `stop` / `stop TOKEN`               | `{ type: 'stop', token? }`                |
 * | `viewport Z MINX MINY MAXX MAXY`    | `{ type: 'viewport', z, minX, ... }`      |
 * | `cancel Z_X_Y`                      | `{ type: 'cancel', raw, z, x, y }`        |
 * | `dirty Z_X_Y` / `dirty Z_X_Y TOKEN` | `{ type: 'dirty', raw, z, x, y, token? }` |
 * | `ping` / `stats`                    | `{ type: 'ping' }` / `{ type: 'stats' }`  |
 * | `bulk Z_X_Y` / `bulk Z_X_Y force`   | `{ type: 'bulk', raw, z, x, y, force }`   |
 * | `bulk Z_X_Y force TOKEN`            | `{ ..., force: true, token }`             |
 * | `expire Z_X_Y` / `expire Z_X_Y TOKEN` | `{ type: 'expire', raw, z, x, y, token? }` |
 * | anything else                       | `{ type: 'invalid', name, reason }`       |
 *
 * Maps (docs/maps.md): wherever a tile name goes, `NAME/Z/X/Y` names a tile
 * of map NAME (`{ ..., map: NAME }`); `viewport NAME Z MINX MINY MAXX MAXY`
 * is a viewport on map NAME. Without a NAME, the default map, as ever.
 *
 * TOKEN is the admin token (`--admin-token`) for the admin commands `stop`,
 * `dirty`, `bulk ... force` and `expire`; `expire Z_X_Y force` stays invalid
 * (expire has no force option), so `force` is never taken as a token there.
 *
 * `bulk` and `expire` (used by `mosaicd seed` / `mosaicd expire`) are
 * answered in-band, on the same connection, instead of on the completion
 * listener, so a seeding tool never floods the map system's listener.
 *
 * Tile numbers are only checked to be decimal digits (zoom 1-2 digits, x/y
 * 1-10): `3_8_0` and `99_0_0` parse here, and the daemon refuses them with
 * `tileCoord()` and its max zoom. Viewport numbers follow the rules shared
 * by every wire (src/protocol/viewport-syntax.ts); their ranges (and
 * MINX <= MAXX) are the daemon's to judge.
 */

interface TileFields {
  /** The tile name exactly as received (`3/4/2` stays `3/4/2`). */
  readonly raw: string;
  readonly z: number;
  readonly x: number;
  readonly y: number;
  /** `NAME/Z/X/Y`: the map named; absent for the default map. */
  readonly map?: string;
}

export interface TileLineCommand extends TileFields {
  readonly type: 'tile';
}
export interface BarrierLineCommand {
  readonly type: 'barrier';
}
export interface StopLineCommand {
  readonly type: 'stop';
  readonly token?: string;
}
export interface ViewportLineCommand extends Viewport {
  readonly type: 'viewport';
}
export interface CancelLineCommand extends TileFields {
  readonly type: 'cancel';
}
export interface DirtyLineCommand extends TileFields {
  readonly type: 'dirty';
  readonly token?: string;
}
export interface BulkLineCommand extends TileFields {
  readonly type: 'bulk';
  readonly force: boolean;
  /** Only with force: `bulk Z_X_Y force TOKEN`. */
  readonly token?: string;
}
export interface ExpireLineCommand extends TileFields {
  readonly type: 'expire';
  readonly token?: string;
}
export interface PingLineCommand {
  readonly type: 'ping';
}
export interface StatsLineCommand {
  readonly type: 'stats';
}
export interface InvalidLineCommand {
  readonly type: 'invalid';
  /** A safe single token naming the offending line, for `error <name> <reason>`. */
  readonly name: string;
  readonly reason: string;
}

export type LineCommand =
  | TileLineCommand
  | BarrierLineCommand
  | StopLineCommand
  | ViewportLineCommand
  | CancelLineCommand
  | DirtyLineCommand
  | BulkLineCommand
  | ExpireLineCommand
  | PingLineCommand
  | StatsLineCommand
  | InvalidLineCommand;

/** Longest `name` in an invalid-line notice, in code points. */
export const MAX_NOTICE_NAME_CHARS = 64;
/** Longest reason in an error notice, in code points. */
export const MAX_NOTICE_REASON_CHARS = 512;

const VIEWPORT_USAGE = 'expected viewport Z MINX MINY MAXX MAXY (or viewport MAP Z MINX MINY MAXX MAXY) in decimal digits';

export function parseLineCommand(line: string): LineCommand {
  const text = line.trim();
  if (text === '') return { type: 'barrier' };
  const words = text.split(/\s+/);
  const [word, ...args] = words as [string, ...string[]];

  switch (word) {
    case 'stop':
      if (args.length === 0) return { type: 'stop' };
      if (args.length === 1) return { type: 'stop', token: args[0]! };
      return invalid(word, 'expected stop or stop TOKEN');
    case 'ping':
    case 'stats':
      return args.length === 0 ? { type: word } : invalid(word, `${word} takes no arguments`);
    case 'viewport':
      return parseViewport(args);
    case 'bulk':
    case 'expire': {
      const force = word === 'bulk' && args.length >= 2 && args[1] === 'force';
      const ok =
        word === 'bulk'
          ? args.length === 1 || (force && args.length <= 3)
          : args.length === 1 || (args.length === 2 && args[1] !== 'force');
      if (!ok) {
        return invalid(word, word === 'bulk' ? 'expected bulk Z_X_Y, bulk Z_X_Y force or bulk Z_X_Y force TOKEN' : 'expected expire Z_X_Y or expire Z_X_Y TOKEN');
      }
      const tile = parseTileSyntax(args[0]!);
      if (tile === undefined) return invalid(args[0]!, `not a tile name (${TILE_SYNTAX_HINT})`);
      if (word === 'bulk') return args.length === 3 ? { type: 'bulk', ...tile, force, token: args[2]! } : { type: 'bulk', ...tile, force };
      return args.length === 2 ? { type: 'expire', ...tile, token: args[1]! } : { type: 'expire', ...tile };
    }
    case 'cancel':
    case 'dirty': {
      const maxArgs = word === 'dirty' ? 2 : 1;
      if (args.length < 1 || args.length > maxArgs) {
        return invalid(word, word === 'dirty' ? 'expected dirty Z_X_Y or dirty Z_X_Y TOKEN' : 'expected cancel Z_X_Y');
      }
      const tile = parseTileSyntax(args[0]!);
      if (tile === undefined) return invalid(args[0]!, `not a tile name (${TILE_SYNTAX_HINT})`);
      if (word === 'cancel') return { type: 'cancel', ...tile };
      return args.length === 2 ? { type: 'dirty', ...tile, token: args[1]! } : { type: 'dirty', ...tile };
    }
  }

  const tile = parseTileSyntax(word);
  if (tile !== undefined) {
    return args.length === 0 ? { type: 'tile', ...tile } : invalid(word, 'unexpected text after the tile name');
  }
  return invalid(word, looksLikeTile(word) ? `not a tile name (${TILE_SYNTAX_HINT})` : 'unknown command');
}

/** The command for a decoder item: a line is parsed, an oversize line becomes `invalid`. */
export function lineCommandOf(item: LineDecoderItem): LineCommand {
  if (item.type === 'line') return parseLineCommand(item.text);
  const name = item.head.trim().split(/\s+/)[0] ?? '';
  return invalid(name, `line too long (${item.bytes} bytes or more, limit ${item.limit})`);
}

/** Completion notice for a finished tile: `Z_X_Y\n` (wire.md §4). */
export function formatTileNotice(name: string): string {
  return `${safeToken(name)}\n`;
}

/** Error notice: `error NAME REASON\n`, NAME one safe token, REASON one line. */
export function formatErrorNotice(name: string, reason: string): string {
  return `error ${safeToken(name)} ${oneLine(reason)}\n`;
}

/** Last notice after `stop` (wire.md §4). */
export const DONE_NOTICE = 'done\n';

/** Written back on the request connection when a barrier (empty line) is reached. */
export const BARRIER_REPLY = '\n';

/**
 * `text` cut to MAX_NOTICE_NAME_CHARS code points, with control, format,
 * separator, space and unassigned characters replaced by `?`, so it is one
 * printable token. Never empty.
 */
export function safeToken(text: string): string {
  const cut = Array.from(text).slice(0, MAX_NOTICE_NAME_CHARS).join('');
  const safe = cut.replace(UNPRINTABLE_OR_SPACE, '?');
  return safe === '' ? '?' : safe;
}

// Cc control, Cf format (bidi overrides, zero-width), Cs lone surrogates,
// Co private use, Cn unassigned, Z* spaces and line/paragraph separators.
const UNPRINTABLE_OR_SPACE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Z}]/gu;
const LINE_BREAKS = /[\r\n\u2028\u2029\u0085]+/g;
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}]/gu;

/** `text` as one printable line of at most MAX_NOTICE_REASON_CHARS code points. */
function oneLine(text: string): string {
  const flat = text.replace(LINE_BREAKS, ' ').replace(UNPRINTABLE, '?').trim();
  const cut = Array.from(flat).slice(0, MAX_NOTICE_REASON_CHARS).join('');
  return cut === '' ? 'error' : cut;
}

function invalid(name: string, reason: string): InvalidLineCommand {
  return { type: 'invalid', name: safeToken(name), reason };
}

function looksLikeTile(word: string): boolean {
  return /^\d/.test(word) || word.includes('_') || word.includes('/');
}

function parseViewport(args: readonly string[]): LineCommand {
  // A leading word that is a map name (it starts with a letter, so it is never a number) names the map.
  const map = args.length > 0 && MAP_NAME.test(args[0]!) ? args[0]! : undefined;
  const parsed = parseViewportWords(map === undefined ? args : args.slice(1));
  if (!parsed.ok) return invalid('viewport', `${VIEWPORT_USAGE} (${parsed.reason})`);
  return map === undefined ? { type: 'viewport', ...parsed.viewport } : { type: 'viewport', ...parsed.viewport, map };
}
