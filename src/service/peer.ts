import { createHash, timingSafeEqual } from 'node:crypto';

/** True for 127.0.0.0/8, ::1 and their IPv4-mapped forms. */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

/**
 * Admin commands (`stop`, `dirty`, `expire`, `bulk ... force`, `shutdown`)
 * come from loopback peers only, unless an admin token is configured: then
 * the token is required from everyone, loopback included.
 */
export function mayAdminister(peer: string | undefined, token: string | undefined, adminToken: string | undefined): boolean {
  if (adminToken !== undefined) return token !== undefined && sameSecret(token, adminToken);
  return peer === undefined /* stdio: the parent process */ || isLoopback(peer);
}

/** Compares in time independent of where the strings differ (digests: equal lengths). */
function sameSecret(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(a), digest(b));
}
