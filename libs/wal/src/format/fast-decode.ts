import { StrataError, corruptionError } from '@strata/core';
import type { VarintCursor } from '@strata/core';
import type { LogBatch, LogEntry, LogOp } from './log-batch.js';
import { RECORD_HEADER_BYTES, isValidTag } from './record-format.js';
import { MAX_VARINT_BYTES, isCutVarint, readWireVarint } from './wire-varint.js';

/**
 * Where a record was read, so that an error can name it: the segment file and the record's offset
 * in it. A {@link LogRecord} (what `Wal.readRecords` yields) is one.
 */
export interface RecordSource {
  readonly file: string;
  readonly offset: number;
}

/**
 * Decodes a framed record's LogBatch straight from the protobuf wire bytes: one plain object per
 * entry with key and value as views into `record`. Replay and the change feed decode every record,
 * and the generated protobufjs decoder (kept as the reference, see test/codec.test.ts) costs about
 * three times as much. Throws CORRUPTION on malformed input ({@link malformed}), naming `source`'s
 * file and offset when given.
 */
export function decodeBatch(record: Buffer, source?: RecordSource): LogBatch {
  const cursor = new RecordCursor(source);
  const end = record.length;
  let epoch = 0;
  let firstSeqno = 0;
  let timestampMs = 0;
  let chain = 0;
  const entries: LogEntry[] = [];
  while (cursor.offset < end) {
    const tag = readTag(record, cursor, end);
    if (tag === 0x2a) {
      // Field 5, length-delimited: one entry.
      const length = varint(record, cursor, end);
      const entryEnd = cursor.offset + length;
      if (entryEnd > end) throw malformed('entry runs past the record', cursor.offset, cursor);
      entries.push(decodeEntry(record, cursor, entryEnd));
    } else if (tag === 0x08) {
      epoch = varint(record, cursor, end);
    } else if (tag === 0x10) {
      firstSeqno = varint(record, cursor, end);
    } else if (tag === 0x18) {
      timestampMs = varint(record, cursor, end);
    } else if (tag === 0x25) {
      const at = cursor.offset;
      if (at + 4 > end) throw malformed('truncated chain', at, cursor);
      chain = record.readUInt32LE(at);
      cursor.offset = at + 4;
    } else {
      skipValue(record, cursor, tag, end, BATCH_FIELDS);
    }
  }
  if (entries.length === 0 || firstSeqno < 1)
    throw malformed('a batch needs entries and a first seqno', RECORD_HEADER_BYTES, cursor);
  return {
    epoch,
    firstSeqno,
    lastSeqno: firstSeqno + entries.length - 1,
    timestampMs,
    chain,
    entries,
  };
}

/**
 * Receives the entries of a record as byte ranges of the record: no object, view or array per
 * entry (recovery replays every entry of the log tail through this).
 */
export interface EntryVisitor {
  /**
   * One entry: `index` counts from 0 within the record (its seqno is the record's first seqno +
   * index); key and value are `record[keyStart, keyStart + keyLength)` and likewise for the value.
   * `expiresAtMs` is a put's deadline (0 = none); `expired` marks a delete written because a
   * key's time to live ended.
   */
  entry(
    op: number,
    index: number,
    record: Buffer,
    keyStart: number,
    keyLength: number,
    valueStart: number,
    valueLength: number,
    expiresAtMs: number,
    expired: boolean,
  ): void;
}

/**
 * Walks the entries of a framed record in order, checking each as {@link decodeBatch} does, and
 * hands each to `visitor`. Returns the entry count. Throws CORRUPTION on malformed input, naming
 * `source`'s file and offset when given (an entry already visited stays visited: check the
 * record's checksum first); errors the visitor throws pass through unchanged.
 *
 * @example
 * ```ts
 * visitEntries(record.bytes, { entry: (op, index, bytes, keyStart, keyLength) => count++ }, record);
 * ```
 */
