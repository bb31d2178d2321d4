/**
 * The checks every write and read applies to what the caller passes, before anything is touched:
 * a bad argument is an `INVALID_ARGUMENT`, an oversized key or value `KEY_TOO_LARGE` /
 * `VALUE_TOO_LARGE` with the size and the limit in the details.
 */
import { StrataError } from '@strata/core';
import { MAX_KEY_SIZE_BYTES } from './config.js';
import { MAX_SEQNO } from './entry.js';

/**
 * Checks that `key` is a Uint8Array within {@link MAX_KEY_SIZE_BYTES}. The empty key (0 bytes) is
 * an ordinary key, the smallest of all: a range with no lower bound includes it.
 */
export function checkKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array)) {
    throw new StrataError('INVALID_ARGUMENT', 'key must be a Uint8Array');
  }
  checkKeyLength(key.length);
}

/** Checks a key given by its length (a byte range of a larger buffer); 0 (the empty key) is fine. */
export function checkKeyLength(keyLength: number): void {
  if (keyLength > MAX_KEY_SIZE_BYTES) {
    throw new StrataError(
      'KEY_TOO_LARGE',
      `key of ${keyLength} bytes exceeds the limit of ${MAX_KEY_SIZE_BYTES}`,
      { details: { sizeBytes: keyLength, limitBytes: MAX_KEY_SIZE_BYTES } },
    );
  }
}

/** Checks a value's length against the tree's `maxValueSizeBytes`. */
export function checkValueLength(length: number, maxValueSizeBytes: number): void {
  if (length > maxValueSizeBytes) {
    throw new StrataError(
      'VALUE_TOO_LARGE',
      `value of ${length} bytes exceeds the limit of ${maxValueSizeBytes}`,
      { details: { sizeBytes: length, limitBytes: maxValueSizeBytes } },
    );
  }
}

/** Checks that a write's seqno is a safe integer in `[0, MAX_SEQNO)`. */
export function checkSeqno(seqno: number): void {
  if (!Number.isSafeInteger(seqno) || seqno < 0 || seqno >= MAX_SEQNO) {
    throw new StrataError('INVALID_ARGUMENT', `seqno must be a safe integer >= 0, got ${seqno}`);
  }
}
