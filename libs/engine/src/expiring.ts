/**
 * Values with a deadline ({@link ValueKind.Expiring}): how the deadline is stored in front of the
 * value, how a read decides what such a version shows, and what {@link Tree.expiringEntries}
 * lists. A version whose deadline the tree's clock has reached reads exactly like a tombstone.
 */
import { StrataError } from '@strata/core';
import type { InternalEntry } from './entry.js';
import { EXPIRY_PREFIX_BYTES, ValueKind } from './entry.js';
import { readU64, writeU64 } from './util/bytes.js';

/**
 * An expiring version stored in a memtable or a segment, as listed by `Tree.expiringEntries`.
 * `key` is a read-only view into engine memory or a block just read; copy it to keep it.
 */
export interface ExpiringEntry {
  readonly key: Buffer;
  readonly seqno: number;
  /** The deadline, in milliseconds since the Unix epoch (always above 0). */
  readonly expiresAtMs: number;
}

/**
 * The deadline of `entry` in milliseconds since the Unix epoch, or 0 when it is not an
 * {@link ValueKind.Expiring} entry (a plain value or a tombstone never expires).
 *
 * @example
 * ```ts
 * const entry = await tree.getInternalEntry(key, false);
 * if (entry !== undefined && expiresAtMsOf(entry) > 0) scheduleExpiry(key, expiresAtMsOf(entry));
 * ```
 */
export function expiresAtMsOf(entry: InternalEntry): number {
  return entry.kind === ValueKind.Expiring ? readU64(entry.value, 0) : 0;
}

/**
 * The value the user wrote: `entry.value` without the deadline prefix of an expiring entry (a
 * view, no copy), `entry.value` itself otherwise. Whether the entry has expired is not checked.
 *
 * @example
 * ```ts
 * const entry = await tree.getInternalEntry(key);
 * const value = entry === undefined ? undefined : userValueOf(entry);
 * ```
 */
export function userValueOf(entry: InternalEntry): Buffer {
  return entry.kind === ValueKind.Expiring
    ? entry.value.subarray(EXPIRY_PREFIX_BYTES)
    : entry.value;
}

/**
 * What a read shows of the newest visible version of a key at the instant `nowMs`: the user
 * value, or `undefined` for a tombstone and for an expiring value whose deadline is at or before
 * `nowMs`. `now` is called only for an expiring version (once).
 */
export function visibleValue(entry: InternalEntry, now: () => number): Buffer | undefined {
  const kind = entry.kind;
  if (kind === ValueKind.Value) return entry.value;
  if (kind === ValueKind.Tombstone) return undefined;
  return now() >= readU64(entry.value, 0) ? undefined : entry.value.subarray(EXPIRY_PREFIX_BYTES);
}

/**
 * Checks the `expiresAtMs` argument of a write: a non-negative safe integer, 0 meaning never.
 *
 * @throws StrataError `INVALID_ARGUMENT` otherwise.
 */
export function checkExpiresAtMs(expiresAtMs: number): void {
  if (!Number.isSafeInteger(expiresAtMs) || expiresAtMs < 0) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `expiresAtMs must be a safe integer >= 0, got ${expiresAtMs}`,
    );
  }
}

/**
 * The stored value of an expiring entry: the deadline prefix, then `length` bytes of `source`
 * from `start`. One allocation per call.
 */
export function expiringValue(
  source: Uint8Array,
  start: number,
  length: number,
  expiresAtMs: number,
): Buffer {
  const stored = Buffer.allocUnsafe(EXPIRY_PREFIX_BYTES + length);
  writeU64(stored, 0, expiresAtMs);
  stored.set(source.subarray(start, start + length), EXPIRY_PREFIX_BYTES);
  return stored;
}
