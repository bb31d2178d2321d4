import { compressSync, uncompressSync } from 'lz4-napi';
import { corruptionError, crc32c } from '@strata/core';
import type { CompressionType } from '../config.js';

/**
 * Every block on disk (data, index, filter, metadata) is framed the same way:
 * `[u32 crc32c][u8 compression][u32 rawLength][u32 storedLength][stored bytes]`, the checksum
 * covering everything after itself. A block is therefore verified before it is decompressed or
 * parsed: corrupt bytes are reported, never interpreted.
 */
export const BLOCK_HEADER_BYTES = 13;

const CODEC_NONE = 0;
const CODEC_LZ4 = 1;

/** Frames a raw block, compressing it when that saves at least 1/8 of its size. */
export function frameBlock(raw: Buffer, compression: CompressionType): Buffer {
  const stored = compressIfWorthIt(raw, compression);
  const framed = Buffer.allocUnsafe(BLOCK_HEADER_BYTES + stored.length);
  writeFrame(raw.length, stored, stored === raw ? CODEC_NONE : CODEC_LZ4, framed, 0);
  return framed;
}

/** Most bytes {@link frameBlockInto} writes for a raw block of `rawLength` bytes. */
export function maxFramedSizeBytes(rawLength: number): number {
  return BLOCK_HEADER_BYTES + rawLength;
}

/**
 * {@link frameBlock} into `target` at `at` (room for {@link maxFramedSizeBytes} needed), returning
 * the framed length: a segment writer packs blocks into its write buffer without an allocation
 * and a copy per block.
 */
export function frameBlockInto(
  raw: Buffer,
  compression: CompressionType,
  target: Buffer,
  at: number,
): number {
  const stored = compressIfWorthIt(raw, compression);
  return writeFrame(raw.length, stored, stored === raw ? CODEC_NONE : CODEC_LZ4, target, at);
}

function compressIfWorthIt(raw: Buffer, compression: CompressionType): Buffer {
  if (compression === 'lz4' && raw.length > 64) {
    const compressed = compressSync(raw);
    if (compressed.length < raw.length - (raw.length >> 3)) return compressed;
  }
  return raw;
}

function writeFrame(
  rawLength: number,
  stored: Buffer,
  codec: number,
  target: Buffer,
  at: number,
): number {
  const end = at + BLOCK_HEADER_BYTES + stored.length;
  target[at + 4] = codec;
  target.writeUInt32LE(rawLength, at + 5);
  target.writeUInt32LE(stored.length, at + 9);
  target.set(stored, at + BLOCK_HEADER_BYTES);
  target.writeUInt32LE(crc32c(target.subarray(at + 4, end)), at);
  return end - at;
}

/**
 * Verifies and unpacks a framed block read from `file` at `offset`; throws `CORRUPTION` naming
 * both when the frame is damaged.
 */
export function unframeBlock(framed: Buffer, file: string, offset: number): Buffer {
  if (framed.length < BLOCK_HEADER_BYTES) {
    throw corruptionError(file, offset, 'block shorter than its header');
  }
  const storedLength = framed.readUInt32LE(9);
  if (storedLength !== framed.length - BLOCK_HEADER_BYTES) {
    throw corruptionError(file, offset, 'block length does not match its handle');
  }
  if (crc32c(framed.subarray(4)) !== framed.readUInt32LE(0)) {
    throw corruptionError(file, offset, 'block checksum mismatch');
  }
  const codec = framed[4];
  const rawLength = framed.readUInt32LE(5);
  const stored = framed.subarray(BLOCK_HEADER_BYTES);
  if (codec === CODEC_NONE) {
    if (rawLength !== stored.length) throw corruptionError(file, offset, 'raw length mismatch');
    return stored;
  }
  if (codec === CODEC_LZ4) {
    let raw: Buffer;
    try {
      raw = uncompressSync(stored);
    } catch (error) {
      throw corruptionError(file, offset, `lz4 decompression failed: ${String(error)}`);
    }
    if (raw.length !== rawLength)
      throw corruptionError(file, offset, 'decompressed length mismatch');
    return raw;
  }
  throw corruptionError(file, offset, `unknown block compression ${codec}`);
}
