import type { VarintCursor } from '@strata/core';
import { corruptionError, readVarint, writeVarint } from '@strata/core';
import { compareKeyTo, compareRanges, copyRange } from '../util/bytes.js';

/** Where a data block lives in its segment file. */
export interface BlockHandle {
  readonly offset: number;
  readonly sizeBytes: number;
}

/**
 * Builds the block index: for each data block, its last key and handle. Layout (before framing):
 * `[varint count]` then per block `[varint keyLength][key][varint offset][varint size]`.
 * Entries are appended to one growing buffer: a few small buffers per block were a tenth of a
 * flush's allocations.
 */
export class BlockIndexBuilder {
  private body = Buffer.allocUnsafe(4096);
  private used = 0;
  private count = 0;

  /** Adds the block `handle` whose last key is `keySource[keyStart, keyStart + keyLength)`. */
  addFrom(keySource: Uint8Array, keyStart: number, keyLength: number, handle: BlockHandle): void {
    // Three varints of at most 10 bytes each, and the key.
    const needed = this.used + 30 + keyLength;
    if (needed > this.body.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.body.length * 2, needed));
      this.body.copy(grown, 0, 0, this.used);
      this.body = grown;
    }
    const body = this.body;
    let at = writeVarint(body, this.used, keyLength);
    copyRange(body, at, keySource, keyStart, keyLength);
    at = writeVarint(body, at + keyLength, handle.offset);
    this.used = writeVarint(body, at, handle.sizeBytes);
    this.count++;
  }

  get blockCount(): number {
    return this.count;
  }

  finish(): Buffer {
    const out = Buffer.allocUnsafe(10 + this.used);
    const at = writeVarint(out, 0, this.count);
    this.body.copy(out, at, 0, this.used);
    return out.subarray(0, at + this.used);
  }
}

/** The decoded block index of one segment: binary search from a key to a data block. */
export class BlockIndex {
  private constructor(
    readonly count: number,
    private readonly keys: Buffer,
    private readonly keyStarts: Uint32Array,
    private readonly keyEnds: Uint32Array,
    private readonly offsets: Float64Array,
    private readonly sizes: Uint32Array,
  ) {}

  /** Memory taken, in bytes. */
  get sizeBytes(): number {
    return this.keys.length + this.count * 20;
  }

  offsetOf(block: number): number {
    return this.offsets[block]!;
  }

  sizeOf(block: number): number {
    return this.sizes[block]!;
  }

  lastKey(block: number): Buffer {
    return this.keys.subarray(this.keyStarts[block], this.keyEnds[block]);
  }

  /**
   * The first block whose last key is >= `key` (or > `key` when `afterKey`), or `count`. With
   * `afterKey` the result skips blocks that end in versions of `key`, which matters because the
   * versions of one key may straddle a block boundary.
   */
  seek(key: Uint8Array, afterKey: boolean): number {
    let low = 0;
    let high = this.count;
    while (low < high) {
      const mid = (low + high) >>> 1;
      const c = compareKeyTo(key, this.keys, this.keyStarts[mid]!, this.keyEnds[mid]!);
      if (c > 0 || (afterKey && c === 0)) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /**
   * Decodes an index block read from `file` at `offset`. It runs once per segment on the first read
   * after a reopen, before the JIT has warmed up: a plain loop with inlined one-byte varints (no
   * closure per call) decodes the index of a 1M-key tree several times faster.
   */
  static decode(data: Buffer, file: string, offset: number, dataEndOffset: number): BlockIndex {
    const end = data.length;
    const cursor: VarintCursor = { offset: 0, file, errorOffset: offset, what: 'block index' };
    const count = readVarint(data, cursor, end);
    let at = cursor.offset;
    if (count > end) failIndex(file, offset, 'bad count');
    // Keys stay where they are in `data` (a buffer of its own, from the segment's tail read): the
    // varint headers between them are skipped through `keyStarts`/`keyEnds`, with no copy and no
    // view allocated per entry (a cold first read decodes thousands of entries).
    const keyStarts = new Uint32Array(count);
    const keyEnds = new Uint32Array(count);
    const offsets = new Float64Array(count);
    const sizes = new Uint32Array(count);
    let expectedOffset = 0;
    let previousStart = 0;
    let previousEnd = 0;
    for (let i = 0; i < count; i++) {
      let keyLength = at < end ? data[at]! : 0x80;
      if (keyLength < 0x80) at++;
      else {
        cursor.offset = at;
        keyLength = readVarint(data, cursor, end);
        at = cursor.offset;
      }
      if (at + keyLength > end) failIndex(file, offset, 'key overruns block');
      const keyStart = at;
      at += keyLength;
      cursor.offset = at;
      const blockOffset = readVarint(data, cursor, end);
      at = cursor.offset;
      let size = at < end ? data[at]! : 0x80;
      if (size < 0x80) at++;
      else {
        size = readVarint(data, cursor, end);
        at = cursor.offset;
      }
      if (blockOffset !== expectedOffset) failIndex(file, offset, 'blocks are not contiguous');
      expectedOffset += size;
      if (
        i > 0 &&
        compareRanges(data, previousStart, previousEnd, data, keyStart, keyStart + keyLength) > 0
      ) {
        failIndex(file, offset, 'keys out of order');
      }
      keyStarts[i] = keyStart;
      keyEnds[i] = keyStart + keyLength;
      offsets[i] = blockOffset;
      sizes[i] = size;
      previousStart = keyStart;
      previousEnd = keyStart + keyLength;
    }
    if (at !== end) failIndex(file, offset, 'trailing bytes');
    if (expectedOffset !== dataEndOffset)
      failIndex(file, offset, 'blocks do not cover the data region');
    return new BlockIndex(count, data, keyStarts, keyEnds, offsets, sizes);
  }
}

function failIndex(file: string, offset: number, reason: string): never {
  throw corruptionError(file, offset, `block index: ${reason}`);
}
