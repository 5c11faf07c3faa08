import t from 'tap';
import { ErrorCode } from '../../src/errors.js';
import { MpMessageDecoder, encodeMpMessage, type MpDecoderItem } from '../../src/transport/mp-connection/index.js';
import { chunkings } from '../protocol/fixtures/chunking.js';
import { python } from './fixtures/python.js';

const messages = [Buffer.from('hello'), Buffer.alloc(0), Buffer.from(Array.from({ length: 70_000 }, (_, i) => i & 0xff)), Buffer.from('#WELCOME#')];

function decode(d: MpMessageDecoder, chunks: Buffer[]): MpDecoderItem[] {
  return chunks.flatMap((c) => d.push(c));
}

t.test('our framing is byte for byte what Connection.send_bytes writes', async (t) => {
  // Capture send_bytes through a socketpair, as multiprocessing frames it.
  const hex = await python(
    "import socket, sys\nfrom multiprocessing.connection import Connection\na, b = socket.socketpair()\nc = Connection(a.detach())\nc.send_bytes(b'hello')\nc.send_bytes(b'')\nsys.stdout.write(b.recv(100).hex())",
  );
  t.same(Buffer.from(hex, 'hex'), Buffer.concat([encodeMpMessage(Buffer.from('hello')), encodeMpMessage(Buffer.alloc(0))]));
});

t.test('whole, byte by byte and randomly split streams decode to the same messages, the empty one included', async (t) => {
  const stream = Buffer.concat(messages.map(encodeMpMessage));
  for (const [label, chunks] of chunkings(stream)) {
    const items = decode(new MpMessageDecoder(1 << 20), chunks);
    t.same(
      items.map((i) => (i.type === 'message' ? i.bytes : i.type)),
      messages,
      label,
    );
  }
});

t.test('the -1 + 8-byte length form is read (as Python writes messages of 2 GiB and more)', async (t) => {
  const body = Buffer.from('large-form');
  const header = Buffer.alloc(12);
  header.writeInt32BE(-1, 0);
  header.writeBigUInt64BE(BigInt(body.length), 4);
  for (const [label, chunks] of chunkings(Buffer.concat([header, body, encodeMpMessage(Buffer.from('next'))]), 5)) {
    t.same(decode(new MpMessageDecoder(100), chunks).map((i) => (i.type === 'message' ? i.bytes.toString() : i.type)), ['large-form', 'next'], label);
  }
});

t.test('a length over the limit is fatal as soon as the length is read, in both length forms', async (t) => {
  const d = new MpMessageDecoder(100);
  const header = Buffer.alloc(4);
  header.writeInt32BE(101, 0);
  const [item] = d.push(header);
  t.equal(item?.type, 'fatal');
  t.equal(item?.type === 'fatal' && item.error.code, ErrorCode.TOO_LARGE);
  t.match(item?.type === 'fatal' && item.error.message, /101 bytes is over the limit of 100 bytes \(--max-payload-bytes\)/);
  t.same(d.push(Buffer.alloc(10)), [], 'later bytes are ignored');

  const huge = Buffer.alloc(12);
  huge.writeInt32BE(-1, 0);
  huge.writeBigUInt64BE(2n ** 63n, 4);
  const [big] = new MpMessageDecoder(100).push(huge);
  t.equal(big?.type === 'fatal' && big.error.code, ErrorCode.TOO_LARGE);

  const negative = Buffer.alloc(4);
  negative.writeInt32BE(-5, 0);
  const [neg] = new MpMessageDecoder(100).push(negative);
  t.match(neg?.type === 'fatal' && neg.error.message, /length -5 is negative/);
});

t.test('a stream that ends mid-message is reported as truncated', async (t) => {
  const d = new MpMessageDecoder(100);
  t.same(d.push(encodeMpMessage(Buffer.from('abcdef')).subarray(0, 7)), []);
  const [item] = d.end();
  t.equal(item?.type, 'truncated');
  t.same(new MpMessageDecoder(100).end(), [], 'between messages: nothing to report');
});

t.test('the handshake messages have their own small limit, and a request in the same chunk as the last one gets the full limit', async (t) => {
  const d = new MpMessageDecoder(1000, { messages: 2, maxBytes: 10 });
  const items = d.push(Buffer.concat([encodeMpMessage(Buffer.from('#WELCOME#')), encodeMpMessage(Buffer.alloc(10)), encodeMpMessage(Buffer.alloc(500))]));
  t.same(items.map((i) => (i.type === 'message' ? i.bytes.length : i.type)), [9, 10, 500]);
  const [fatal] = new MpMessageDecoder(1000, { messages: 2, maxBytes: 10 }).push(encodeMpMessage(Buffer.alloc(11)));
  t.match(fatal?.type === 'fatal' && fatal.error.message, /handshake message of 11 bytes is over 10 bytes/);
});
