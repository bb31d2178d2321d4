import protobuf from 'protobufjs/minimal.js';
import { StrataError, crc32c } from '@strata/core';
import { strata } from '../generated/log.js';
import type { LogBatch, LogBatchInput, LogEntry } from './log-batch.js';
import { decodeBatch, visitEntries } from './fast-decode.js';
import type { EntryVisitor, RecordSource } from './fast-decode.js';
import { encodedBatchBytes, writeBatch } from './fast-encode.js';
import { RECORD_HEADER_BYTES } from './record-format.js';

const { LogBatch: LogBatchMessage } = strata.log;

/** Size limits that every appended batch is checked against before anything is written. */
export interface BatchLimits {
  /**
   * Largest key in bytes. A key may be empty (0 bytes): the empty key is an ordinary key, the
   * smallest of all; only an epoch start has no key at all, and its op says so.
   */
  readonly maxKeyBytes: number;
  /** Largest value in bytes. */
  readonly maxValueBytes: number;
  /** Largest framed record in bytes. */
  readonly maxRecordBytes: number;
}

/**
 * Checks a batch against the limits and the entry rules; throws INVALID_ARGUMENT, KEY_TOO_LARGE or
 * VALUE_TOO_LARGE. Runs before a seqno is consumed, so a refused batch leaves no trace.
 */
export function validateBatch(input: LogBatchInput, limits: BatchLimits): void {
  if (!Number.isSafeInteger(input.epoch) || input.epoch < 0) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `epoch must be a non-negative integer, got ${input.epoch}`,
    );
  }
  if (!Number.isSafeInteger(input.firstSeqno) || input.firstSeqno < 1) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `firstSeqno must be a positive integer, got ${input.firstSeqno}`,
    );
  }
  if (
    input.timestampMs !== undefined &&
    (!Number.isSafeInteger(input.timestampMs) || input.timestampMs < 0)
  ) {
    throw new StrataError('INVALID_ARGUMENT', `timestampMs must be a non-negative integer`);
  }
  if (!Array.isArray(input.entries) || input.entries.length === 0) {
    throw new StrataError('INVALID_ARGUMENT', 'a batch needs at least one entry');
  }
  for (let index = 0; index < input.entries.length; index++) {
    validateEntry(input.entries[index] as LogEntry, index, limits);
  }
}

function validateEntry(entry: LogEntry, index: number, limits: BatchLimits): void {
  if (entry === null || typeof entry !== 'object') {
    throw new StrataError('INVALID_ARGUMENT', `entry ${index} is not an object`);
  }
  const { op, key, value } = entry;
  if (op !== 1 && op !== 2 && op !== 3 && op !== 4) {
    throw new StrataError('INVALID_ARGUMENT', `entry ${index} has an unknown op ${String(op)}`);
  }
  if (!(key instanceof Uint8Array)) {
    throw new StrataError('INVALID_ARGUMENT', `entry ${index} needs a byte key`);
  }
  if (!(value instanceof Uint8Array)) {
    throw new StrataError('INVALID_ARGUMENT', `entry ${index} value must be bytes`);
  }
  checkEntryLimits(op, index, key.byteLength, value.byteLength, limits);
  const { expiresAtMs, expired } = entry;
  if (expiresAtMs !== undefined && expiresAtMs !== 0) {
    if (!Number.isSafeInteger(expiresAtMs) || expiresAtMs < 0) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        `entry ${index} expiresAtMs must be a non-negative integer, got ${String(expiresAtMs)}`,
      );
    }
    if (op !== 1) {
      throw new StrataError('INVALID_ARGUMENT', `entry ${index}: only a put can carry expiresAtMs`);
    }
  }
  if (expired !== undefined && expired !== false && (expired !== true || op !== 2)) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `entry ${index}: only a delete can carry the expired marker (a boolean)`,
    );
  }
  if (op === 3 && Buffer.compare(key, value) >= 0) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `entry ${index} is a range delete whose end is not after its start`,
    );
  }
}

/**
 * Checks the entries of a framed record in place (no entry objects): the rules and limits of
 * {@link validateBatch}, with its error codes. Throws CORRUPTION when the bytes are malformed.
 * Returns how many entries are range deletes (a store without range tombstones refuses them).
 */
export function validateRecordEntries(record: Buffer, limits: BatchLimits): number {
  entryCheck.limits = limits;
  entryCheck.rangeDeletes = 0;
  visitEntries(record, entryCheck);
  return entryCheck.rangeDeletes;
}

class EntryCheck implements EntryVisitor {
  limits: BatchLimits = { maxKeyBytes: 0, maxValueBytes: 0, maxRecordBytes: 0 };
  rangeDeletes = 0;

  entry(
    op: number,
    index: number,
    record: Buffer,
    keyStart: number,
    keyLength: number,
    valueStart: number,
    valueLength: number,
  ): void {
    checkEntryLimits(op, index, keyLength, valueLength, this.limits);
    if (op === 3) this.rangeDeletes++;
    // compare(target range, source range) orders the source (the key) against the target.
    if (
      op === 3 &&
      record.compare(
        record,
        valueStart,
        valueStart + valueLength,
        keyStart,
        keyStart + keyLength,
      ) >= 0
    ) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        `entry ${index} is a range delete whose end is not after its start`,
      );
    }
  }
}
const entryCheck = new EntryCheck();