export function visitEntries(record: Buffer, visitor: EntryVisitor, source?: RecordSource): number {
  const cursor = new RecordCursor(source);
  const end = record.length;
  let index = 0;
  while (cursor.offset < end) {
    const tag = readTag(record, cursor, end);
    if (tag !== 0x2a) {
      // The batch's own header fields are skipped here, anything else as decodeBatch does.
      const known = tag === 0x08 || tag === 0x10 || tag === 0x18 || tag === 0x25;
      skipValue(record, cursor, tag, end, known ? 0 : BATCH_FIELDS);
      continue;
    }
    const length = varint(record, cursor, end);
    const entryEnd = cursor.offset + length;
    if (entryEnd > end) throw malformed('entry runs past the record', cursor.offset, cursor);
    scanEntry(record, cursor, entryEnd);
    visitor.entry(
      cursor.op,
      index++,
      record,
      cursor.keyStart,
      cursor.keyLength,
      cursor.valueStart,
      cursor.valueLength,
      cursor.expiresAtMs,
      cursor.expired,
    );
  }
  if (index === 0) throw malformed('a batch needs entries', RECORD_HEADER_BYTES, cursor);
  return index;
}

/**
 * One decode's state: the cursor core's varint reader moves through the record (its error fields
 * name the record's source), and the fields of the entry {@link scanEntry} read last. One per
 * decode call, so decodes may nest (a visitor that decodes another record) without sharing state.
 */
class RecordCursor implements VarintCursor {
  offset = RECORD_HEADER_BYTES;
  readonly file: string;
  readonly errorOffset: number;
  readonly what = 'malformed record';
  op = 0;
  keyStart = 0;
  keyLength = 0;
  valueStart = 0;
  valueLength = 0;
  expiresAtMs = 0;
  expired = false;

  constructor(readonly source: RecordSource | undefined) {
    this.file = source?.file ?? 'a record';
    this.errorOffset = source?.offset ?? 0;
  }
}

/**
 * The rules every entry follows: a known op; an epoch start has neither key nor value; a deadline
 * only on a put, the expired marker only on a delete. A put, delete or range delete may have an
 * empty key (proto3 omits the empty bytes field, so an absent key field decodes as the empty key):
 * the empty key is an ordinary key, and what tells an epoch start apart is its op, not its key.
 */
function checkEntryShape(cursor: RecordCursor, entryStart: number): void {
  const { op, keyLength, valueLength } = cursor;
  if (cursor.expiresAtMs !== 0 && op !== 1)
    throw malformed(`op ${op} with a deadline (only puts expire)`, entryStart, cursor);
  if (cursor.expired && op !== 2)
    throw malformed(`op ${op} with the expired marker (only deletes carry it)`, entryStart, cursor);
  if (op === 4) {
    if (keyLength !== 0 || valueLength !== 0)
      throw malformed('epoch start with a key or value', entryStart, cursor);
    return;
  }
  if (op !== 1 && op !== 2 && op !== 3) throw malformed(`unknown op ${op}`, entryStart, cursor);
}

const EMPTY = Buffer.alloc(0);

function decodeEntry(bytes: Buffer, cursor: RecordCursor, end: number): LogEntry {
  scanEntry(bytes, cursor, end);
  const { keyStart, keyLength, valueStart, valueLength } = cursor;
  return {
    op: cursor.op as LogOp,
    key: keyLength === 0 ? EMPTY : bytes.subarray(keyStart, keyStart + keyLength),
    value: valueLength === 0 ? EMPTY : bytes.subarray(valueStart, valueStart + valueLength),
    expiresAtMs: cursor.expiresAtMs,
    expired: cursor.expired,
  };
}

/**
 * Reads the LogEntry from `cursor.offset` to `end` into the cursor's entry fields, checks its
 * shape and leaves the cursor at `end`; the last occurrence of a field wins, as protobuf requires.
 */
