import type { VarintCursor } from '@strata/core';
import { corruptionError, readVarint, skipVarint } from '@strata/core';
import { compareKeyTo } from '../util/bytes.js';
import { EXPIRY_PREFIX_BYTES, ValueKind } from '../entry.js';

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
  const cursor: VarintCursor = { offset: 0, file, errorOffset: offset, what: 'data block' };

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
      cursor.offset = at - 1;
      unshared = readVarint(data, cursor, entriesEnd);
      at = cursor.offset;
    }
    at = skipVarint(data, at, entriesEnd, cursor) + 1; // value length, kind
    const seqnoAt = at;
    at = skipVarint(data, at, entriesEnd, cursor);
    if (at + unshared > entriesEnd) failBlock(file, offset, 'entry overruns block');
    const c = compareKeyTo(key, data, at, at + unshared);
    if (c > 0 || (c === 0 && readSeqnoAt(data, seqnoAt, cursor, entriesEnd) > seqno)) left = mid;
    else right = mid - 1;
  }

  let at = readU32(data, entriesEnd + 4 * left);
  // Length of the previous entry's key, and how many leading bytes it shares with the target.
  let previousLength = 0;
  let matched = 0;
  let index = 0;
  while (at < entriesEnd) {
    // Three varints; the 16-byte keys and 100-byte values that dominate take one byte each, read
    // inline, and longer ones go through readVarint.
    let shared = data[at++]!;
    if (shared >= 0x80) {
      cursor.offset = at - 1;
      shared = readVarint(data, cursor, entriesEnd);
      at = cursor.offset;
    }
    let unshared = data[at++]!;
    if (unshared >= 0x80) {
      cursor.offset = at - 1;
      unshared = readVarint(data, cursor, entriesEnd);
      at = cursor.offset;
    }
    let valueLength = data[at++]!;
    if (valueLength >= 0x80) {
      cursor.offset = at - 1;
      valueLength = readVarint(data, cursor, entriesEnd);
      at = cursor.offset;
    }
    if (at >= entriesEnd) failBlock(file, offset, 'truncated entry');
    const kind = data[at++]!;
    // Same rules as the full decoder: a kind other than value (0), tombstone (1) or expiring
    // value (2) is damage, and so is an expiring value too short for its deadline.
    if (kind > ValueKind.Expiring) failBlock(file, offset, 'bad entry kind');
    if (kind === ValueKind.Expiring && valueLength < EXPIRY_PREFIX_BYTES) {
      failBlock(file, offset, 'expiring entry without its deadline');
    }
    const seqnoAt = at;
    at = skipVarint(data, at, entriesEnd, cursor);
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
      const entrySeqno = readSeqnoAt(data, seqnoAt, cursor, entriesEnd);
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

/**
 * Decodes the seqno skipped at `seqnoAt`; the cursor is left where it was, so the scan goes on.
 */
function readSeqnoAt(data: Buffer, seqnoAt: number, cursor: VarintCursor, end: number): number {
  const resumeAt = cursor.offset;
  cursor.offset = seqnoAt;
  const seqno = readVarint(data, cursor, end);
  cursor.offset = resumeAt;
  return seqno;
}

function readU32(data: Buffer, at: number): number {
  return (data[at]! | (data[at + 1]! << 8) | (data[at + 2]! << 16)) + data[at + 3]! * 0x1000000;
}

function failBlock(file: string, offset: number, reason: string): never {
  throw corruptionError(file, offset, `data block: ${reason}`);
}
