import { createHash, timingSafeEqual } from 'node:crypto';
import { HttpError } from './errors.js';

/** Routes anyone may call without the token (load balancers probe them). */
export const PUBLIC_PATHS: ReadonlySet<string> = new Set(['/healthz']);

/** The digest a token is compared by; compute it once per server, not per request. */
export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/**
 * Checks `Authorization: Bearer <token>` against the expected token's {@link tokenDigest} in
 * constant time (digests of equal length are compared, so neither the token nor its length leaks
 * through timing). Throws `UNAUTHENTICATED`.
 */
export function checkBearerToken(header: string | undefined, expectedDigest: Buffer): void {
  const match = header === undefined ? null : /^Bearer\s+(.+)$/i.exec(header.trim());
  if (!match) throw new HttpError('UNAUTHENTICATED', 'a bearer token is required');
  if (!timingSafeEqual(tokenDigest(match[1] as string), expectedDigest)) {
    throw new HttpError('UNAUTHENTICATED', 'the bearer token is not valid');
  }
}

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost' || bare === '::1' || bare === '0:0:0:0:0:0:0:1') return true;
  if (bare.startsWith('::ffff:')) return isLoopbackHost(bare.slice('::ffff:'.length));
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}
