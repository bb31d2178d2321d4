import { readVarint } from '@strata/core';
import type { VarintCursor } from '@strata/core';

/**
 * The record decoders read protobuf varints with core's `readVarint` (one reader for the whole
 * code base): this module adds only what the log's decoders need around it.
 *
 * Core reads varints of safe integers, at most 8 bytes. Protobuf allows 10, but only a
 * non-minimal encoding (padded with continuation bytes) of a safe integer takes more than 8, and
 * neither this log's encoder nor protobufjs writes one: the log refuses them as malformed.
 */

/** Longest varint core's `readVarint` accepts: 2^53 - 1 takes 8 bytes. */
export const MAX_VARINT_BYTES = 8;

/**
 * Reads the varint at `cursor.offset` (which must end before `end`) and moves the cursor past it:
 * one-byte varints (nearly every tag and most lengths of a record) inline, longer ones through
 * core's `readVarint`, whose `CORRUPTION` error it throws as it is.
 */
export function readWireVarint(bytes: Uint8Array, cursor: VarintCursor, end: number): number {
  const at = cursor.offset;
  if (at < end) {
    const byte = bytes[at] as number;
    if (byte < 0x80) {
      cursor.offset = at + 1;
      return byte;
    }
  }
  return readVarint(bytes, cursor, end);
}

/**
 * True when the bytes from `position` to `end` are the start of a varint of at most `maxBytes`
 * bytes that `end` cut off (every byte has its continuation bit set): a torn append, or a record
 * cut short, rather than a malformed varint.
 */
export function isCutVarint(
  bytes: Uint8Array,
  position: number,
  end: number,
  maxBytes: number,
): boolean {
  if (end - position >= maxBytes) return false;
  for (let index = position; index < end; index++) if ((bytes[index] ?? 0) < 0x80) return false;
  return true;
}
