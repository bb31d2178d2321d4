import { randomBytes } from 'node:crypto';

/** Key size of every workload (the workloads in tools/bench/README.md). */
export const KEY_BYTES = 16;
/** Value size of every workload. */
export const VALUE_BYTES = 100;
/** User payload of one entry, what MB/s figures count. */
export const ENTRY_USER_BYTES = KEY_BYTES + VALUE_BYTES;

/**
 * `count` distinct 16-byte keys `k000000000000042`, starting at `first`, as views into one
 * buffer (cheap to build for a million keys).
 */
export function makeKeys(first: number, count: number): Buffer[] {
  const all = Buffer.alloc(count * KEY_BYTES);
  const keys: Buffer[] = new Array<Buffer>(count);
  for (let index = 0; index < count; index++) {
    const offset = index * KEY_BYTES;
    all.write(`k${String(first + index).padStart(KEY_BYTES - 1, '0')}`, offset, 'latin1');
    keys[index] = all.subarray(offset, offset + KEY_BYTES);
  }
  return keys;
}

/**
 * `count` 100-byte values, about half compressible: 50 random bytes followed by 50 bytes of a
 * repeated letter.
 */
export function makeValues(count: number): Buffer[] {
  const values: Buffer[] = [];
  for (let index = 0; index < count; index++) {
    const value = Buffer.alloc(VALUE_BYTES, 97 + (index % 26));
    randomBytes(VALUE_BYTES / 2).copy(value, 0);
    values.push(value);
  }
  return values;
}
