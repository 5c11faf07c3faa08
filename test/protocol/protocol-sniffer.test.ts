import t from 'tap';
import { ProtocolSniffer } from '../../src/protocol/protocol-sniffer.js';
import { encodeFrameRequest } from '../../src/protocol/frame-encoder.js';
import { concat } from './fixtures/chunking.js';

/** Pushes chunks one by one; returns the decision and the index of the chunk that made it. */
function sniff(chunks: Buffer[]): { protocol: string | undefined; at: number } {
  const s = new ProtocolSniffer();
  for (let i = 0; i < chunks.length; i++) {
    const p = s.push(chunks[i]!);
    if (p !== undefined) return { protocol: p, at: i };
  }
  return { protocol: undefined, at: -1 };
}

const frame = concat(encodeFrameRequest({ command: 'ping' }));

t.test('a frame is detected at its first NUL, even from a 1-byte first chunk', async (t) => {
  // JSON length 18 = 12 00 00 ...: the NUL is the 2nd byte.
  t.same(sniff([frame.subarray(0, 1), frame.subarray(1, 2), frame.subarray(2)]), { protocol: 'frames', at: 1 });
  t.same(sniff([frame]), { protocol: 'frames', at: 0 });
});

t.test('a JSON length of 10 starts with the byte \\n: still frames', async (t) => {
  const ten = Buffer.from('0a00000000000000', 'hex');
  t.same(sniff([ten.subarray(0, 1), ten.subarray(1)]), { protocol: 'frames', at: 1 });
});

t.test('a newline at offset >= 1 with no NUL before it decides lines', async (t) => {
  t.same(sniff([Buffer.from('1_0_0\n')]), { protocol: 'lines', at: 0 });
  t.same(sniff([Buffer.from('x'), Buffer.from('\n')]), { protocol: 'lines', at: 1 });
  t.same(sniff([Buffer.from('\r\n')]), { protocol: 'lines', at: 0 }, 'a bare CRLF (empty line)');
});

t.test('a newline at offset 0 decides nothing on its own', async (t) => {
  t.same(sniff([Buffer.from('\n')]), { protocol: undefined, at: -1 });
  t.same(sniff([Buffer.from('\n'), Buffer.from('\n')]), { protocol: 'lines', at: 1 }, 'two barriers');
  const s = new ProtocolSniffer();
  t.equal(s.push(Buffer.from('\n')), undefined);
  t.equal(s.end(), 'lines', 'a lone barrier then EOF is lines');
});

t.test('8 bytes without NUL or newline decide lines', async (t) => {
  t.same(sniff([Buffer.from('16_5800')]), { protocol: undefined, at: -1 }, '7 bytes are not enough');
  t.same(sniff([Buffer.from('16_5800'), Buffer.from('1')]), { protocol: 'lines', at: 1 });
  t.same(sniff([...Buffer.from('16_58001_25480')].map((b) => Buffer.of(b))), { protocol: 'lines', at: 7 });
});

t.test('only the first 8 bytes count: a NUL after them does not make frames', async (t) => {
  t.same(sniff([Buffer.from('abcdefgh\0')]), { protocol: 'lines', at: 0 });
});

t.test('EOF decides: NUL seen -> frames (already), else lines', async (t) => {
  const s = new ProtocolSniffer();
  t.equal(s.push(Buffer.from('3_4_2')), undefined, 'an old client: one short line, no newline');
  t.equal(s.end(), 'lines');
  t.equal(s.takeBuffered().toString(), '3_4_2');
  t.equal(new ProtocolSniffer().end(), 'lines', 'nothing at all');
});

t.test('takeBuffered returns every byte pushed, in order, once', async (t) => {
  const s = new ProtocolSniffer();
  s.push(frame.subarray(0, 1));
  s.push(frame.subarray(1, 3));
  s.push(frame.subarray(3));
  t.equal(s.protocol, 'frames');
  t.same(s.takeBuffered(), frame);
  t.equal(s.takeBuffered().length, 0, 'emptied');
});
