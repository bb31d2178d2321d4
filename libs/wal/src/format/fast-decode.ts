import { StrataError } from '@strata/core';
import type { LogBatch, LogEntry, LogOp } from './log-batch.js';
import { RECORD_HEADER_BYTES, isValidTag } from './record-format.js';

/**
 * Decodes a framed record's LogBatch straight from the protobuf wire bytes: one plain object per
 * entry with key and value as views into `record`. Replay and the change feed decode every record,
 * and the generated protobufjs decoder (kept as the reference, see test/codec.test.ts) costs about
 * three times as much. Throws CORRUPTION on malformed input ({@link malformed}); callers that know
 * the record's file and offset add them.
 */
export function decodeBatch(record: Buffer): LogBatch {
  let position = RECORD_HEADER_BYTES;
  const end = record.length;
  let epoch = 0;
  let firstSeqno = 0;
  let timestampMs = 0;
  let chain = 0;
  const entries: LogEntry[] = [];
  while (position < end) {
    const tag = readTag(record, position, end);
    position = cursor;
    if (tag === 0x2a) {
      // Field 5, length-delimited: one entry.
      const length = varint(record, position, end);
      position = cursor;
      const entryEnd = position + length;
      if (entryEnd > end) throw malformed('entry runs past the record', position);
      entries.push(decodeEntry(record, position, entryEnd));
      position = entryEnd;
    } else if (tag === 0x08) {
      epoch = varint(record, position, end);
      position = cursor;
    } else if (tag === 0x10) {
      firstSeqno = varint(record, position, end);
      position = cursor;
    } else if (tag === 0x18) {
      timestampMs = varint(record, position, end);
      position = cursor;
    } else if (tag === 0x25) {
      if (position + 4 > end) throw malformed('truncated chain', position);
      chain = record.readUInt32LE(position);
      position += 4;
    } else {
      position = skipValue(record, tag, position, end, BATCH_FIELDS);
    }
  }
  if (entries.length === 0 || firstSeqno < 1)
    throw malformed('a batch needs entries and a first seqno', RECORD_HEADER_BYTES);
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
   */
  entry(
    op: number,
    index: number,
    record: Buffer,
    keyStart: number,
    keyLength: number,
    valueStart: number,
    valueLength: number,
  ): void;
}

/**
 * Walks the entries of a framed record in order, checking each as {@link decodeBatch} does, and
 * hands each to `visitor`. Returns the entry count. Throws CORRUPTION on malformed input (an
 * entry already visited stays visited: check the record's checksum first); errors the visitor
 * throws pass through unchanged.
 *
 * @example
 * ```ts
 * visitEntries(record.bytes, { entry: (op, index, bytes, keyStart, keyLength) => count++ });
 * ```
 */
export function visitEntries(record: Buffer, visitor: EntryVisitor): number {
  let position = RECORD_HEADER_BYTES;
  const end = record.length;
  let index = 0;
  while (position < end) {
    const tag = readTag(record, position, end);
    position = cursor;
    if (tag !== 0x2a) {
      // The batch's own header fields are skipped here, anything else as decodeBatch does.
      const known = tag === 0x08 || tag === 0x10 || tag === 0x18 || tag === 0x25;
      position = skipValue(record, tag, position, end, known ? 0 : BATCH_FIELDS);
      continue;
    }
    const length = varint(record, position, end);
    position = cursor;
    const entryEnd = position + length;
    if (entryEnd > end) throw malformed('entry runs past the record', position);
    scanEntry(record, position, entryEnd);
    position = entryEnd;
    visitor.entry(
      entryOp,
      index++,
      record,
      entryKeyStart,
      entryKeyLength,
      entryValueStart,
      entryValueLength,
    );
  }
  if (index === 0) throw malformed('a batch needs entries', RECORD_HEADER_BYTES);
  return index;
}

/** The rules every entry follows: a known op; a key unless it starts an epoch, which has none. */
function checkEntryShape(
  op: number,
  keyLength: number,
  valueLength: number,
  entryStart: number,
): void {
  if (op === 4) {
    if (keyLength !== 0 || valueLength !== 0)
      throw malformed('epoch start with a key or value', entryStart);
    return;
  }
  if (op !== 1 && op !== 2 && op !== 3) throw malformed(`unknown op ${op}`, entryStart);
  if (keyLength === 0) throw malformed('empty key', entryStart);
}

const EMPTY = Buffer.alloc(0);

