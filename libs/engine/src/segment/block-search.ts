import { corruptionError } from '@strata/core';
import { compareKeyTo } from '../util/bytes.js';

/** {@link searchBlock} found no entry at or after the target in this block: look in the next. */
export const PAST_END = -1;
/** {@link searchBlock} landed on an entry of another key: the key has no visible version. */
export const ABSENT = -2;

/** Where {@link searchBlock} found the entry (valid after a non-negative return). */
export interface BlockHit {
  valueOffset: number;
  valueLength: number;
  seqno: number;
  kind: number;
}

/**
 * Point lookup straight on an (uncompressed, verified) data block, as LevelDB does: a binary
 * search over the restart points, then a scan of one restart interval. Decoding a whole block
 * into arrays for one get cost more than the read itself; this touches a few dozen bytes.
 *
 * Keys are never rebuilt: the scan tracks how many leading bytes the previous key shares with the
 * target (`matched`), so an entry sharing more than that with its predecessor sorts before the
 * target without a byte of it being read, and the others compare only their suffix. A seqno is
 * decoded only for an entry whose key equals the target.
 *
 * Finds the first entry ordered at or after (`key`, `seqno`) (key asc, seqno desc). Returns a
 * non-negative number (its position within the restart interval) when it holds `key` (and fills
 * `hit`), {@link ABSENT} when it holds another key, {@link PAST_END} when every entry sorts before
 * the target.
 */
export function searchBlock(
  data: Buffer,
  key: Uint8Array,
  seqno: number,
  hit: BlockHit,
  file: string,
  offset: number,
): number {
  if (data.length < 8) failBlock(file, offset, 'too short');
  const restartCount = readU32(data, data.length - 4);
  const entriesEnd = data.length - 4 - restartCount * 4;
  if (restartCount === 0 || entriesEnd < 0) failBlock(file, offset, 'bad restart count');
  const keyLength = key.length;

  // Last restart whose entry sorts strictly before the target (or the first restart).
  let left = 0;
  let right = restartCount - 1;
  while (left < right) {
    const mid = (left + right + 1) >>> 1;
    let at = readU32(data, entriesEnd + 4 * mid);
    if (at >= entriesEnd) failBlock(file, offset, 'restart beyond entries');
    // A restart entry stores its key whole: shared is 0.
    if (data[at++] !== 0) failBlock(file, offset, 'bad shared prefix');
    let unshared = data[at++]!;
    if (unshared >= 0x80) {
      unshared &= 0x7f;
      let shift = 128;
      for (;;) {
        if (at >= entriesEnd || shift > 2 ** 35) failBlock(file, offset, 'bad varint');
        const byte = data[at++]!;
        unshared += (byte & 0x7f) * shift;
        if (byte < 0x80) break;
        shift *= 128;
      }
    }
    at = skipVarint(data, at, entriesEnd, file, offset); // value length
    at++; // kind
    const seqnoAt = at;
    at = skipVarint(data, at, entriesEnd, file, offset);
    if (at + unshared > entriesEnd) failBlock(file, offset, 'entry overruns block');
    const c = compareKeyTo(key, data, at, at + unshared);
    if (c > 0 || (c === 0 && readSeqno(data, seqnoAt) > seqno)) left = mid;
    else right = mid - 1;
  }

  let at = readU32(data, entriesEnd + 4 * left);
  // Length of the previous entry's key, and how many leading bytes it shares with the target.
  let previousLength = 0;
  let matched = 0;
  let index = 0;
  while (at < entriesEnd) {
    // Three varints; the 16-byte keys and 100-byte values that dominate take one byte each.
    let shared = data[at++]!;
    if (shared >= 0x80) {
      at--;
      shared = readVarintAt(data, at, entriesEnd, file, offset);
      at = varintEnd;
    }
    let unshared = data[at++]!;
    if (unshared >= 0x80) {
      at--;
      unshared = readVarintAt(data, at, entriesEnd, file, offset);
      at = varintEnd;
    }
    let valueLength = data[at++]!;
    if (valueLength >= 0x80) {
      at--;
      valueLength = readVarintAt(data, at, entriesEnd, file, offset);
      at = varintEnd;
    }
    if (at >= entriesEnd) failBlock(file, offset, 'truncated entry');
    const kind = data[at++]!;
    // Same rule as the full decoder: a kind other than value (0) or tombstone (1) is damage.
    if (kind > 1) failBlock(file, offset, 'bad entry kind');
    const seqnoAt = at;
    at = skipVarint(data, at, entriesEnd, file, offset);
    if (shared > previousLength) failBlock(file, offset, 'bad shared prefix');
    if (at + unshared + valueLength > entriesEnd) failBlock(file, offset, 'entry overruns block');
    const entryLength = shared + unshared;
    let c: number;
    if (shared > matched) {
      // The previous key sorted before the target and differs from it at byte `matched`; this key
      // has the same byte there, so it sorts before the target too (and `matched` holds).
      c = 1;
    } else {
      // This key starts with target[0..shared): compare the rest with its suffix.
      let i = shared;
      let j = at;
      const stop = entryLength < keyLength ? entryLength : keyLength;
      while (i < stop && key[i] === data[j]) {
        i++;
        j++;
      }
      matched = i;
      c = i < stop ? key[i]! - data[j]! : keyLength - entryLength;
    }
    previousLength = entryLength;
    at += unshared;
    if (c < 0) return ABSENT;
    if (c === 0) {
      const entrySeqno = readSeqno(data, seqnoAt);
      if (entrySeqno <= seqno) {
        hit.valueOffset = at;
        hit.valueLength = valueLength;
        hit.seqno = entrySeqno;
        hit.kind = kind;
        return index;
      }
    }
    at += valueLength;
    index++;
  }
  return PAST_END;
}

/** Where {@link readVarintAt} stopped (lookups run one at a time). */
let varintEnd = 0;

/** Reads a varint of at most 35 bits at `at` (ending before `end`); sets {@link varintEnd}. */
function readVarintAt(data: Buffer, at: number, end: number, file: string, offset: number): number {
  let result = 0;
  let shift = 1;
  for (;;) {
    if (at >= end || shift > 2 ** 35) failBlock(file, offset, 'bad varint');
    const byte = data[at++]!;
    result += (byte & 0x7f) * shift;
    if (byte < 0x80) break;
    shift *= 128;
  }
  varintEnd = at;
  return result;
}

/** Skips a varint of at most 63 bits at `at` (ending before `end`); returns the offset after it. */
function skipVarint(data: Buffer, at: number, end: number, file: string, offset: number): number {
  const limit = at + 9;
  while (data[at++]! >= 0x80) {
    if (at >= end || at >= limit) failBlock(file, offset, 'bad varint');
  }
  if (at > end) failBlock(file, offset, 'bad varint');
  return at;
}

/** Decodes a seqno varint that {@link skipVarint} already bounded. */
function readSeqno(data: Buffer, at: number): number {
  let result = 0;
  let shift = 1;
  for (;;) {
    const byte = data[at++]!;
    result += (byte & 0x7f) * shift;
    if (byte < 0x80) return result;
    shift *= 128;
  }
}

function readU32(data: Buffer, at: number): number {
  return (data[at]! | (data[at + 1]! << 8) | (data[at + 2]! << 16)) + data[at + 3]! * 0x1000000;
}

function failBlock(file: string, offset: number, reason: string): never {
  throw corruptionError(file, offset, `data block: ${reason}`);
}
