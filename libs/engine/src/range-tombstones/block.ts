/**
 * The range-tombstone block of a segment (format version 2), framed and checksummed like every
 * other block. Layout before framing:
 * `[varint fragmentCount]` then per fragment, in key order,
 * `[varint startLength][start][varint endLength][end][varint seqnoCount][varint seqno]...`
 * with the seqnos ascending. Fragments do not overlap (each starts at or after the end of the one
 * before) and every fragment has `start < end` and at least one seqno.
 */
import type { VarintCursor } from '@strata/core';
import { corruptionError, readVarint, varintBytes, writeVarint } from '@strata/core';
import { compareRanges } from '../util/bytes.js';
import type { TombstoneFragment } from './fragments.js';
import { RangeTombstoneFragments } from './fragments.js';

/** Encodes fragments into an (unframed) range-tombstone block. */
export function encodeRangeTombstoneBlock(fragments: RangeTombstoneFragments): Buffer {
  const list = fragments.fragments();
  let size = varintBytes(list.length);
  for (const f of list) {
    size += varintBytes(f.start.length) + f.start.length + varintBytes(f.end.length) + f.end.length;
    size += varintBytes(f.seqnos.length);
    for (const seqno of f.seqnos) size += varintBytes(seqno);
  }
  const out = Buffer.allocUnsafe(size);
  let at = writeVarint(out, 0, list.length);
  for (const f of list) {
    at = writeVarint(out, at, f.start.length);
    out.set(f.start, at);
    at = writeVarint(out, at + f.start.length, f.end.length);
    out.set(f.end, at);
    at = writeVarint(out, at + f.end.length, f.seqnos.length);
    for (const seqno of f.seqnos) at = writeVarint(out, at, seqno);
  }
  return out;
}

/**
 * Decodes a verified (unframed) range-tombstone block read from `file` at `offset`. Keys are views
 * of `data`.
 *
 * @throws StrataError `CORRUPTION` naming `file` and `offset` when the structure is damaged.
 */
export function decodeRangeTombstoneBlock(
  data: Buffer,
  file: string,
  offset: number,
): RangeTombstoneFragments {
  const end = data.length;
  const cursor: VarintCursor = { offset: 0, file, errorOffset: offset, what: 'range tombstones' };
  const count = readVarint(data, cursor, end);
  // Every fragment takes at least five bytes: two lengths, an end byte (the start may be the empty
  // key, the end is after it), a count and a seqno.
  if (count === 0 || count * 5 > end) fail(file, offset, 'bad fragment count');
  const list: TombstoneFragment[] = [];
  let previousEnd: Buffer | undefined;
  for (let i = 0; i < count; i++) {
    const start = readKey(data, cursor, end);
    const stop = readKey(data, cursor, end);
    if (compareRanges(start, 0, start.length, stop, 0, stop.length) >= 0) {
      fail(file, offset, `fragment ${i} is empty or reversed`);
    }
    if (
      previousEnd !== undefined &&
      compareRanges(previousEnd, 0, previousEnd.length, start, 0, start.length) > 0
    ) {
      fail(file, offset, `fragment ${i} overlaps the one before`);
    }
    const seqnoCount = readVarint(data, cursor, end);
    if (seqnoCount === 0 || seqnoCount > end - cursor.offset) {
      fail(file, offset, `fragment ${i} has a bad seqno count`);
    }
    const seqnos: number[] = [];
    for (let n = 0; n < seqnoCount; n++) {
      const seqno = readVarint(data, cursor, end);
      if (n > 0 && seqno <= seqnos[n - 1]!) fail(file, offset, `fragment ${i}: seqnos unordered`);
      seqnos.push(seqno);
    }
    list.push({ start, end: stop, seqnos });
    previousEnd = stop;
  }
  if (cursor.offset !== end) fail(file, offset, 'trailing bytes');
  return new RangeTombstoneFragments(list);
}

function readKey(data: Buffer, cursor: VarintCursor, end: number): Buffer {
  const length = readVarint(data, cursor, end);
  const at = cursor.offset;
  if (length > end - at) fail(cursor.file, cursor.errorOffset, 'key overruns the block');
  cursor.offset = at + length;
  return data.subarray(at, at + length);
}

function fail(file: string, offset: number, reason: string): never {
  throw corruptionError(file, offset, `range tombstones: ${reason}`);
}
