import { corruptionError, crc32c, ioError } from '@strata/core';
import type { FileHandle } from '@strata/core';
import { RECORD_HEADER_BYTES, isPayloadPrefix } from '../format/record-format.js';
import { describeDamage } from '../format/record-scanner.js';
import type { DamageKind } from '../format/record-scanner.js';

/**
 * Whether damage found at the end of the last segment is what a crash leaves (a torn tail, cut on
 * open) or corruption (reported, never cut unless the operator asks for point-in-time recovery).
 *
 * What a crash can leave. Appends only ever add whole records at the end of the last segment and
 * are acknowledged after fdatasync. A crash (process kill or power loss) during an append can
 * leave, after the last durable byte:
 * 1. an exact prefix of the bytes being appended (a short write, or pages that never reached the
 *    disk), and
 * 2. after that prefix, zero bytes up to the end of the file: file systems may persist a file's
 *    new size before its data, and blocks never written read back as zeros (the simulated file
 *    system's power loss models exactly this).
 *
 * So the bytes from the damaged record's start to the end of the file are a torn tail only if they
 * are `[prefix of one record][zeros]`, with the prefix ending inside that record's declared
 * length. Everything else is corruption, in particular:
 * - a complete record (all its declared bytes present) whose checksum fails and whose last byte
 *   is not zero: no crash rewrites bytes that were already written;
 * - non-zero bytes past the damaged record's declared end (a crash leaves nothing after an
 *   interrupted append, and the records of one append are each complete once written);
 * - a length of zero, or above `maxRecordBytes`, in front of non-zero bytes (no append writes it);
 * - a length that points past the end of the file when the bytes after the header are exactly a
 *   complete payload with the header's checksum: the record was complete and its length field was
 *   damaged later (a torn prefix matches the full payload's CRC-32C with probability 2^-32);
 * - payload bytes that are not the start of a well-formed LogBatch of the declared length (a
 *   torn append is an exact prefix of a record the encoder wrote).
 *
 * The one case the bytes cannot settle: a complete record whose content itself ends in zero
 * bytes (a binary value such as a little-endian integer) and that was damaged before those zeros.
 * It looks exactly like an append whose last bytes never reached the disk, and it is cut as torn
 * (and reported in `tornTail`). The record's last byte decides: a damaged complete record whose
 * last byte is non-zero is always corruption.
 */
export type TailVerdict =
  | { readonly torn: true; readonly kind: Extract<DamageKind, 'incomplete' | 'zeros'> }
  | { readonly torn: false; readonly reason: string };

/** Bytes read at a time when looking for the start of the trailing zeros. */
const ZERO_SCAN_CHUNK_BYTES = 64 * 1024;

/**
 * Classifies the damage the scanner found at `offset` of the last segment `path` (of
 * `sizeBytes`), whose scanner verdict was `kind`. See {@link TailVerdict} for the rules.
 */
export async function classifyTailDamage(
  handle: FileHandle,
  path: string,
  offset: number,
  sizeBytes: number,
  kind: DamageKind,
  maxRecordBytes: number,
): Promise<TailVerdict> {
  const read = (position: number, length: number): Promise<Buffer> =>
    readExactly(handle, path, position, length);
  const nonZeroEnd = await endOfNonZeroBytes(read, offset, sizeBytes);
  if (nonZeroEnd === offset) return { torn: true, kind: 'zeros' };
  // A header cut short (maybe followed by zeros): no complete record has an all-zero payload.
  if (nonZeroEnd - offset < RECORD_HEADER_BYTES) return { torn: true, kind: 'incomplete' };
  const header = await read(offset, RECORD_HEADER_BYTES);
  const length = header.readUInt32LE(0);
  const checksum = header.readUInt32LE(4);
  if (length === 0) return { torn: false, reason: 'record length is zero' };
  if (length + RECORD_HEADER_BYTES > maxRecordBytes) {
    return {
      torn: false,
      reason: `record length ${length} is above the largest record an append writes (${maxRecordBytes} bytes framed)`,
    };
  }
  const recordEnd = offset + RECORD_HEADER_BYTES + length;
  if (nonZeroEnd > recordEnd) {
    return {
      torn: false,
      reason: `${describeDamage(kind)}, and ${nonZeroEnd - recordEnd} bytes of data follow it (a crash leaves nothing after an interrupted append)`,
    };
  }
  const complete = recordEnd <= sizeBytes;
  if (complete && (kind !== 'checksum' || nonZeroEnd === recordEnd)) {
    // All declared bytes are there and the record does not end in zeros: it was written whole.
    return { torn: false, reason: describeDamage(kind) };
  }
  const payloadStart = offset + RECORD_HEADER_BYTES;
  const payload = await read(payloadStart, Math.min(sizeBytes, recordEnd) - payloadStart);
  if (!complete && payload.length > 0 && crc32c(payload) === checksum) {
    return {
      torn: false,
      reason: `record length ${length} runs past the end of the file, but the ${payload.length} bytes after the header are a complete payload with the header's checksum: the length field is damaged`,
    };
  }
  if (!isPayloadPrefix(payload, 0, nonZeroEnd - payloadStart, length)) {
    return {
      torn: false,
      reason: `${describeDamage(kind)}, and its bytes are not the start of a record an append writes`,
    };
  }
  return { torn: true, kind: 'incomplete' };
}

/** The offset just past the last non-zero byte in `[offset, sizeBytes)`, or `offset` if none. */
async function endOfNonZeroBytes(
  read: (position: number, length: number) => Promise<Buffer>,
  offset: number,
  sizeBytes: number,
): Promise<number> {
  let end = sizeBytes;
  while (end > offset) {
    const start = Math.max(offset, end - ZERO_SCAN_CHUNK_BYTES);
    const chunk = await read(start, end - start);
    for (let index = chunk.length - 1; index >= 0; index--) {
      if (chunk[index] !== 0) return start + index + 1;
    }
    end = start;
  }
  return offset;
}

async function readExactly(
  handle: FileHandle,
  path: string,
  position: number,
  length: number,
): Promise<Buffer> {
  const bytes = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    let count: number;
    try {
      count = await handle.read(bytes, filled, length - filled, position + filled);
    } catch (error) {
      throw ioError('read', path, error);
    }
    if (count === 0)
      throw corruptionError(path, position + filled, 'file is shorter than its size');
    filled += count;
  }
  return bytes;
}
