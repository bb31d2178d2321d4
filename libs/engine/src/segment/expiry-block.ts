/**
 * The expiry block of a segment (format version 3): the list of the segment's expiring entries
 * (`ValueKind.Expiring`), so that `Tree.expiringEntries` finds every deadline without reading a
 * data block. The writer builds it as entries are added (flush and compaction alike) and stores it
 * framed and checksummed like every other block, uncompressed, right after the last data block
 * and before the block index; the metadata records `expiringCount`, `expiryOffset` and
 * `expirySizeBytes`. Layout before framing:
 * `[u32 LE count]` then per entry, in the data's order (key ascending, seqno descending),
 * `[varint keyLength][key][varint seqno][u64 LE expiresAtMs]`.
 */
import type { VarintCursor } from '@strata/core';
import { corruptionError, readVarint, varintBytes, writeVarint } from '@strata/core';
import type { DescriptorTable } from '../cache/descriptor-table.js';
import type { ExpiringEntry } from '../expiring.js';
import { compareRanges, copyRange, readU64, writeU64 } from '../util/bytes.js';
import { unframeBlock } from './block-codec.js';
import type { SegmentMetadata } from './metadata.js';

const COUNT_BYTES = 4;
const DEADLINE_BYTES = 8;

/**
 * Collects the expiring entries a segment writer adds, in order, into an (unframed) expiry block.
 *
 * @example
 * ```ts
 * const builder = new ExpiryBlockBuilder();
 * builder.addFrom(key, 0, key.length, 7, 1_700_000_000_000);
 * const raw = builder.finish(); // frame it with frameBlock(raw, 'none')
 * ```
 */
export class ExpiryBlockBuilder {
  private buffer: Buffer | undefined;
  private used = COUNT_BYTES;
  private entryCount = 0;

  /** Entries added. */
  get count(): number {
    return this.entryCount;
  }

  /** Adds the entry whose key is `keySource[keyStart, keyStart + keyLength)`. */
  addFrom(
    keySource: Uint8Array,
    keyStart: number,
    keyLength: number,
    seqno: number,
    expiresAtMs: number,
  ): void {
    const needed = varintBytes(keyLength) + keyLength + varintBytes(seqno) + DEADLINE_BYTES;
    let buffer = this.buffer;
    if (buffer === undefined || this.used + needed > buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(4096, (this.used + needed) * 2));
      if (buffer !== undefined) buffer.copy(grown, 0, 0, this.used);
      buffer = this.buffer = grown;
    }
    let at = writeVarint(buffer, this.used, keyLength);
    copyRange(buffer, at, keySource, keyStart, keyLength);
    at = writeVarint(buffer, at + keyLength, seqno);
    writeU64(buffer, at, expiresAtMs);
    this.used = at + DEADLINE_BYTES;
    this.entryCount++;
  }

  /** The block's bytes (a view of the builder's buffer); only when an entry was added. */
  finish(): Buffer {
    const buffer = this.buffer!;
    buffer.writeUInt32LE(this.entryCount, 0);
    return buffer.subarray(0, this.used);
  }
}

/**
 * The deadline stored in front of an expiring value that starts at `source[start]` (a u64 LE, as
 * `readU64` reads it, from any byte array).
 */
export function deadlineAt(source: Uint8Array, start: number): number {
  const low =
    source[start]! |
    (source[start + 1]! << 8) |
    (source[start + 2]! << 16) |
    (source[start + 3]! << 24);
  const high =
    source[start + 4]! |
    (source[start + 5]! << 8) |
    (source[start + 6]! << 16) |
    (source[start + 7]! << 24);
  return (low >>> 0) + (high >>> 0) * 0x1_0000_0000;
}

/**
 * Decodes a verified (unframed) expiry block read from `file` at `offset`: entries in order, keys
 * as views of `data`.
 *
 * @throws StrataError `CORRUPTION` naming `file` and `offset` when the structure is damaged
 * (no entry, entries out of order, a key running past the block, a deadline of 0 or beyond a
 * safe integer, trailing bytes). A key may be empty: the empty key is an ordinary key.
 */
export function decodeExpiryBlock(data: Buffer, file: string, offset: number): ExpiringEntry[] {
  const end = data.length;
  if (end < COUNT_BYTES) fail(file, offset, 'truncated');
  const count = data.readUInt32LE(0);
  // Every entry takes at least ten bytes: a key length, a seqno, a deadline (the key may be empty).
  if (count === 0 || count * 10 > end - COUNT_BYTES) fail(file, offset, 'bad entry count');
  const cursor: VarintCursor = {
    offset: COUNT_BYTES,
    file,
    errorOffset: offset,
    what: 'expiry block',
  };
  const entries: ExpiringEntry[] = [];
  let previous: ExpiringEntry | undefined;
  for (let i = 0; i < count; i++) {
    const keyLength = readVarint(data, cursor, end);
    const keyAt = cursor.offset;
    if (keyLength > end - keyAt) fail(file, offset, `entry ${i}: bad key`);
    const key = data.subarray(keyAt, keyAt + keyLength);
    cursor.offset = keyAt + keyLength;
    const seqno = readVarint(data, cursor, end);
    const deadlineAtOffset = cursor.offset;
    if (deadlineAtOffset + DEADLINE_BYTES > end) fail(file, offset, `entry ${i}: truncated`);
    // Above 2^53 the high word is 2^21 or more.
    if (data.readUInt32LE(deadlineAtOffset + 4) >= 0x20_0000) {
      fail(file, offset, `entry ${i}: deadline beyond a safe integer`);
    }
    const expiresAtMs = readU64(data, deadlineAtOffset);
    if (expiresAtMs === 0) fail(file, offset, `entry ${i}: deadline 0`);
    cursor.offset = deadlineAtOffset + DEADLINE_BYTES;
    if (previous !== undefined) {
      const c = compareRanges(previous.key, 0, previous.key.length, key, 0, keyLength);
      if (c > 0 || (c === 0 && seqno >= previous.seqno)) {
        fail(file, offset, `entry ${i} out of order`);
      }
    }
    previous = { key, seqno, expiresAtMs };
    entries.push(previous);
  }
  if (cursor.offset !== end) fail(file, offset, 'trailing bytes');
  return entries;
}

/**
 * Reads, verifies and decodes the expiry block of the segment at `path` described by `meta`
 * (through the descriptor table, not the block cache); `[]` when the segment has none.
 *
 * @throws StrataError `CORRUPTION` naming the file and the block's offset when the block is
 * damaged, shorter than the metadata says, or lists another number of entries; `IO_ERROR`.
 */
export async function readExpiryBlock(
  table: DescriptorTable,
  path: string,
  meta: SegmentMetadata,
): Promise<ExpiringEntry[]> {
  const at = meta.expiryOffset;
  const size = meta.expirySizeBytes;
  if (at === undefined || size === undefined) return [];
  const framed = await table.read(path, at, size);
  if (framed.length !== size) {
    throw corruptionError(path, at, 'segment file shorter than its metadata says');
  }
  const entries = decodeExpiryBlock(unframeBlock(framed, path, at), path, at);
  if (entries.length !== meta.expiringCount) {
    throw corruptionError(path, at, 'expiring entry count disagrees with metadata');
  }
  return entries;
}

function fail(file: string, offset: number, reason: string): never {
  throw corruptionError(file, offset, `expiry block: ${reason}`);
}