function scanEntry(bytes: Buffer, cursor: RecordCursor, end: number): void {
  const start = cursor.offset;
  cursor.op = 0;
  cursor.keyStart = 0;
  cursor.keyLength = 0;
  cursor.valueStart = 0;
  cursor.valueLength = 0;
  cursor.expiresAtMs = 0;
  cursor.expired = false;
  while (cursor.offset < end) {
    const tag = readTag(bytes, cursor, end);
    if (tag === 0x08) {
      cursor.op = varint(bytes, cursor, end);
    } else if (tag === 0x20) {
      cursor.expiresAtMs = varint(bytes, cursor, end);
    } else if (tag === 0x28) {
      // proto3 bool: any non-zero varint is true.
      cursor.expired = varint(bytes, cursor, end) !== 0;
    } else if (tag === 0x12 || tag === 0x1a) {
      const length = varint(bytes, cursor, end);
      const at = cursor.offset;
      if (at + length > end) throw malformed('field runs past its entry', at, cursor);
      if (tag === 0x12) {
        cursor.keyStart = at;
        cursor.keyLength = length;
      } else {
        cursor.valueStart = at;
        cursor.valueLength = length;
      }
      cursor.offset = at + length;
    } else {
      skipValue(bytes, cursor, tag, end, ENTRY_FIELDS);
    }
  }
  checkEntryShape(cursor, start);
}

/**
 * Field numbers of LogBatch (epoch, first seqno, timestamp, chain, entries) and of LogEntry (op,
 * key, value, expires_at_ms, expired).
 */
const BATCH_FIELDS = 5;
const ENTRY_FIELDS = 5;

/**
 * Reads the varint at the cursor (ending before `end`) with core's reader and moves past it;
 * a truncated varint, one longer than 8 bytes or one above 2^53 - 1 is malformed.
 */
function varint(bytes: Buffer, cursor: RecordCursor, end: number): number {
  const at = cursor.offset;
  try {
    return readWireVarint(bytes, cursor, end);
  } catch (error) {
    const reason = isCutVarint(bytes, at, end, MAX_VARINT_BYTES)
      ? 'truncated varint'
      : 'varint too long or above 2^53 - 1';
    throw malformed(reason, at, cursor, error);
  }
}

/**
 * Reads a field tag (almost always one byte) and moves past it. As protobuf (and the generated
 * decoder) require, a tag is a uint32 of at most 5 bytes and field number 0 is not valid.
 */
function readTag(bytes: Buffer, cursor: RecordCursor, end: number): number {
  const at = cursor.offset;
  const first = bytes[at] as number;
  if (first >= 8 && first < 0x80) {
    cursor.offset = at + 1;
    return first;
  }
  if (first < 8) throw malformed('field number 0', at, cursor);
  const tag = varint(bytes, cursor, end);
  if (!isValidTag(tag, cursor.offset - at)) throw malformed('invalid field tag', at, cursor);
  return tag;
}

/**
 * Skips the value of a field with `tag` (any wire type) at the cursor and moves past it. Fields
 * numbered up to `lastKnownField` are the schema's own and reach here only with a wire type the
 * schema does not give them: no encoder writes that, so it is malformed (as the header scan,
 * {@link scanPayload}, also decides) rather than an unknown field to skip.
 */
function skipValue(
  bytes: Buffer,
  cursor: RecordCursor,
  tag: number,
  end: number,
  lastKnownField: number,
): void {
  const at = cursor.offset;
  if (tag >>> 3 <= lastKnownField)
    throw malformed(`field ${tag >>> 3} has wire type ${tag & 7}`, at, cursor);
  let next: number;
  switch (tag & 7) {
    case 0:
      varint(bytes, cursor, end);
      return;
    case 1:
      next = at + 8;
      break;
    case 2:
      next = varint(bytes, cursor, end);
      next += cursor.offset;
      break;
    case 5:
      next = at + 4;
      break;
    default:
      throw malformed(`unsupported wire type ${tag & 7}`, at, cursor);
  }
  if (next > end) throw malformed('field runs past its message', at, cursor);
  cursor.offset = next;
}

/**
 * Malformed record content. CORRUPTION (the record passed its checksum, so its writer produced
 * bytes no encoder writes, or the caller handed over something that is not a record), with
 * `details.recordOffset`: the byte of the framed record where decoding failed; with the file and
 * the record's offset in it as well when the decode was given the record's source.
 */
function malformed(
  reason: string,
  recordOffset: number,
  cursor: RecordCursor,
  cause?: unknown,
): StrataError {
  const message = `malformed record at byte ${recordOffset}: ${reason}`;
  const source = cursor.source;
  if (!source) return new StrataError('CORRUPTION', message, { cause, details: { recordOffset } });
  const named = corruptionError(source.file, source.offset, message, { recordOffset });
  return new StrataError('CORRUPTION', named.message, { cause, details: named.details });
}