function decodeEntry(bytes: Buffer, start: number, end: number): LogEntry {
  scanEntry(bytes, start, end);
  return {
    op: entryOp as LogOp,
    key:
      entryKeyLength === 0 ? EMPTY : bytes.subarray(entryKeyStart, entryKeyStart + entryKeyLength),
    value:
      entryValueLength === 0
        ? EMPTY
        : bytes.subarray(entryValueStart, entryValueStart + entryValueLength),
  };
}

// The fields of the entry scanEntry read last (module-level, so a scan allocates nothing).
let entryOp = 0;
let entryKeyStart = 0;
let entryKeyLength = 0;
let entryValueStart = 0;
let entryValueLength = 0;

/**
 * Reads one LogEntry from `bytes[start, end)` into the `entry*` fields and checks its shape; the
 * last occurrence of a field wins, as protobuf requires.
 */
function scanEntry(bytes: Buffer, start: number, end: number): void {
  let position = start;
  entryOp = 0;
  entryKeyStart = 0;
  entryKeyLength = 0;
  entryValueStart = 0;
  entryValueLength = 0;
  while (position < end) {
    const tag = readTag(bytes, position, end);
    position = cursor;
    if (tag === 0x08) {
      entryOp = varint(bytes, position, end);
      position = cursor;
    } else if (tag === 0x12 || tag === 0x1a) {
      const length = varint(bytes, position, end);
      position = cursor;
      if (position + length > end) throw malformed('field runs past its entry', position);
      if (tag === 0x12) {
        entryKeyStart = position;
        entryKeyLength = length;
      } else {
        entryValueStart = position;
        entryValueLength = length;
      }
      position += length;
    } else {
      position = skipValue(bytes, tag, position, end, ENTRY_FIELDS);
    }
  }
  checkEntryShape(entryOp, entryKeyLength, entryValueLength, start);
}

let cursor = 0;

/** Field numbers of LogBatch (epoch, first seqno, timestamp, chain, entries) and of LogEntry. */
const BATCH_FIELDS = 5;
const ENTRY_FIELDS = 3;

/** Reads an unsigned varint at `position` (safe-integer range); sets `cursor` past it. */
function varint(bytes: Buffer, position: number, end: number): number {
  let value = 0;
  let multiplier = 1;
  for (let index = position; index < end && index < position + 10; index++) {
    const byte = bytes[index] as number;
    value += (byte & 0x7f) * multiplier;
    if (byte < 0x80) {
      if (value > Number.MAX_SAFE_INTEGER) throw malformed('varint above 2^53', position);
      cursor = index + 1;
      return value;
    }
    multiplier *= 128;
  }
  throw malformed('truncated varint', position);
}

/**
 * Reads a field tag (almost always one byte); sets `cursor` past it. As protobuf (and the generated
 * decoder) require, a tag is a uint32 of at most 5 bytes and field number 0 is not valid.
 */
function readTag(bytes: Buffer, position: number, end: number): number {
  const first = bytes[position] as number;
  if (first >= 8 && first < 0x80) {
    cursor = position + 1;
    return first;
  }
  if (first < 8) throw malformed('field number 0', position);
  const tag = varint(bytes, position, end);
  if (!isValidTag(tag, cursor - position)) throw malformed('invalid field tag', position);
  return tag;
}

/**
 * Skips the value of a field with `tag` (any wire type) at `position`; returns the offset after it.
 * Fields numbered up to `lastKnownField` are the schema's own and reach here only with a wire type
 * the schema does not give them: no encoder writes that, so it is malformed (as the header scan,
 * {@link scanPayload}, also decides) rather than an unknown field to skip.
 */
function skipValue(
  bytes: Buffer,
  tag: number,
  position: number,
  end: number,
  lastKnownField: number,
): number {
  if (tag >>> 3 <= lastKnownField)
    throw malformed(`field ${tag >>> 3} has wire type ${tag & 7}`, position);
  let at = position;
  switch (tag & 7) {
    case 0:
      varint(bytes, at, end);
      return cursor;
    case 1:
      at += 8;
      break;
    case 2:
      at = varint(bytes, at, end);
      at += cursor;
      break;
    case 5:
      at += 4;
      break;
    default:
      throw malformed(`unsupported wire type ${tag & 7}`, position);
  }
  if (at > end) throw malformed('field runs past its message', position);
  return at;
}

/**
 * Malformed record content. CORRUPTION (the record passed its checksum, so its writer produced
 * bytes no encoder writes, or the caller handed over something that is not a record), with
 * `details.recordOffset`: the byte of the framed record where decoding failed. The decoders do not
 * know the file, so they leave `file` and `offset` to callers that do.
 */
function malformed(reason: string, recordOffset: number): StrataError {
  return new StrataError('CORRUPTION', `malformed record at byte ${recordOffset}: ${reason}`, {
    details: { recordOffset },
  });
}
