import { crc32c } from '@strata/core';
import type { VarintCursor } from '@strata/core';
import { MAX_VARINT_BYTES, isCutVarint, readWireVarint } from './wire-varint.js';

/**
 * Record framing: `[u32 length LE][u32 crc32c(payload) LE][payload]`, payload = protobuf LogBatch.
 * This module reads the batch header fields straight from the protobuf wire bytes, without
 * decoding entries or allocating, because recovery and seeks scan every record.
 */

/** Bytes before the payload: length and checksum. */
export const RECORD_HEADER_BYTES = 8;

/** The LogBatch fields that framing, ordering and chaining need. Reused across calls. */
export interface RecordHeader {
  epoch: number;
  firstSeqno: number;
  timestampMs: number;
  chain: number;
  entryCount: number;
}

/**
 * A zeroed header for {@link readRecordHeader} (or {@link scanPayload}) to fill. Reuse one across
 * records: the readers allocate nothing per record.
 */
export function newRecordHeader(): RecordHeader {
  return { epoch: 0, firstSeqno: 0, timestampMs: 0, chain: 0, entryCount: 0 };
}

/**
 * The chain value of the record that follows a record with `previousChain` and payload checksum
 * `previousChecksum`. Since each checksum covers its record's chain, the chain of record n commits
 * to every record before n (as etcd's rolling WAL CRC does).
 */
export function nextChain(previousChain: number, previousChecksum: number): number {
  chainScratch.writeUInt32LE(previousChain >>> 0, 0);
  chainScratch.writeUInt32LE(previousChecksum >>> 0, 4);
  return crc32c(chainScratch);
}
const chainScratch = Buffer.alloc(8);

/** The chain of the very first record of a log that starts empty. */
export const INITIAL_CHAIN = nextChain(0, 0);

/**
 * Parses the top-level LogBatch fields from `payload[start, end)` into `out`. Returns false when
 * the bytes are not a well-formed LogBatch (the caller reports corruption). Fields may come in any
 * order and unknown fields are skipped, as protobuf requires.
 */
export function scanPayload(
  payload: Uint8Array,
  start: number,
  end: number,
  out: RecordHeader,
): boolean {
  out.epoch = 0;
  out.firstSeqno = 0;
  out.timestampMs = 0;
  out.chain = 0;
  out.entryCount = 0;
  const cursor = payloadCursor(start);
  while (cursor.offset < end) {
    const tagStart = cursor.offset;
    const tag = varintOrMinusOne(payload, cursor, end);
    if (tag < 0) return false;
    const field = Math.floor(tag / 8);
    const wireType = tag & 7;
    if (!isValidTag(tag, cursor.offset - tagStart)) return false;
    if (wireType === 0) {
      const value = varintOrMinusOne(payload, cursor, end);
      if (value < 0) return false;
      if (field === 1) out.epoch = value;
      else if (field === 2) out.firstSeqno = value;
      else if (field === 3) out.timestampMs = value;
      else if (field === 4 || field === 5) return false;
    } else if (wireType === 5) {
      const position = cursor.offset;
      if (position + 4 > end) return false;
      const value =
        ((payload[position] ?? 0) |
          ((payload[position + 1] ?? 0) << 8) |
          ((payload[position + 2] ?? 0) << 16) |
          ((payload[position + 3] ?? 0) << 24)) >>>
        0;
      cursor.offset = position + 4;
      if (field === 4) out.chain = value;
      else if (field >= 1 && field <= 5) return false;
    } else if (wireType === 2) {
      const length = varintOrMinusOne(payload, cursor, end);
      if (length < 0) return false;
      cursor.offset += length;
      if (cursor.offset > end) return false;
      if (field === 5) out.entryCount++;
      else if (field >= 1 && field <= 4) return false;
    } else if (wireType === 1) {
      cursor.offset += 8;
      if (cursor.offset > end || (field >= 1 && field <= 5)) return false;
    } else {
      return false;
    }
  }
  return cursor.offset === end && hasRequiredFields(out);
}