/** The size and shape rules of one entry (op already known to be 1 to 4). */
function checkEntryLimits(
  op: number,
  index: number,
  keyLength: number,
  valueLength: number,
  limits: BatchLimits,
): void {
  if (op === 4) {
    if (keyLength !== 0 || valueLength !== 0) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        `entry ${index} is an epoch start and must have an empty key and value`,
      );
    }
    return;
  }
  // Any other op may have an empty key (0 bytes, the smallest key): no length means "the empty
  // key", never "no key". Whether an entry starts an epoch is told by its op alone.
  if (keyLength > limits.maxKeyBytes) {
    throw new StrataError(
      'KEY_TOO_LARGE',
      `entry ${index} key is ${keyLength} bytes; the limit is ${limits.maxKeyBytes}`,
      { details: { sizeBytes: keyLength, limitBytes: limits.maxKeyBytes } },
    );
  }
  const maxValueBytes = op === 3 ? limits.maxKeyBytes : limits.maxValueBytes;
  if (valueLength > maxValueBytes) {
    throw new StrataError(
      op === 3 ? 'KEY_TOO_LARGE' : 'VALUE_TOO_LARGE',
      `entry ${index} value is ${valueLength} bytes; the limit is ${maxValueBytes}`,
      { details: { sizeBytes: valueLength, limitBytes: maxValueBytes } },
    );
  }
  if (op === 2 && valueLength !== 0) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `entry ${index} is a delete and must have an empty value`,
    );
  }
}

/**
 * Encodes a validated batch as one framed record carrying `chain`. Returns the record bytes and the
 * payload checksum (the next record's chain depends on it).
 */
export function encodeRecord(
  input: LogBatchInput,
  timestampMs: number,
  chain: number,
  limits: BatchLimits,
): { bytes: Buffer; checksum: number } {
  const recordBytes = RECORD_HEADER_BYTES + encodedBatchBytes(input, timestampMs, chain);
  checkRecordSize(recordBytes, limits);
  const bytes = Buffer.allocUnsafe(recordBytes);
  writeBatch(bytes, input, timestampMs, chain);
  return frame(bytes);
}

/** {@link encodeRecord} through the protobufjs-generated encoder (the reference for tests). */
export function encodeRecordWithProtobufjs(
  input: LogBatchInput,
  timestampMs: number,
  chain: number,
  limits: BatchLimits,
): { bytes: Buffer; checksum: number } {
  const writer = protobuf.Writer.create();
  // Reserve the frame header in the same buffer, so the record is built with one allocation.
  writer.fixed32(0).fixed32(0);
  LogBatchMessage.encode(
    {
      epoch: input.epoch,
      firstSeqno: input.firstSeqno,
      timestampMs,
      chain,
      entries: input.entries as LogEntry[],
    },
    writer,
  );
  const encoded = writer.finish();
  const bytes = Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength);
  checkRecordSize(bytes.length, limits);
  return frame(bytes);
}

function checkRecordSize(recordBytes: number, limits: BatchLimits): void {
  if (recordBytes > limits.maxRecordBytes) {
    throw new StrataError(
      'BATCH_TOO_LARGE',
      `the batch encodes to ${recordBytes} bytes; the limit is ${limits.maxRecordBytes}`,
      { details: { sizeBytes: recordBytes, limitBytes: limits.maxRecordBytes } },
    );
  }
}

/** Fills in the frame header (payload length and checksum) of an encoded record. */
function frame(bytes: Buffer): { bytes: Buffer; checksum: number } {
  const checksum = crc32c(bytes.subarray(RECORD_HEADER_BYTES));
  bytes.writeUInt32LE(bytes.length - RECORD_HEADER_BYTES, 0);
  bytes.writeUInt32LE(checksum, 4);
  return { bytes, checksum };
}

/**
 * Decodes a framed record (already checksum-verified) into a batch. Entries' keys and values are
 * views into `record`. Throws CORRUPTION on malformed content, with `details.recordOffset` (where
 * in the record) and, when `source` is given, the file and the record's offset in it (`file`,
 * `offset`).
 *
 * @example
 * ```ts
 * for await (const record of wal.readRecords()) {
 *   const batch = decodeRecord(record.bytes, record); // a LogRecord names its file and offset
 * }
 * ```
 */
export function decodeRecord(record: Uint8Array, source?: RecordSource): LogBatch {
  return decodeBatch(
    Buffer.isBuffer(record)
      ? record
      : Buffer.from(record.buffer, record.byteOffset, record.byteLength),
    source,
  );
}

/**
 * The reference decoder: the protobufjs-generated code (used to cross-check {@link decodeRecord}).
 * Refuses what it cannot decode with CORRUPTION, as the log's own decoders do.
 */
export function decodeRecordWithProtobufjs(record: Uint8Array): LogBatch {
  try {
    const payload = record.subarray(RECORD_HEADER_BYTES);
    const message = LogBatchMessage.decode(payload);
    const entries = message.entries as LogEntry[];
    const firstSeqno = toSafeInteger(message.firstSeqno, 'firstSeqno');
    if (entries.length === 0) throw new Error('a batch needs entries');
    return {
      epoch: toSafeInteger(message.epoch, 'epoch'),
      firstSeqno,
      lastSeqno: firstSeqno + entries.length - 1,
      timestampMs: toSafeInteger(message.timestampMs, 'timestampMs'),
      chain: message.chain >>> 0,
      entries,
    };
  } catch (error) {
    throw new StrataError(
      'CORRUPTION',
      `malformed record: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}

/** protobufjs decodes uint64 as Long when the `long` package is present; stay in safe integers. */
function toSafeInteger(value: unknown, field: string): number {
  if (typeof value === 'number') return value;
  const long = value as { toNumber?: (unsigned?: boolean) => number; high?: number } | null;
  if (long && typeof long.toNumber === 'function') {
    const number = long.toNumber(true);
    if (!Number.isSafeInteger(number)) throw new Error(`${field} exceeds 2^53`);
    return number;
  }
  throw new Error(`${field} has an unexpected type`);
}
