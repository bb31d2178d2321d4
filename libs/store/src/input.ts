import { StrataError } from '@strata/core';

/** A key or value as callers pass it: bytes, or a string stored as UTF-8. */
export type BytesLike = Uint8Array | string;

/** Converts a key or value to a Buffer without copying bytes that already are one. */
export function toBytes(input: BytesLike, what: 'key' | 'value'): Buffer {
  if (typeof input === 'string') return Buffer.from(input, 'utf8');
  if (input instanceof Uint8Array) {
    return Buffer.isBuffer(input)
      ? input
      : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  }
  throw new StrataError('INVALID_ARGUMENT', `${what} must be a string or a Uint8Array`);
}

/**
 * Checks a key: 0 to `maxKeyBytes` bytes. The empty key ('' or a zero-length buffer) is an
 * ordinary key, the smallest of all; "no bound" in a range is `undefined`, never the empty key.
 */
export function checkKey(key: Buffer, maxKeyBytes: number): void {
  if (key.length > maxKeyBytes) {
    throw new StrataError(
      'KEY_TOO_LARGE',
      `key is ${key.length} bytes; the limit is ${maxKeyBytes}`,
      {
        details: { sizeBytes: key.length, limitBytes: maxKeyBytes },
      },
    );
  }
}

/** Converts and checks a key (see {@link toBytes} and {@link checkKey}). */
export function keyBytes(key: BytesLike, maxKeyBytes: number): Buffer {
  const bytes = toBytes(key, 'key');
  checkKey(bytes, maxKeyBytes);
  return bytes;
}

/**
 * The smallest key greater than every key that starts with `prefix` (undefined: no bound, for the
 * empty prefix, which every key starts with, and for a prefix of 0xff bytes only).
 */
export function prefixUpperBound(prefix: Buffer): Buffer | undefined {
  const end = Buffer.from(prefix);
  for (let index = end.length - 1; index >= 0; index--) {
    if ((end[index] as number) < 0xff) {
      end[index] = (end[index] as number) + 1;
      return end.subarray(0, index + 1);
    }
  }
  return undefined;
}
