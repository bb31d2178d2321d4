import { StrataError } from '@strata/core';
import { LogOp } from '@strata/wal';
import type { EntryVisitor, LogEntry } from '@strata/wal';
import { keyBytes, prefixUpperBound, toBytes } from '../input.js';
import type { BytesLike } from '../input.js';
import type { BatchOperation } from './log-entries.js';

/**
 * A batch-level check: the batch fails unless no key under `prefix` was written (put, delete or
 * range delete) after seqno `noWritesAfter`. It is the "nothing new in my stream since I read it"
 * append of event stores: read a prefix at seqno N, decide, then write with `noWritesAfter: N`.
 */
export interface PrefixCheck {
  readonly prefix: BytesLike;
  readonly noWritesAfter: number;
}

/** One failed check of a conditional write, as `details.conflicts` of a `CONFLICT` error lists it. */
export type Conflict =
  | {
      readonly kind: 'key';
      readonly key: Buffer;
      /** The version the write required (`ifSeqno`). */
      readonly expectedSeqno: number;
      /** The key's version when the write was ordered: its last put's seqno, 0 if absent. */
      readonly actualSeqno: number;
    }
  | {
      readonly kind: 'prefix';
      readonly prefix: Buffer;
      /** `noWritesAfter` of the check. */
      readonly expectedSeqno: number;
      /** The newest write under the prefix. */
      readonly actualSeqno: number;
    };

/** The checks of one write, validated and in bytes. */
export interface WriteConditions {
  readonly keys: readonly Buffer[];
  readonly ifSeqnos: readonly number[];
  readonly prefixes: readonly Buffer[];
  readonly noWritesAfter: readonly number[];
  /**
   * Compare raw versions: an expiring put whose deadline passed still counts as the key's version
   * (the expiry writer deletes exactly that put). Otherwise an expired key's version is 0.
   */
  readonly ignoreExpiry?: boolean;
}

/** Checks `ifSeqno` (a version: a non-negative integer); INVALID_ARGUMENT otherwise. */
export function checkIfSeqno(ifSeqno: unknown, what = 'ifSeqno'): number {
  if (typeof ifSeqno !== 'number' || !Number.isSafeInteger(ifSeqno) || ifSeqno < 0) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `${what} must be a non-negative integer, got ${String(ifSeqno)}`,
    );
  }
  return ifSeqno;
}

/**
 * The conditions of a write: key checks (`ifSeqno` per key) and prefix checks. Undefined when
 * there are none, so an unconditional write takes the plain path.
 *
 * The empty prefix is allowed: every key starts with it, so its check fails on any write after
 * `noWritesAfter` (an epoch start is no write: entries are told apart by their op).
 *
 * @throws StrataError `INVALID_ARGUMENT` for a bad seqno, `KEY_TOO_LARGE`.
 */
export function writeConditions(
  keyChecks: readonly { readonly key: Buffer; readonly ifSeqno: number }[],
  prefixChecks: readonly PrefixCheck[] | undefined,
  maxKeyBytes: number,
): WriteConditions | undefined {
  if (prefixChecks !== undefined && !Array.isArray(prefixChecks)) {
    throw new StrataError('INVALID_ARGUMENT', 'checks must be an array');
  }
  const checks: readonly PrefixCheck[] = prefixChecks ?? [];
  if (keyChecks.length === 0 && checks.length === 0) return undefined;
  return {
    keys: keyChecks.map((check) => check.key),
    ifSeqnos: keyChecks.map((check) => checkIfSeqno(check.ifSeqno)),
    prefixes: checks.map((check, index) => {
      if (check === null || typeof check !== 'object') {
        throw new StrataError('INVALID_ARGUMENT', `checks[${index}] must be an object`);
      }
      return keyBytes(toBytes(check.prefix, 'key'), maxKeyBytes);
    }),
    noWritesAfter: checks.map((check, index) =>
      checkIfSeqno(check.noWritesAfter, `checks[${index}].noWritesAfter`),
    ),
  };
}

/**
 * The conditions of a batch: each operation's `ifSeqno` (on the key as the log entry holds it)
 * and the batch's prefix checks; undefined when there are none.
 */
export function batchConditions(
  operations: readonly BatchOperation[],
  entries: readonly LogEntry[],
  prefixChecks: readonly PrefixCheck[] | undefined,
  maxKeyBytes: number,
): WriteConditions | undefined {
  const keyChecks: { key: Buffer; ifSeqno: number }[] = [];
  for (let index = 0; index < operations.length; index++) {
    const operation = operations[index] as BatchOperation;
    const ifSeqno = operation.type === 'deleteRange' ? undefined : operation.ifSeqno;
    if (ifSeqno !== undefined) {
      keyChecks.push({ key: (entries[index] as LogEntry).key as Buffer, ifSeqno });
    }
  }
  return writeConditions(keyChecks, prefixChecks, maxKeyBytes);
}

/**
 * What one conditional write has learnt so far about the keys and prefixes it checks, fed with
 * writes in seqno order (from the tree, committed records, then unpublished batches), and the
 * verdict. Record bytes are compared in place: no key is copied.
 */
export class ConditionState implements EntryVisitor {
  /** Per key check: the key's version (seqno of its last put, 0 when absent or deleted). */
  readonly versions: number[];
  /** Per key check: the deadline of that put (0: it never expires). */
  readonly deadlines: number[];
  /** Per prefix check: the newest write under the prefix seen, 0 for none. */
  readonly newestUnderPrefix: number[];
  private readonly prefixEnds: (Buffer | undefined)[];
  /** The applied seqno the tree was read at (set by the check's first phase). */
  preparedAt = 0;
  /** First seqno of the record being visited (visitEntries counts entries from 0). */
  recordFirstSeqno = 0;
  /** Writes above this seqno are not counted (they were already counted from elsewhere). */
  private floorSeqno = 0;

