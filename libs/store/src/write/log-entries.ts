import { StrataError } from '@strata/core';
import { LogOp } from '@strata/wal';
import type { LogEntry } from '@strata/wal';
import { keyBytes, toBytes } from '../input.js';
import type { BytesLike } from '../input.js';

/** One operation of {@link Store.batch}. */
export type BatchOperation =
  | {
      readonly type: 'put';
      readonly key: BytesLike;
      readonly value: BytesLike;
      /** Only if the key's version equals this (see `Store.put`). */
      readonly ifSeqno?: number;
    }
  | {
      readonly type: 'delete';
      readonly key: BytesLike;
      /** Only if the key's version equals this (see `Store.put`). */
      readonly ifSeqno?: number;
    };

const EMPTY = Buffer.alloc(0);

/** The log entry of a put, its key checked against `maxKeyBytes`. */
export function putEntry(key: BytesLike, value: BytesLike, maxKeyBytes: number): LogEntry {
  return { op: LogOp.Put, key: keyBytes(key, maxKeyBytes), value: toBytes(value, 'value') };
}

/** The log entry of a delete (a tombstone), its key checked against `maxKeyBytes`. */
export function deleteEntry(key: BytesLike, maxKeyBytes: number): LogEntry {
  return { op: LogOp.Delete, key: keyBytes(key, maxKeyBytes), value: EMPTY };
}

/**
 * The log entries of a batch's operations, in order.
 *
 * @throws StrataError `INVALID_ARGUMENT` for an empty batch or an operation of unknown type,
 * `KEY_TOO_LARGE`.
 */
export function batchEntries(
  operations: readonly BatchOperation[],
  maxKeyBytes: number,
): LogEntry[] {
  const list: readonly BatchOperation[] = operations;
  if (!Array.isArray(list) || list.length === 0) {
    throw new StrataError('INVALID_ARGUMENT', 'a batch needs at least one operation');
  }
  return list.map((operation: BatchOperation, index): LogEntry => {
    if (operation?.type === 'put') return putEntry(operation.key, operation.value, maxKeyBytes);
    if (operation?.type === 'delete') return deleteEntry(operation.key, maxKeyBytes);
    throw new StrataError(
      'INVALID_ARGUMENT',
      `operation ${index} has unknown type ${String((operation as { type?: unknown })?.type)}`,
    );
  });
}
