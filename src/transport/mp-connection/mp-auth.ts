import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The multiprocessing.connection authkey handshake, listener side
 * (CPython `deliver_challenge` then `answer_challenge`):
 *
 *   us → client  #CHALLENGE#{sha256}<40 random bytes>
 *   client → us  HMAC of the challenge: 16 raw bytes of HMAC-MD5 (Python ≤ 3.11,
 *                which MACs the whole challenge, prefix included) or
 *                {digest}<HMAC-digest> (3.12+)
 *   us → client  #WELCOME# or #FAILURE# (then close)
 *   client → us  #CHALLENGE#<20 bytes> (≤ 3.11) or #CHALLENGE#{digest}<40 bytes> (3.12+)
 *   us → client  the answer in the form the challenge asked for
 *   client → us  #WELCOME# or #FAILURE#
 *
 * Each step is one framed message of at most AUTH_MESSAGE_BYTES.
 */
export const CHALLENGE = Buffer.from('#CHALLENGE#');
export const WELCOME = Buffer.from('#WELCOME#');
export const FAILURE = Buffer.from('#FAILURE#');

/** CPython reads each handshake message with recv_bytes(256). */
export const AUTH_MESSAGE_BYTES = 256;

/** Random bytes in our challenge (CPython 3.12: 40; the legacy form used 20). */
const CHALLENGE_BYTES = 40;
/** Lengths that mean the legacy HMAC-MD5 form with no {digest} prefix. */
const LEGACY_LENGTHS = new Set([16, 20]);
/** Python digest name → Node's. */
const DIGESTS: Readonly<Record<string, string>> = { md5: 'md5', sha256: 'sha256', sha384: 'sha384', sha3_256: 'sha3-256', sha3_384: 'sha3-384' };

export type AuthForm = 'md5 (Python <= 3.11)' | `{${string}} (Python >= 3.12)`;

/** Our challenge: the message to send, and the part the client MACs. */
export function makeChallenge(): { message: Buffer; payload: Buffer } {
  const payload = Buffer.concat([Buffer.from('{sha256}'), randomBytes(CHALLENGE_BYTES)]);
  return { message: Buffer.concat([CHALLENGE, payload]), payload };
}

/** Checks the client's answer to our challenge; returns the form it used, or undefined when wrong. */
export function verifyResponse(authkey: Buffer, payload: Buffer, response: Buffer): AuthForm | undefined {
  const parsed = digestOf(response);
  if (!parsed) return undefined;
  const expected = createHmac(DIGESTS[parsed.name]!, authkey).update(payload).digest();
  if (expected.length !== parsed.mac.length || !timingSafeEqual(expected, parsed.mac)) return undefined;
  return parsed.legacy ? 'md5 (Python <= 3.11)' : `{${parsed.name}} (Python >= 3.12)`;
}

/** Our answer to the client's challenge message, or undefined when it is not a challenge we can answer. */
export function answerChallenge(authkey: Buffer, message: Buffer): Buffer | undefined {
  if (!message.subarray(0, CHALLENGE.length).equals(CHALLENGE)) return undefined;
  const payload = message.subarray(CHALLENGE.length);
  if (payload.length < 20) return undefined;
  const parsed = digestOf(payload);
  if (!parsed) return undefined;
  const mac = createHmac(DIGESTS[parsed.name]!, authkey).update(payload).digest();
  return parsed.legacy ? mac : Buffer.concat([Buffer.from(`{${parsed.name}}`), mac]);
}

/** CPython's `_get_digest_name_and_payload`: legacy by length, else a `{digest}` prefix. */
function digestOf(message: Buffer): { name: string; mac: Buffer; legacy: boolean } | undefined {
  if (LEGACY_LENGTHS.has(message.length)) return { name: 'md5', mac: message, legacy: true };
  if (message[0] !== 0x7b /* { */) return undefined;
  const close = message.indexOf(0x7d /* } */, 1);
  if (close < 0 || close > 10) return undefined;
  const name = message.subarray(1, close).toString('latin1');
  if (!(name in DIGESTS)) return undefined;
  return { name, mac: message.subarray(close + 1), legacy: false };
}
