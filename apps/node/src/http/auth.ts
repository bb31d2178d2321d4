import { createHash, timingSafeEqual } from 'node:crypto';
import { HttpError } from './errors.js';
import { DASHBOARD_FILES } from '../ui/dashboard-assets.js';

/**
 * Paths anyone may call without the token: `/healthz` (load balancers probe it), the API's own
 * description and the dashboard's files (they hold no data; the page sends the token with its
 * own requests).
 */
export const PUBLIC_PATHS: ReadonlySet<string> = new Set([
  '/healthz',
  '/v1/openapi.json',
  '/ui',
  ...Object.keys(DASHBOARD_FILES).map((name) => `/ui/${name}`),
]);

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
