import t from 'tap';
import { readFileSync } from 'node:fs';
import { ErrorCode, MosaicError, BusyError, codeOf } from '../src/errors.js';

t.test('every error code is documented in docs/errors.md, and every documented code exists', async (t) => {
  const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
  const documented = new Set([...doc.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]));
  t.same([...documented].sort(), Object.values(ErrorCode).sort());
  for (const [key, value] of Object.entries(ErrorCode)) t.equal(key, value, 'each key equals its code');
});

t.test('codes travel with the errors; anything else is a processing error', async (t) => {
  t.equal(codeOf(new BusyError('full')), 'BUSY');
  t.ok(new BusyError('full') instanceof MosaicError);
  t.equal(codeOf(new Error('boom')), 'PROCESSING_ERROR');
  t.equal(codeOf('a string'), 'PROCESSING_ERROR');
});