/**
 * True when `payload[start, end)` can be the first bytes of a well-formed LogBatch whose payload is
 * `declaredEnd - start` bytes long: every field is well formed as {@link scanPayload} requires,
 * and only the last one may be cut off at `end`. No field may run past `declaredEnd`. Recovery
 * uses it to tell an append cut short by a crash (whose bytes are an exact prefix of a record)
 * from other damage. With `end === declaredEnd` it is {@link scanPayload}'s structural check
 * without the required fields.
 */
export function isPayloadPrefix(
  payload: Uint8Array,
  start: number,
  end: number,
  declaredEnd: number,
): boolean {
  if (end > declaredEnd) return false;
  const cut = end < declaredEnd;
  const cursor = payloadCursor(start);
  while (cursor.offset < end) {
    const tagStart = cursor.offset;
    const tag = varintOrMinusOne(payload, cursor, end);
    if (tag < 0) return cut && isCutVarint(payload, tagStart, end, MAX_TAG_BYTES);
    const field = Math.floor(tag / 8);
    const wireType = tag & 7;
    if (!isValidTag(tag, cursor.offset - tagStart)) return false;
    if (wireType === 0) {
      if (field === 4 || field === 5) return false;
      const valueStart = cursor.offset;
      if (varintOrMinusOne(payload, cursor, end) < 0)
        return cut && isCutVarint(payload, valueStart, end, MAX_VARINT_BYTES);
    } else if (wireType === 5 || wireType === 1) {
      if (wireType === 5 ? field !== 4 && field >= 1 && field <= 5 : field >= 1 && field <= 5)
        return false;
      cursor.offset += wireType === 5 ? 4 : 8;
    } else if (wireType === 2) {
      if (field >= 1 && field <= 4) return false;
      const lengthStart = cursor.offset;
      const length = varintOrMinusOne(payload, cursor, end);
      if (length < 0) return cut && isCutVarint(payload, lengthStart, end, MAX_VARINT_BYTES);
      cursor.offset += length;
    } else {
      return false;
    }
    if (cursor.offset > declaredEnd) return false;
  }
  return true;
}

/** Longest field tag protobuf allows: a uint32 takes at most 5 bytes. */
const MAX_TAG_BYTES = 5;

/**
 * True when a field tag read as a varint of `encodedBytes` bytes is valid protobuf: a uint32 of at
 * most 5 bytes whose field number is not 0 (the generated decoder refuses anything else).
 */
export function isValidTag(tag: number, encodedBytes: number): boolean {
  return tag >= 8 && tag <= 0xffffffff && encodedBytes <= MAX_TAG_BYTES;
}

function hasRequiredFields(header: RecordHeader): boolean {
  return header.entryCount > 0 && header.firstSeqno > 0;
}

/**
 * A cursor for core's varint reader at `start` of a payload. The header checks report damage as
 * `false`, never as an error, so the error fields only satisfy the reader's interface.
 */
function payloadCursor(start: number): VarintCursor {
  return { offset: start, file: 'record payload', errorOffset: start, what: 'record payload' };
}

/**
 * The varint at `cursor.offset`, moving the cursor past it, or -1 (cursor unmoved) when it is cut
 * by `end`, longer than 8 bytes or above 2^53 - 1: the header checks answer such bytes with
 * `false`, where core's reader throws.
 */
function varintOrMinusOne(bytes: Uint8Array, cursor: VarintCursor, end: number): number {
  try {
    return readWireVarint(bytes, cursor, end);
  } catch {
    return -1;
  }
}

/**
 * The top-level fields of a framed record (epoch, first seqno, entry count, chain) without
 * creating entry objects, or undefined when the payload is not a well-formed LogBatch. Entries
 * are counted, not checked: appending the record checks them.
 *
 * @example
 * ```ts
 * const header = readRecordHeader(record);
 * if (header) console.log(header.firstSeqno, header.firstSeqno + header.entryCount - 1);
 * ```
 */
export function readRecordHeader(
  record: Uint8Array,
  out: RecordHeader = newRecordHeader(),
): RecordHeader | undefined {
  if (record.length <= RECORD_HEADER_BYTES) return undefined;
  return scanPayload(record, RECORD_HEADER_BYTES, record.length, out) ? out : undefined;
}
