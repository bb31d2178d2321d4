import { crc32c as nativeCrc32c } from '@node-rs/crc32';

/**
 * CRC-32C (Castagnoli) of `bytes`, continuing from `initial` (0 for a fresh checksum). Hardware
 * accelerated through @node-rs/crc32; this is the checksum of every log record and segment block.
 */
export function crc32c(bytes: Uint8Array, initial = 0): number {
  return nativeCrc32c(asBuffer(bytes), initial) >>> 0;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
