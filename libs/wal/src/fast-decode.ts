import type { LogBatch, LogEntry, LogOp } from './log-batch.js';
import { RECORD_HEADER_BYTES } from './record-format.js';

/**
 * Decodes a framed record's LogBatch straight from the protobuf wire bytes: one plain object per
 * entry with key and value as views into `record`. Replay and the change feed decode every record,
 * and the generated protobufjs decoder (kept as the reference, see test/codec.test.ts) costs about
 * three times as much. Throws a plain Error on malformed input; callers report CORRUPTION.
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
      if (entryEnd > end) throw new Error('entry runs past the record');
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
      if (position + 4 > end) throw new Error('truncated chain');
      chain = record.readUInt32LE(position);
      position += 4;
    } else {
      position = skipValue(record, tag, position, end);
    }
  }
  if (entries.length === 0 || firstSeqno < 1)
    throw new Error('a batch needs entries and a first seqno');
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
 * hands each to `visitor`. Returns the entry count. Throws a plain Error on malformed input (an
 * entry already visited stays visited: check the record's checksum first).
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
      position = skipValue(record, tag, position, end);
      continue;
    }
    const length = varint(record, position, end);
    position = cursor;
    const entryEnd = position + length;
    if (entryEnd > end) throw new Error('entry runs past the record');
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
  if (index === 0) throw new Error('a batch needs entries');
  return index;
}

/** The rules every entry follows: a known op; a key unless it starts an epoch, which has none. */
function checkEntryShape(op: number, keyLength: number, valueLength: number): void {
  if (op === 4) {
    if (keyLength !== 0 || valueLength !== 0) throw new Error('epoch start with a key or value');
    return;
  }
  if (op !== 1 && op !== 2 && op !== 3) throw new Error(`unknown op ${op}`);
  if (keyLength === 0) throw new Error('empty key');
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
      if (position + length > end) throw new Error('field runs past its entry');
      if (tag === 0x12) {
        entryKeyStart = position;
        entryKeyLength = length;
      } else {
        entryValueStart = position;
        entryValueLength = length;
      }
      position += length;
    } else {
      position = skipValue(bytes, tag, position, end);
    }
  }
  checkEntryShape(entryOp, entryKeyLength, entryValueLength);
}

let cursor = 0;

/** Reads an unsigned varint at `position` (safe-integer range); sets `cursor` past it. */
function varint(bytes: Buffer, position: number, end: number): number {
  let value = 0;
  let multiplier = 1;
  for (let index = position; index < end && index < position + 10; index++) {
    const byte = bytes[index] as number;
    value += (byte & 0x7f) * multiplier;
    if (byte < 0x80) {
      if (value > Number.MAX_SAFE_INTEGER) throw new Error('varint above 2^53');
      cursor = index + 1;
      return value;
    }
    multiplier *= 128;
  }
  throw new Error('truncated varint');
}

/** Reads a field tag (almost always one byte); sets `cursor` past it. */
function readTag(bytes: Buffer, position: number, end: number): number {
  const first = bytes[position] as number;
  if (first < 0x80) {
    cursor = position + 1;
    return first;
  }
  return varint(bytes, position, end);
}

/** Skips the value of a field with `tag` (any wire type) at `position`; returns the offset after it. */
function skipValue(bytes: Buffer, tag: number, position: number, end: number): number {
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
      throw new Error(`unsupported wire type ${tag & 7}`);
  }
  if (at > end) throw new Error('field runs past its message');
  return at;
}
