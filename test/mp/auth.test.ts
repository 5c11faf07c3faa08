import t from 'tap';
import { createHmac } from 'node:crypto';
import { CHALLENGE, answerChallenge, makeChallenge, mayConnect, verifyResponse } from '../../src/transport/mp-connection/index.js';

const key = Buffer.from('secret');

t.test('our challenge is the 3.12 form: #CHALLENGE#{sha256} and 40 random bytes', async (t) => {
  const { message, payload } = makeChallenge();
  t.ok(message.subarray(0, CHALLENGE.length).equals(CHALLENGE));
  t.equal(payload.subarray(0, 8).toString(), '{sha256}');
  t.equal(payload.length, 48);
  t.notSame(makeChallenge().payload, payload, 'fresh random bytes each time');
});

t.test('the answer to our challenge is accepted in the Python 3.11 form (raw HMAC-MD5 of the whole challenge) and the 3.12+ forms', async (t) => {
  const { payload } = makeChallenge();
  t.equal(verifyResponse(key, payload, createHmac('md5', key).update(payload).digest()), 'md5 (Python <= 3.11)');
  const sha = Buffer.concat([Buffer.from('{sha256}'), createHmac('sha256', key).update(payload).digest()]);
  t.equal(verifyResponse(key, payload, sha), '{sha256} (Python >= 3.12)');
  const sha3 = Buffer.concat([Buffer.from('{sha3_256}'), createHmac('sha3-256', key).update(payload).digest()]);
  t.equal(verifyResponse(key, payload, sha3), '{sha3_256} (Python >= 3.12)');
});

t.test('a wrong key, a wrong length, an unknown digest or a MAC of the wrong bytes is refused', async (t) => {
  const { payload } = makeChallenge();
  const other = Buffer.from('wrong');
  t.equal(verifyResponse(key, payload, createHmac('md5', other).update(payload).digest()), undefined, 'md5 with the wrong key');
  t.equal(verifyResponse(key, payload, Buffer.concat([Buffer.from('{sha256}'), createHmac('sha256', other).update(payload).digest()])), undefined, 'sha256 with the wrong key');
  t.equal(verifyResponse(key, payload, Buffer.concat([Buffer.from('{sha256}'), createHmac('md5', key).update(payload).digest()])), undefined, 'a digest shorter than its name says');
  t.equal(verifyResponse(key, payload, Buffer.concat([Buffer.from('{sha1}'), createHmac('sha1', key).update(payload).digest()])), undefined, 'sha1 is not allowed');
  t.equal(verifyResponse(key, payload, createHmac('md5', key).update(payload.subarray(8)).digest()), undefined, 'the MAC must cover the {sha256} prefix too');
  t.equal(verifyResponse(key, payload, Buffer.from('pickle bytes of a client without a key')), undefined);
});

t.test("we answer a 3.11 client's 20-byte challenge with raw HMAC-MD5, a 3.12 one with {digest} + HMAC", async (t) => {
  const legacy = Buffer.alloc(20, 7);
  t.same(answerChallenge(key, Buffer.concat([CHALLENGE, legacy])), createHmac('md5', key).update(legacy).digest());
  const modern = Buffer.concat([Buffer.from('{sha384}'), Buffer.alloc(40, 9)]);
  t.same(answerChallenge(key, Buffer.concat([CHALLENGE, modern])), Buffer.concat([Buffer.from('{sha384}'), createHmac('sha384', key).update(modern).digest()]));
  t.equal(answerChallenge(key, Buffer.from('#WELCOME#')), undefined, 'not a challenge');
  t.equal(answerChallenge(key, Buffer.concat([CHALLENGE, Buffer.alloc(10)])), undefined, 'too short');
  t.equal(answerChallenge(key, Buffer.concat([CHALLENGE, Buffer.from('{whirlpool}'), Buffer.alloc(40)])), undefined, 'unknown digest');
});

t.test('without an authkey only loopback peers may connect; with one, any peer may try', async (t) => {
  for (const peer of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) t.equal(mayConnect(peer, false), true, peer);
  for (const peer of ['10.0.0.5', '192.168.1.2', '::ffff:10.0.0.5', 'fe80::1', undefined]) t.equal(mayConnect(peer, false), false, String(peer));
  t.equal(mayConnect('10.0.0.5', true), true);
});
