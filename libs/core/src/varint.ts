import { corruptionError } from './errors.js';

/**
 * Unsigned LEB128 varints of safe integers (up to 2^53 - 1), as protobuf and the segment format
 * write them: a writer, its size, and one reader that reports damage with file and offset.
 */

/**
 * Writes the varint of `value` at `offset`; returns the offset after it.
 *
 * @example
 * ```ts
 * const end = writeVarint(buffer, 0, 300); // bytes ac 02, end = 2
 * ```
 */
export function writeVarint(target: Uint8Array, offset: number, value: number): number {
  // Most lengths fit one byte: no loop for them.
  if (value < 0x80) {
    target[offset] = value;
    return offset + 1;
  }
  let at = offset;
  let rest = value;
  while (rest >= 0x80) {
    target[at++] = (rest % 0x80) | 0x80;
    rest = Math.floor(rest / 0x80);
  }
  target[at++] = rest;
  return at;
}

/**
 * How many bytes {@link writeVarint} writes for `value`.
 *
 * @example
 * ```ts
 * varintBytes(127); // 1
 * varintBytes(128); // 2
 * ```
 */
export function varintBytes(value: number): number {
  let bytes = 1;
  let rest = value;
  while (rest >= 0x80) {
    rest = Math.floor(rest / 0x80);
    bytes++;
  }
  return bytes;
}

/** Longest varint of a safe integer: 2^53 - 1 takes 8 bytes. */
const MAX_VARINT_BYTES = 8;

/** What a varint read names when the bytes it reads are damaged. */
export interface VarintSource {
  /** The file the bytes came from, named by a `CORRUPTION` error. */
  file: string;
  /**
   * The file offset a `CORRUPTION` error names: where the structure being decoded starts (a
   * checksummed block is rewritten whole, so its start is what the report needs).
   */
  errorOffset: number;
  /** What is being decoded, the start of the error's reason (`"data block"`, say). */
  what: string;
}

/**
 * Where {@link readVarint} reads. The caller owns it (one per decode, or one per decoder reused
 * across decodes) and may move `offset` between reads: the reader keeps no state of its own.
 */
export interface VarintCursor extends VarintSource {
  /** Index in the byte array of the next byte to read; a read leaves it just past the varint. */
  offset: number;
}

/**
 * Reads the varint at `cursor.offset`, which must end before `end`, and moves the cursor past it.
 * Decoders of hot paths read one-byte varints inline and call this for longer ones.
 *
 * @throws StrataError `CORRUPTION` naming `cursor.file` and `cursor.errorOffset` when the varint
 * runs past `end` (`truncated varint`) or exceeds 2^53 - 1 (`varint too long`).
 *
 * @example
 * ```ts
 * const cursor = { offset: 0, file: 'segment-1', errorOffset: 4096, what: 'data block' };
 * const keyLength = readVarint(block, cursor, block.length);
 * const key = block.subarray(cursor.offset, cursor.offset + keyLength);
 * ```
 */
export function readVarint(bytes: Uint8Array, cursor: VarintCursor, end: number): number {
  let at = cursor.offset;
  const limit = at + MAX_VARINT_BYTES;
  let result = 0;
  let multiplier = 1;
  for (;;) {
    if (at >= end) throw varintError(cursor.file, cursor.errorOffset, cursor.what, TRUNCATED);
    const byte = bytes[at++]!;
    result += (byte & 0x7f) * multiplier;
    if (byte < 0x80) break;
    if (at >= limit) throw varintError(cursor.file, cursor.errorOffset, cursor.what, TOO_LONG);
    multiplier *= 0x80;
  }
  // Eight bytes carry 56 bits: the last may hold more than a safe integer's top 4.
  if (result > Number.MAX_SAFE_INTEGER) {
    throw varintError(cursor.file, cursor.errorOffset, cursor.what, TOO_LONG);
  }
  cursor.offset = at;
  return result;
}

/**
 * The offset just past the varint that starts at `at` and must end before `end`, without decoding
 * it: a decoder that needs a field only now and then (a seqno, compared only when the key matches)
 * skips it, and reads it later from where it started. Positions come and go as plain numbers here,
 * not through a cursor, because this runs for every entry a block search passes over.
 *
 * @throws StrataError `CORRUPTION` as {@link readVarint} does when the varint runs past `end` or
 * has more than 8 bytes; an 8-byte value above 2^53 - 1 is found only when it is read.
 *
 * @example
 * ```ts
 * const seqnoAt = at;
 * at = skipVarint(block, at, block.length, source);
 * ```
 */
export function skipVarint(
  bytes: Uint8Array,
  at: number,
  end: number,
  source: VarintSource,
): number {
  let next = at;
  const limit = at + MAX_VARINT_BYTES;
  for (;;) {
    if (next >= end) throw varintError(source.file, source.errorOffset, source.what, TRUNCATED);
    if (bytes[next++]! < 0x80) return next;
    if (next >= limit) throw varintError(source.file, source.errorOffset, source.what, TOO_LONG);
  }
}

const TRUNCATED = 'truncated varint';
const TOO_LONG = 'varint too long';

/**
 * Takes the source's fields rather than the source, so that a cursor escapes into no call and an
 * optimizing compiler may keep it in registers.
 */
function varintError(file: string, offset: number, what: string, reason: string): Error {
  return corruptionError(file, offset, `${what}: ${reason}`);
}
