import { StrataError, varintBytes, writeVarint } from '@strata/core';
import type { LogBatchInput, LogEntry } from './log-batch.js';
import { RECORD_HEADER_BYTES } from './record-format.js';

/**
 * Encodes a LogBatch straight into one buffer: a size pass, then a write pass, with no object per
 * entry. Every write encodes its batch, and protobufjs's writer (kept as the reference, see
 * test/codec.test.ts) builds a list of operations per field of every entry. The bytes are the
 * same as protobufjs's: proto3 field order, fields with default values omitted.
 */

/** Payload size of a batch (its LogBatch encoding) in bytes. */
export function encodedBatchBytes(
  input: LogBatchInput,
  timestampMs: number,
  chain: number,
): number {
  let size = 0;
  if (input.epoch !== 0) size += 1 + varintBytes(input.epoch);
  if (input.firstSeqno !== 0) size += 1 + varintBytes(input.firstSeqno);
  if (timestampMs !== 0) size += 1 + varintBytes(timestampMs);
  if (chain !== 0) size += 5;
  const entries = input.entries;
  for (let index = 0; index < entries.length; index++) {
    const length = entryBytes(entries[index] as LogEntry);
    size += 1 + varintBytes(length) + length;
  }
  return size;
}

/**
 * Writes the LogBatch encoding of `input` into `target` from `RECORD_HEADER_BYTES` on; `target`
 * must be exactly {@link encodedBatchBytes} + the frame header long. The frame header is left to
 * the caller.
 */
export function writeBatch(
  target: Buffer,
  input: LogBatchInput,
  timestampMs: number,
  chain: number,
): void {
  let at = RECORD_HEADER_BYTES;
  if (input.epoch !== 0) {
    target[at++] = 0x08;
    at = writeVarint(target, at, input.epoch);
  }
  if (input.firstSeqno !== 0) {
    target[at++] = 0x10;
    at = writeVarint(target, at, input.firstSeqno);
  }
  if (timestampMs !== 0) {
    target[at++] = 0x18;
    at = writeVarint(target, at, timestampMs);
  }
  if (chain !== 0) {
    target[at++] = 0x25;
    target.writeUInt32LE(chain >>> 0, at);
    at += 4;
  }
  const entries = input.entries;
  for (let index = 0; index < entries.length; index++) {
    const entry = entries[index] as LogEntry;
    target[at++] = 0x2a;
    at = writeVarint(target, at, entryBytes(entry));
    // Validated batches have an op of 1 to 4 (never proto3's omitted default, 0).
    target[at++] = 0x08;
    at = writeVarint(target, at, entry.op);
    at = writeBytesField(target, at, 0x12, entry.key);
    at = writeBytesField(target, at, 0x1a, entry.value);
    const expiresAtMs = entry.expiresAtMs;
    if (expiresAtMs !== undefined && expiresAtMs !== 0) {
      target[at++] = 0x20;
      at = writeVarint(target, at, expiresAtMs);
    }
    if (entry.expired === true) {
      target[at++] = 0x28;
      target[at++] = 1;
    }
  }
  // Not invariant(): its message would be built for every record.
  if (at !== target.length)
    throw new StrataError(
      'INTERNAL',
      `invariant violated: encoded ${at} bytes into a ${target.length}-byte record`,
    );
}

function entryBytes(entry: LogEntry): number {
  let size = 1 + varintBytes(entry.op);
  const keyLength = entry.key.length;
  if (keyLength !== 0) size += 1 + varintBytes(keyLength) + keyLength;
  const valueLength = entry.value.length;
  if (valueLength !== 0) size += 1 + varintBytes(valueLength) + valueLength;
  const expiresAtMs = entry.expiresAtMs;
  if (expiresAtMs !== undefined && expiresAtMs !== 0) size += 1 + varintBytes(expiresAtMs);
  if (entry.expired === true) size += 2;
  return size;
}

function writeBytesField(target: Buffer, position: number, tag: number, bytes: Uint8Array): number {
  const length = bytes.length;
  if (length === 0) return position;
  target[position] = tag;
  let at = writeVarint(target, position + 1, length);
  if (length <= 32) {
    for (let i = 0; i < length; i++) target[at + i] = bytes[i] as number;
  } else {
    target.set(bytes, at);
  }
  at += length;
  return at;
}
