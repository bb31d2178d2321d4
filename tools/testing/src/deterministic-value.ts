import { createHash } from 'node:crypto';

/**
 * The only value crash and fault tests ever write for `key`. A value read back that differs was
 * never written: corruption or a mixed-up record.
 *
 * @example
 * ```ts
 * await store.put(key, deterministicValue(key));
 * expect((await store.get(key))?.toString()).to.equal(deterministicValue(key));
 * ```
 */
export function deterministicValue(key: string): string {
  return `${key}:${createHash('sha256').update(key).digest('hex').slice(0, 24)}:${'p'.repeat(key.length % 40)}`;
}
