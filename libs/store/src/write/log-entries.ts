import { StrataError } from '@strata/core';
import { LogOp } from '@strata/wal';
import type { LogEntry } from '@strata/wal';
import { keyBytes, prefixUpperBound, toBytes } from '../input.js';
import type { BytesLike } from '../input.js';

/** One operation of {@link Store.batch}. */
export type BatchOperation =
  | {
      readonly type: 'put';
      readonly key: BytesLike;
      readonly value: BytesLike;
      /** Only if the key's version equals this (see `Store.put`). */
      readonly ifSeqno?: number;
      /** Time to live in milliseconds (see `Store.put`). */
      readonly ttlMs?: number;
    }
  | {
      readonly type: 'delete';
      readonly key: BytesLike;
      /** Only if the key's version equals this (see `Store.put`). */
      readonly ifSeqno?: number;
    }
  | ({ readonly type: 'deleteRange' } & KeyRangeToDelete);

/**
 * The keys a range delete removes: `[start, end)` (start inclusive, end exclusive), or every key
 * under `prefix`. One log entry and one seqno, whatever the number of keys.
 */
export type KeyRangeToDelete =
  | { readonly start: BytesLike; readonly end: BytesLike; readonly prefix?: undefined }
  | { readonly prefix: BytesLike; readonly start?: undefined; readonly end?: undefined };

const EMPTY = Buffer.alloc(0);

/** The longest time to live: about 100 years, far beyond any deadline a clock can reach. */
export const MAX_TTL_MS = 100 * 365 * 24 * 3600 * 1000;

/**
 * Checks a time to live: a whole number of milliseconds from 1 to {@link MAX_TTL_MS}.
 *
 * @throws StrataError `INVALID_ARGUMENT` otherwise.
 */
export function checkTtlMs(ttlMs: unknown, what = 'ttlMs'): number {
  if (
    typeof ttlMs !== 'number' ||
    !Number.isSafeInteger(ttlMs) ||
    ttlMs < 1 ||
    ttlMs > MAX_TTL_MS
  ) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `${what} must be a whole number of milliseconds from 1 to ${MAX_TTL_MS}, got ${String(ttlMs)}`,
    );
  }
  return ttlMs;
}

/**
 * The log entry of a put, its key checked against `maxKeyBytes`; with `ttlMs`, it expires that
 * long after `nowMs` (the deadline is stored absolute, so replicas and replays agree on it).
 */
export function putEntry(
  key: BytesLike,
  value: BytesLike,
  maxKeyBytes: number,
  ttlMs?: number,
  nowMs = 0,
): LogEntry {
  const entry = { op: LogOp.Put, key: keyBytes(key, maxKeyBytes), value: toBytes(value, 'value') };
  if (ttlMs === undefined) return entry;
  return { ...entry, expiresAtMs: nowMs + checkTtlMs(ttlMs) };
}

/** The log entry of a delete (a tombstone), its key checked against `maxKeyBytes`. */
export function deleteEntry(key: BytesLike, maxKeyBytes: number): LogEntry {
  return { op: LogOp.Delete, key: keyBytes(key, maxKeyBytes), value: EMPTY };
}

/**
 * The log entry of a range delete: key = start, value = exclusive end.
 *
 * `start` may be the empty key (the smallest key), so `[empty, end)` deletes every key below
 * `end`.
 *
 * @throws StrataError `INVALID_ARGUMENT` unless start < end (or for the empty prefix or a prefix of
 * 0xff bytes only, which have no end key), `KEY_TOO_LARGE`.
 */
export function deleteRangeEntry(range: KeyRangeToDelete, maxKeyBytes: number): LogEntry {
  if (range === null || typeof range !== 'object') {
    throw new StrataError('INVALID_ARGUMENT', 'a range delete needs start and end, or a prefix');
  }
  if (range.prefix !== undefined) {
    if (range.start !== undefined || range.end !== undefined) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        'a range delete takes a prefix or start and end, not both',
      );
    }
    const prefix = keyBytes(range.prefix, maxKeyBytes);
    const end = prefixUpperBound(prefix);
    if (end === undefined) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        'the empty prefix and a prefix of 0xff bytes only have no end key; delete them with start and end',
      );
    }
    return { op: LogOp.DeleteRange, key: prefix, value: end };
  }
  if (range.start === undefined || range.end === undefined) {
    throw new StrataError('INVALID_ARGUMENT', 'a range delete needs start and end, or a prefix');
  }
  const start = keyBytes(range.start, maxKeyBytes);
  const end = keyBytes(range.end, maxKeyBytes);
  if (Buffer.compare(start, end) >= 0) {
    throw new StrataError('INVALID_ARGUMENT', 'a range delete needs start < end');
  }
  return { op: LogOp.DeleteRange, key: start, value: end };
}

/**
 * The log entries of a batch's operations, in order.
 *
 * @throws StrataError `INVALID_ARGUMENT` for an empty batch, an operation of unknown type or a
 * bad `ttlMs`, `KEY_TOO_LARGE`.
 */
export function batchEntries(
  operations: readonly BatchOperation[],
  maxKeyBytes: number,
  nowMs: number,
): LogEntry[] {
  const list: readonly BatchOperation[] = operations;
  if (!Array.isArray(list) || list.length === 0) {
    throw new StrataError('INVALID_ARGUMENT', 'a batch needs at least one operation');
  }
  return list.map((operation: BatchOperation, index): LogEntry => {
    if (operation?.type === 'put') {
      const ttlMs = operation.ttlMs;
      if (ttlMs !== undefined) checkTtlMs(ttlMs, `operation ${index} ttlMs`);
      return putEntry(operation.key, operation.value, maxKeyBytes, ttlMs, nowMs);
    }
    if (operation?.type === 'delete') return deleteEntry(operation.key, maxKeyBytes);
    if (operation?.type === 'deleteRange') return deleteRangeEntry(operation, maxKeyBytes);
    throw new StrataError(
      'INVALID_ARGUMENT',
      `operation ${index} has unknown type ${String((operation as { type?: unknown })?.type)}`,
    );
  });
}
