import t from 'tap';
import { LineDecoder, OVERSIZE_HEAD_BYTES } from '../../src/protocol/line-decoder.js';
import { MAX_LINE_BYTES } from '../../src/limits.js';
import { chunkings, decodeAll } from './fixtures/chunking.js';

const line = (text: string) => ({ type: 'line', text });

t.test('lines end at \\n; \\r\\n is accepted; the same in every chunking', async (t) => {
  const input = Buffer.from('16_58001_25480\r\n3/4/2\n\nstop\r\n');
  const expected = [line('16_58001_25480'), line('3/4/2'), line(''), line('stop')];
  for (const [label, chunks] of chunkings(input)) {
    t.same(decodeAll(new LineDecoder(), chunks), expected, label);
  }
});

t.test('empty lines come through (they are barriers)', async (t) => {
  t.same(new LineDecoder().push(Buffer.from('\n\r\n\n')), [line(''), line(''), line('')]);
});

t.test('a final line without newline is complete at end() (old clients)', async (t) => {
  const d = new LineDecoder();
  t.same(d.push(Buffer.from('16_58001_')), []);
  t.same(d.push(Buffer.from('25480')), []);
  t.same(d.end(), [line('16_58001_25480')]);
  t.same(d.end(), [], 'end() twice is harmless');
  t.throws(() => d.push(Buffer.from('x')), /after end/);
});

t.test('end() right after a newline or a CR-only tail', async (t) => {
  t.same(decodeAll(new LineDecoder(), [Buffer.from('ping\n')]), [line('ping')], 'nothing extra');
  t.same(decodeAll(new LineDecoder(), [Buffer.from('stop\r')]), [line('stop')], 'trailing \\r dropped');
  t.same(decodeAll(new LineDecoder(), []), [], 'no bytes, no lines');
});

t.test('a multibyte UTF-8 character split across chunks decodes whole', async (t) => {
  const input = Buffer.from('dirty 1_0_0 Zürich→🗺\n');
  for (const [label, chunks] of chunkings(input)) {
    t.same(decodeAll(new LineDecoder(), chunks), [line('dirty 1_0_0 Zürich→🗺')], label);
  }
});

t.test('invalid UTF-8 becomes U+FFFD, the line still comes through', async (t) => {
  t.same(new LineDecoder().push(Buffer.from([0x61, 0xff, 0x62, 0x0a])), [line('a\ufffdb')]);
});

t.test('a 1 MiB line: one oversize item, then the next line parses', async (t) => {
  const big = Buffer.alloc(1024 * 1024, 'A');
  const input = Buffer.concat([Buffer.from('1_0_0\n'), big, Buffer.from('\n2_1_1\n')]);
  for (const [label, chunks] of chunkings(input, 5)) {
    const items = decodeAll(new LineDecoder(), chunks);
    t.equal(items.length, 3, label);
    t.same(items[0], line('1_0_0'));
    t.match(items[1], { type: 'oversize', head: 'A'.repeat(OVERSIZE_HEAD_BYTES), limit: MAX_LINE_BYTES });
    t.ok((items[1] as { bytes: number }).bytes > MAX_LINE_BYTES, 'bytes is over the limit');
    t.same(items[2], line('2_1_1'), label);
  }
});

t.test('the oversize item comes as soon as the limit is passed, without buffering the rest', async (t) => {
  const d = new LineDecoder({ maxLineBytes: 10 });
  t.same(d.push(Buffer.from('0123456789')), [], 'exactly the limit: still fine');
  t.same(d.push(Buffer.from('a')), [], 'one more byte may still be a \\r');
  t.same(d.push(Buffer.from('b')), [{ type: 'oversize', head: '0123456789ab', bytes: 12, limit: 10 }]);
  t.same(d.push(Buffer.alloc(100_000, 'x')), [], 'dropped, reported once');
  t.same(d.push(Buffer.from('yy\nok\n')), [line('ok')]);
});

t.test('limit edges: max bytes passes, max + 1 does not, \\r does not count', async (t) => {
  const ten = '0123456789';
  t.same(new LineDecoder({ maxLineBytes: 10 }).push(Buffer.from(`${ten}\n`)), [line(ten)]);
  t.same(new LineDecoder({ maxLineBytes: 10 }).push(Buffer.from(`${ten}\r\n`)), [line(ten)]);
  t.same(new LineDecoder({ maxLineBytes: 10 }).push(Buffer.from(`${ten}x\n`)), [
    { type: 'oversize', head: `${ten}x`, bytes: 11, limit: 10 },
  ]);
  t.same(decodeAll(new LineDecoder({ maxLineBytes: 10 }), [Buffer.from(`${ten}x`)]), [
    { type: 'oversize', head: `${ten}x`, bytes: 11, limit: 10 },
  ], 'also for a final unterminated line');
  t.same(decodeAll(new LineDecoder({ maxLineBytes: 4 }), [Buffer.from('abcdefgh')]), [
    { type: 'oversize', head: 'abcdefgh', bytes: 8, limit: 4 },
  ], 'an oversize tail at end() is reported once, not again as a line');
});

t.test('the oversize head is cut at a character boundary', async (t) => {
  // 63 ASCII bytes then a 4-byte emoji: byte 64 falls inside it.
  const text = `${'a'.repeat(63)}🗺${'b'.repeat(100)}`;
  const [item] = new LineDecoder({ maxLineBytes: 80 }).push(Buffer.from(`${text}\n`));
  t.same(item, { type: 'oversize', head: 'a'.repeat(63), bytes: Buffer.byteLength(text), limit: 80 });
});

t.test('options are validated', async (t) => {
  t.throws(() => new LineDecoder({ maxLineBytes: 0 }), RangeError);
  t.throws(() => new LineDecoder({ maxLineBytes: 1.5 }), RangeError);
});
