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

/** Scratch for the keys rebuilt while scanning a restart interval; grown on demand. */
let scratch = Buffer.allocUnsafe(256);

/**
 * Point lookup straight on an (uncompressed, verified) data block, as LevelDB does: a binary
 * search over the restart points, then a scan of one restart interval. Decoding a whole block
 * into arrays for one get cost more than the read itself; this touches a few dozen bytes.
 *
 * Finds the first entry ordered at or after (`key`, `seqno`) (key asc, seqno desc). Returns its
 * index in the block when it holds `key` (and fills `hit`), {@link ABSENT} when it holds another
 * key, {@link PAST_END} when every entry sorts before the target.
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

  // Last restart whose entry sorts strictly before the target (or the first restart).
  let left = 0;
  let right = restartCount - 1;
  while (left < right) {
    const mid = (left + right + 1) >>> 1;
    let at = readU32(data, entriesEnd + 4 * mid);
    if (at >= entriesEnd) failBlock(file, offset, 'restart beyond entries');
    // A restart entry stores its key whole: shared is 0.
    if (data[at++] !== 0) failBlock(file, offset, 'bad shared prefix');
    let unshared = 0;
    let shift = 1;
    for (;;) {
      const byte = data[at++]!;
      unshared += (byte & 0x7f) * shift;
      if (byte < 0x80) break;
      shift *= 128;
      if (at >= entriesEnd || shift > 2 ** 35) failBlock(file, offset, 'bad varint');
    }
    while (data[at++]! >= 0x80) if (at >= entriesEnd) failBlock(file, offset, 'bad varint'); // value length
    at++; // kind
    let entrySeqno = 0;
    shift = 1;
    for (;;) {
      const byte = data[at++]!;
      entrySeqno += (byte & 0x7f) * shift;
      if (byte < 0x80) break;
      shift *= 128;
      if (at >= entriesEnd || shift > 2 ** 56) failBlock(file, offset, 'bad varint');
    }
    if (at + unshared > entriesEnd) failBlock(file, offset, 'entry overruns block');
    const c = compareKeyTo(key, data, at, at + unshared);
    if (c > 0 || (c === 0 && entrySeqno > seqno)) left = mid;
    else right = mid - 1;
  }

  let at = readU32(data, entriesEnd + 4 * left);
  let keyLength = 0;
  let index = 0;
  while (at < entriesEnd) {
    let shared = 0;
    let unshared = 0;
    let valueLength = 0;
    let entrySeqno = 0;
    let shift = 1;
    for (;;) {
      const byte = data[at++]!;
      shared += (byte & 0x7f) * shift;
      if (byte < 0x80) break;
      shift *= 128;
      if (at >= entriesEnd || shift > 2 ** 35) failBlock(file, offset, 'bad varint');
    }
    shift = 1;
    for (;;) {
      const byte = data[at++]!;
      unshared += (byte & 0x7f) * shift;
      if (byte < 0x80) break;
      shift *= 128;
      if (at >= entriesEnd || shift > 2 ** 35) failBlock(file, offset, 'bad varint');
    }
    shift = 1;
    for (;;) {
      const byte = data[at++]!;
      valueLength += (byte & 0x7f) * shift;
      if (byte < 0x80) break;
      shift *= 128;
      if (at >= entriesEnd || shift > 2 ** 35) failBlock(file, offset, 'bad varint');
    }
    const kind = data[at++]!;
    // Same rule as the full decoder: a kind other than value (0) or tombstone (1) is damage.
    if (kind > 1) failBlock(file, offset, 'bad entry kind');
    shift = 1;
    for (;;) {
      const byte = data[at++]!;
      entrySeqno += (byte & 0x7f) * shift;
      if (byte < 0x80) break;
      shift *= 128;
      if (at >= entriesEnd || shift > 2 ** 56) failBlock(file, offset, 'bad varint');
    }
    if (shared > keyLength) failBlock(file, offset, 'bad shared prefix');
    if (at + unshared + valueLength > entriesEnd) failBlock(file, offset, 'entry overruns block');
    keyLength = shared + unshared;
    if (keyLength > scratch.length) {
      const grown = Buffer.allocUnsafe(keyLength * 2);
      scratch.copy(grown, 0, 0, shared);
      scratch = grown;
    }
    // A byte loop: Buffer#copy costs a native call, far more than the few bytes a suffix has.
    const target = scratch;
    for (let i = 0; i < unshared; i++) target[shared + i] = data[at + i]!;
    at += unshared;
    const c = compareKeyTo(key, scratch, 0, keyLength);
    if (c < 0 || (c === 0 && entrySeqno <= seqno)) {
      if (c !== 0) return ABSENT;
      hit.valueOffset = at;
      hit.valueLength = valueLength;
      hit.seqno = entrySeqno;
      hit.kind = kind;
      return index;
    }
    at += valueLength;
    index++;
  }
  return PAST_END;
}

function readU32(data: Buffer, at: number): number {
  return (data[at]! | (data[at + 1]! << 8) | (data[at + 2]! << 16)) + data[at + 3]! * 0x1000000;
}

function failBlock(file: string, offset: number, reason: string): never {
  throw corruptionError(file, offset, `data block: ${reason}`);
}
