import { createHash } from 'node:crypto';

/** The only value ever written for `key` in the crash tests: anything else was never written. */
export function valueOf(key: string): string {
  return `${key}:${createHash('sha256').update(key).digest('hex').slice(0, 24)}:${'p'.repeat(key.length % 40)}`;
}
