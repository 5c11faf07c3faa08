/**
 * The .meta reader is a security boundary (a file another process wrote):
 * every count, offset and size is checked against the file, and tiles come
 * back in tilesOfMeta order from tirex's column-major entries.
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { metatilePath, parseMetatileFile, readMetatileFile } from '../../../src/render/tirex/metatile-file.js';
import { tempDir } from './helpers.js';
import { decodeReply, encodeRenderRequest } from '../../../src/render/tirex/message.js';
import { MAX_TIREX_MESSAGE_BYTES, MAX_TIREX_METATILE_BYTES } from '../../../src/limits.js';

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** A .meta as tirex writes it: entry dx * n + dy holds a fake "PNG" naming its tile. */
function metaFile(z: number, x: number, y: number, n: number, side = n): Buffer {
  const pngs: Buffer[] = [];
  const index = Buffer.alloc(n * n * 8);
  let offset = 20 + n * n * 8;
  for (let dx = 0; dx < n; dx++) {
    for (let dy = 0; dy < n; dy++) {
      const png = dx < side && dy < side ? Buffer.concat([PNG, Buffer.from(`${x + dx},${y + dy}`)]) : Buffer.alloc(0);
      index.writeInt32LE(png.length ? offset : 0, (dx * n + dy) * 8);
      index.writeInt32LE(png.length, (dx * n + dy) * 8 + 4);
      pngs.push(png);
      offset += png.length;
    }
  }
  const header = Buffer.alloc(20);
  header.write('META', 0, 'latin1');
  [n * n, x, y, z].forEach((v, i) => header.writeInt32LE(v, 4 + 4 * i));
  return Buffer.concat([header, index, ...pngs]);
}

const label = (png: Uint8Array) => Buffer.from(png.subarray(8)).toString();

t.test('metatilePath builds tirex\'s Z/a/b/c/d/e.meta from x and y, four bits at a time', async (t) => {
  t.equal(metatilePath('/t', 3, 0, 0), '/t/3/0/0/0/0/0.meta');
  t.equal(metatilePath('/t', 4, 8, 0), '/t/4/0/0/0/0/128.meta');
  t.equal(metatilePath('/t', 16, 58000, 25480), '/t/16/0/230/35/152/8.meta', 'as Tirex::Metatile->get_filename: x=0xE290, y=0x6388, lowest nibbles last');
});

t.test('parseMetatileFile returns the tiles row by row from tirex\'s column-major entries', async (t) => {
  const tiles = parseMetatileFile(metaFile(4, 8, 0, 8), { z: 4, x: 8, y: 0, size: 8 }, 8, 'f');
  t.equal(tiles.length, 64);
  t.same([tiles[0]!.x, tiles[0]!.y, label(tiles[0]!.png)], [8, 0, '8,0']);
  t.same([tiles[1]!.x, tiles[1]!.y, label(tiles[1]!.png)], [9, 0, '9,0'], 'the second tile is the next column of the first row');
  t.same([tiles[8]!.x, tiles[8]!.y, label(tiles[8]!.png)], [8, 1, '8,1']);
  const low = parseMetatileFile(metaFile(1, 0, 0, 8, 2), { z: 1, x: 0, y: 0, size: 2 }, 8, 'f');
  t.same(low.map((x) => label(x.png)), ['0,0', '1,0', '0,1', '1,1'], 'z1: 4 tiles of a 64-entry file, the empty entries ignored');
});

t.test('parseMetatileFile rejects, with PROCESSING_ERROR, every inconsistency a broken or hostile backend could write', async (t) => {
  const meta = { z: 4, x: 8, y: 0, size: 8 };
  const good = metaFile(4, 8, 0, 8);
  const with32 = (at: number, v: number) => {
    const b = Buffer.from(good);
    b.writeInt32LE(v, at);
    return b;
  };
  const cases: Array<[string, Buffer, RegExp]> = [
    ['empty', Buffer.alloc(0), /no META header/],
    ['wrong magic', Buffer.concat([Buffer.from('ATEM'), good.subarray(4)]), /no META header/],
    ['count not n×n', with32(4, 63), /63 entries, expected 64/],
    ['huge count', with32(4, 0x7fffffff), /entries, expected 64/],
    ['another metatile', with32(8, 16), /holds 4\/16\/0, not the metatile asked for/],
    ['truncated index', good.subarray(0, 100), /shorter than its 64-entry index/],
    ['offset past the end', with32(20, good.length + 10), /lies outside the file/],
    ['negative offset', with32(20, -5), /lies outside the file/],
    ['offset into the index', with32(20, 24), /lies outside the file/],
    ['size past the end', with32(24, 1 << 30), /lies outside the file/],
    ['empty tile', with32(24, 0), /is empty/],
    ['not a PNG', with32(20, 0 + 20 + 64 * 8 + 1), /not a PNG/],
  ];
  for (const [what, buf, why] of cases) {
    t.throws(() => parseMetatileFile(buf, meta, 8, 'x.meta'), { code: 'PROCESSING_ERROR', message: why }, what);
  }
});

t.test('requests encode as tirex key=value lines; replies decode typed, and oversized or malformed ones are refused', async (t) => {
  t.equal(encodeRenderRequest({ id: 'a1', map: 'osm', prio: 1, x: 8, y: 16, z: 5 }).toString(), 'type=metatile_render_request\nid=a1\nmap=osm\nprio=1\nx=8\ny=16\nz=5\n');
  const r = decodeReply(Buffer.from('id=1\nmap=test\nmetatile=/t/3/0/0/0/0/0.meta\nrender_time=667\nresult=ok\ntype=metatile_render_request\nx=0\ny=0\nz=3\n'));
  t.match(r, { id: '1', result: 'ok', metatile: '/t/3/0/0/0/0/0.meta', renderTimeMs: 667, x: 0, y: 0, z: 3 });
  t.equal(decodeReply(Buffer.alloc(MAX_TIREX_MESSAGE_BYTES + 1, 0x61)), undefined, 'over MAX_TIREX_MESSAGE_BYTES');
  t.equal(decodeReply(Buffer.from('result ok\n')), undefined, 'not key=value');
  t.equal(decodeReply(Buffer.from('x=-1\nresult=ok\n'))?.x, undefined, 'a number that is not a tile number is dropped');
});

t.test('readMetatileFile refuses a file over its byte limit (MAX_TIREX_METATILE_BYTES) before reading it, and reads one at the limit', async (t) => {
  const file = path.join(tempDir(t), 'x.meta');
  const buf = metaFile(4, 8, 0, 8);
  writeFileSync(file, buf);
  const meta = { z: 4, x: 8, y: 0, size: 8 };
  t.equal((await readMetatileFile(file, meta, 8, buf.length)).length, 64, 'a file exactly at the limit is read');
  await t.rejects(readMetatileFile(file, meta, 8, buf.length - 1), { code: 'PROCESSING_ERROR', message: /over MAX_TIREX_METATILE_BYTES/ });
  t.ok(MAX_TIREX_METATILE_BYTES >= 64 * 1024 * 1024, 'the default leaves room for 64 busy 512 px PNGs');
  await t.rejects(readMetatileFile(path.join(path.dirname(file), 'gone.meta'), meta, 8), { code: 'ENOENT' });
});