  constructor(readonly conditions: WriteConditions) {
    this.versions = conditions.keys.map(() => 0);
    this.deadlines = conditions.keys.map(() => 0);
    this.newestUnderPrefix = conditions.prefixes.map(() => 0);
    this.prefixEnds = conditions.prefixes.map((prefix) => prefixUpperBound(prefix));
  }

  /** Counts only writes above `seqno` from now on. */
  countAbove(seqno: number): void {
    this.floorSeqno = seqno;
  }

  /** {@link EntryVisitor}: one entry of a committed record. */
  entry(
    op: number,
    index: number,
    record: Buffer,
    keyStart: number,
    keyLength: number,
    valueStart: number,
    valueLength: number,
    expiresAtMs: number,
  ): void {
    this.write(
      op,
      this.recordFirstSeqno + index,
      record,
      keyStart,
      keyLength,
      valueStart,
      valueLength,
      record,
      expiresAtMs,
    );
  }

  /** Feeds the entries of a batch the log admitted at `firstSeqno`. */
  batch(firstSeqno: number, entries: readonly LogEntry[]): void {
    for (let index = 0; index < entries.length; index++) {
      const entry = entries[index] as LogEntry;
      this.write(
        entry.op,
        firstSeqno + index,
        entry.key,
        0,
        entry.key.length,
        0,
        entry.op === LogOp.DeleteRange ? entry.value.length : 0,
        entry.value,
        entry.expiresAtMs ?? 0,
      );
    }
  }

  /**
   * The failed checks at the instant `nowMs` (a key whose put expired by then has version 0);
   * empty when the write may go ahead.
   */
  conflicts(nowMs: number): Conflict[] {
    const found: Conflict[] = [];
    const { keys, ifSeqnos, prefixes, noWritesAfter, ignoreExpiry } = this.conditions;
    for (let index = 0; index < keys.length; index++) {
      const deadline = this.deadlines[index] as number;
      const expired = deadline !== 0 && nowMs >= deadline && ignoreExpiry !== true;
      const actualSeqno = expired ? 0 : (this.versions[index] as number);
      const expectedSeqno = ifSeqnos[index] as number;
      if (actualSeqno !== expectedSeqno) {
        found.push({ kind: 'key', key: keys[index] as Buffer, expectedSeqno, actualSeqno });
      }
    }
    for (let index = 0; index < prefixes.length; index++) {
      const actualSeqno = this.newestUnderPrefix[index] as number;
      const expectedSeqno = noWritesAfter[index] as number;
      if (actualSeqno > expectedSeqno) {
        found.push({
          kind: 'prefix',
          prefix: prefixes[index] as Buffer,
          expectedSeqno,
          actualSeqno,
        });
      }
    }
    return found;
  }

  private write(
    op: number,
    seqno: number,
    source: Uint8Array,
    keyStart: number,
    keyLength: number,
    valueStart: number,
    valueLength: number,
    valueSource: Uint8Array,
    expiresAtMs: number,
  ): void {
    if (seqno <= this.floorSeqno) return;
    if (op !== LogOp.Put && op !== LogOp.Delete && op !== LogOp.DeleteRange) return;
    const { keys, prefixes } = this.conditions;
    for (let index = 0; index < keys.length; index++) {
      const key = keys[index] as Buffer;
      const hit =
        op === LogOp.DeleteRange
          ? compareBytes(source, keyStart, keyLength, key, 0, key.length) <= 0 &&
            compareBytes(key, 0, key.length, valueSource, valueStart, valueLength) < 0
          : compareBytes(source, keyStart, keyLength, key, 0, key.length) === 0;
      if (hit) {
        this.versions[index] = op === LogOp.Put ? seqno : 0;
        this.deadlines[index] = op === LogOp.Put ? expiresAtMs : 0;
      }
    }
    for (let index = 0; index < prefixes.length; index++) {
      const prefix = prefixes[index] as Buffer;
      const hit =
        op === LogOp.DeleteRange
          ? rangeOverlapsPrefix(
              source,
              keyStart,
              keyLength,
              valueSource,
              valueStart,
              valueLength,
              prefix,
              this.prefixEnds[index],
            )
          : keyLength >= prefix.length &&
            compareBytes(source, keyStart, prefix.length, prefix, 0, prefix.length) === 0;
      if (hit && seqno > (this.newestUnderPrefix[index] as number)) {
        this.newestUnderPrefix[index] = seqno;
      }
    }
  }
}

/** `[start, end)` meets `[prefix, prefixEnd)` (prefixEnd undefined: no upper bound). */
function rangeOverlapsPrefix(
  startSource: Uint8Array,
  startAt: number,
  startLength: number,
  endSource: Uint8Array,
  endAt: number,
  endLength: number,
  prefix: Buffer,
  prefixEnd: Buffer | undefined,
): boolean {
  const endsAfterPrefix = compareBytes(endSource, endAt, endLength, prefix, 0, prefix.length) > 0;
  const startsBeforeEnd =
    prefixEnd === undefined ||
    compareBytes(startSource, startAt, startLength, prefixEnd, 0, prefixEnd.length) < 0;
  return endsAfterPrefix && startsBeforeEnd;
}

/** Lexicographic comparison of two byte ranges, without views or copies. */
function compareBytes(
  left: Uint8Array,
  leftAt: number,
  leftLength: number,
  right: Uint8Array,
  rightAt: number,
  rightLength: number,
): number {
  const length = Math.min(leftLength, rightLength);
  for (let index = 0; index < length; index++) {
    const difference = (left[leftAt + index] as number) - (right[rightAt + index] as number);
    if (difference !== 0) return difference;
  }
  return leftLength - rightLength;
}
