import { posix } from 'node:path';
import type { FileHandle, FileSystem } from '@strata/core';
import { crc32c, invariant, ioError } from '@strata/core';
import type { CompressionType } from '../config.js';
import type { ValueKindCode } from '../entry.js';
import { EXPIRY_PREFIX_BYTES, ValueKind } from '../entry.js';
import { encodeRangeTombstoneBlock } from '../range-tombstones/block.js';
import type { RangeTombstoneFragments } from '../range-tombstones/fragments.js';
import { BlockBuilder } from './block.js';
import { compareKeys, copyRange } from '../util/bytes.js';
import { frameBlock, frameBlockInto, maxFramedSizeBytes } from './block-codec.js';
import { BlockIndexBuilder } from './block-index.js';
import { BloomFilterBuilder } from './bloom-filter.js';
import { ExpiryBlockBuilder, deadlineAt } from './expiry-block.js';
import type { SegmentMetadata } from './metadata.js';
import {
  EXPIRY_FORMAT_VERSION,
  RANGE_TOMBSTONE_FORMAT_VERSION,
  SEGMENT_FORMAT_VERSION,
  encodeFooter,
  metadataToJson,
} from './metadata.js';
import { TEMP_SUFFIX, segmentFileName } from '../file-names.js';

/** How a segment is written. */
export interface SegmentWriterOptions {
  readonly fileSystem: FileSystem;
  /** The segments folder. */
  readonly folder: string;
  readonly id: number;
  readonly blockSizeBytes: number;
  readonly restartInterval: number;
  readonly bloomBitsPerKey: number;
  readonly compression: CompressionType;
  readonly newestDataAtMs: number;
}

/** Framed blocks are packed into write buffers of this size, each written with one call. */
const WRITE_CHUNK_BYTES = 1024 * 1024;
/** Write buffers kept for reuse once written (more would only hold memory). */
const SPARE_CHUNKS = 2;

/**
 * Writes one immutable segment file: data blocks, the expiry block (only when an expiring entry
 * was added: format version 3), block index, bloom filter, range tombstones (only when there are
 * any: format version 2, or 3 with expiring entries), metadata, footer. The file is written under a temporary
 * name, fsynced, renamed into place and its folder fsynced, so a segment file either exists whole
 * or not at all.
 *
 * Entries must be added in (key ascending, seqno descending) order; that is asserted.
 */
export class SegmentWriter {
  private readonly block: BlockBuilder;
  private readonly index = new BlockIndexBuilder();
  private readonly bloom: BloomFilterBuilder;
  /** Bytes waiting for {@link drain}: used parts of full write buffers, then the tail blocks. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** The write buffers whose bytes are in `pending`, to reuse once written. */
  private pendingChunks: Buffer[] = [];
  /** The write buffer blocks are framed into, and how much of it is used. */
  private chunk: Buffer | undefined;
  private chunkUsedBytes = 0;
  /** Written write buffers, for reuse. */
  private spareChunks: Buffer[] = [];
  private writtenBytes = 0;
  private offset = 0;
  private previousKey = Buffer.alloc(64);
  private previousKeyLength = -1;
  private previousSeqno = 0;
  private minKey: Buffer | undefined;
  private itemCount = 0;
  private tombstoneCount = 0;
  private keyCount = 0;
  // Seqno range of the entries added; read only once one was (finish writes no segment for none).
  private minSeqno = Number.MAX_SAFE_INTEGER;
  private maxSeqno = 0;
  private uncompressedSizeBytes = 0;
  private rangeTombstones: RangeTombstoneFragments | undefined;
  /** The expiring entries added, for the expiry block. */
  private readonly expiring = new ExpiryBlockBuilder();
  private readonly tempPath: string;
  private readonly finalPath: string;

  private constructor(
    private readonly options: SegmentWriterOptions,
    private readonly handle: FileHandle,
  ) {
    this.block = new BlockBuilder(options.restartInterval, options.blockSizeBytes * 2);
    this.bloom = new BloomFilterBuilder(options.bloomBitsPerKey);
    this.finalPath = posix.join(options.folder, segmentFileName(options.id));
    this.tempPath = this.finalPath + TEMP_SUFFIX;
  }

  static async create(options: SegmentWriterOptions): Promise<SegmentWriter> {
    const path = posix.join(options.folder, segmentFileName(options.id)) + TEMP_SUFFIX;
    try {
      return new SegmentWriter(options, await options.fileSystem.open(path, 'create-exclusive'));
    } catch (error) {
      throw ioError('open', path, error);
    }
  }

  /** Entries added so far. */
  get count(): number {
    return this.itemCount;
  }

  /** Bytes of data written so far (uncompressed), for output splitting. */
  get sizeBytes(): number {
    return this.uncompressedSizeBytes + this.block.estimatedSizeBytes;
  }

  /** True when `key` differs from the last key added (a new key starts). */
  isNewKey(key: Uint8Array): boolean {
    if (this.previousKeyLength !== key.length) return true;
    for (let i = 0; i < key.length; i++) if (this.previousKey[i] !== key[i]) return true;
    return false;
  }

  /** False only for an exact repeat of the last entry (same key and seqno), which is skipped. */
  isNewKeyOrOlder(key: Uint8Array, seqno: number): boolean {
    return this.previousKeyLength < 0 || seqno < this.previousSeqno || this.isNewKey(key);
  }

  /** Adds an entry; returns true when buffered bytes should be written out with {@link drain}. */
  add(key: Uint8Array, value: Uint8Array, seqno: number, kind: ValueKindCode): boolean {
    return this.addFrom(key, 0, key.length, value, 0, value.length, seqno, kind);
  }

  /**
   * {@link add} for a key `keySource[keyStart, keyStart + keyLength)` and a value
   * `valueSource[valueStart, valueStart + valueLength)`: the bytes are copied straight into the
   * block, so a flush needs no view per entry of the memtable's slabs. The ranges are read during
   * the call only.
   *
   * @example
   * ```ts
   * if (writer.addFrom(slab, keyOffset, keyLength, slab, keyOffset + keyLength, valueLength, 7, ValueKind.Value)) {
   *   await writer.drain();
   * }
   * ```
   */
  addFrom(
    keySource: Uint8Array,
    keyStart: number,
    keyLength: number,
    valueSource: Uint8Array,
    valueStart: number,
    valueLength: number,
    seqno: number,
    kind: ValueKindCode,
  ): boolean {
    // One walk over the key bytes gives the order check, whether the key is new, and the prefix
    // it shares with the previous key (for the block's prefix compression).
    let shared = 0;
    let newKey = true;
    const previousLength = this.previousKeyLength;
    if (previousLength >= 0) {
      const previous = this.previousKey;
      const n = previousLength < keyLength ? previousLength : keyLength;
      while (shared < n && previous[shared] === keySource[keyStart + shared]) shared++;
      const c =
        shared < n ? keySource[keyStart + shared]! - previous[shared]! : keyLength - previousLength;
      newKey = c !== 0;
      invariant(c > 0 || (c === 0 && seqno < this.previousSeqno), 'segment entries out of order');
    }
    if (newKey) {
      // Cut before the previous key is replaced: it is the index key of the block cut.
      if (this.block.estimatedSizeBytes >= this.options.blockSizeBytes) this.cutBlock();
      this.bloom.addFrom(keySource, keyStart, keyLength);
      this.keyCount++;
      if (this.minKey === undefined) {
        this.minKey = Buffer.allocUnsafe(keyLength);
        copyRange(this.minKey, 0, keySource, keyStart, keyLength);
      }
      // The shared prefix is already in place, unless the buffer must grow.
      let copyFrom = shared;
      if (this.previousKey.length < keyLength) {
        this.previousKey = Buffer.alloc(keyLength * 2);
        copyFrom = 0;
      }
      copyRange(this.previousKey, copyFrom, keySource, keyStart + copyFrom, keyLength - copyFrom);
      this.previousKeyLength = keyLength;
    } else if (this.block.estimatedSizeBytes >= this.options.blockSizeBytes * 4) {
      // Many versions of one key: split anyway so a block stays bounded; readers follow versions
      // across block boundaries.
      this.cutBlock();
    }
    this.block.addWithSharedPrefix(
      shared,
      keySource,
      keyStart,
      keyLength,
      valueSource,
      valueStart,
      valueLength,
      seqno,
      kind,
    );
    this.previousSeqno = seqno;
    this.itemCount++;
    if (kind === ValueKind.Tombstone) this.tombstoneCount++;
    else if (kind === ValueKind.Expiring) {
      invariant(valueLength >= EXPIRY_PREFIX_BYTES, 'expiring entry without its deadline');
      const expiresAtMs = deadlineAt(valueSource, valueStart);
      this.expiring.addFrom(keySource, keyStart, keyLength, seqno, expiresAtMs);
    }
    if (seqno < this.minSeqno) this.minSeqno = seqno;
    if (seqno > this.maxSeqno) this.maxSeqno = seqno;
    return this.pendingBytes > 0;
  }

  /**
   * Sets the range tombstones the segment stores (the part of each tombstone the segment is
   * responsible for). An empty set writes none: the segment stays format version 1.
   */
  setRangeTombstones(fragments: RangeTombstoneFragments): void {
    this.rangeTombstones = fragments.isEmpty() ? undefined : fragments;
  }

  /** Writes buffered blocks to the file. */
  async drain(): Promise<void> {
    if (this.pending.length === 0) return;
    const buffers = this.pending;
    const bytes = this.pendingBytes;
    const chunks = this.pendingChunks;
    this.pending = [];
    this.pendingBytes = 0;
    this.pendingChunks = [];
    try {
      await this.handle.writev(buffers, this.writtenBytes);
    } catch (error) {
      throw ioError('write', this.tempPath, error);
    }
    this.writtenBytes += bytes;
    // Written: their memory can take the next blocks.
    for (const chunk of chunks) {
      if (chunk.length === WRITE_CHUNK_BYTES && this.spareChunks.length < SPARE_CHUNKS) {
        this.spareChunks.push(chunk);
      }
    }
  }

  /**
   * Completes the file and moves it into place. Returns its metadata, or `undefined` (and no file)
   * when neither an entry nor a range tombstone was added.
   */
  async finish(): Promise<SegmentMetadata | undefined> {
    const tombstones = this.rangeTombstones;
    if (this.itemCount === 0 && tombstones === undefined) {
      await this.abort();
      return undefined;
    }
    this.cutBlock();
    this.sealChunk();
    const dataEnd = this.offset;
    const expiringCount = this.expiring.count;
    const expiryBlock =
      expiringCount > 0 ? frameBlock(this.expiring.finish(), 'none') : Buffer.alloc(0);
    const indexOffset = dataEnd + expiryBlock.length;
    const indexBlock = frameBlock(this.index.finish(), 'none');
    const filterRaw = this.bloom.finish();
    const filterBlock = filterRaw ? frameBlock(filterRaw, 'none') : Buffer.alloc(0);
    const tombstoneBlock = tombstones
      ? frameBlock(encodeRangeTombstoneBlock(tombstones), 'none')
      : Buffer.alloc(0);
    const base = {
      id: this.options.id,
      formatVersion:
        expiringCount > 0
          ? EXPIRY_FORMAT_VERSION
          : tombstones
            ? RANGE_TOMBSTONE_FORMAT_VERSION
            : SEGMENT_FORMAT_VERSION,
      itemCount: this.itemCount,
      tombstoneCount: this.tombstoneCount,
      keyCount: this.keyCount,
      ...this.keySpan(),
      minSeqno: tombstones ? Math.min(this.minSeqno, tombstones.minSeqno) : this.minSeqno,
      maxSeqno: tombstones ? Math.max(this.maxSeqno, tombstones.maxSeqno) : this.maxSeqno,
      blockCount: this.index.blockCount,
      uncompressedSizeBytes: this.uncompressedSizeBytes,
      compression: this.options.compression,
      newestDataAtMs: this.options.newestDataAtMs,
      ...(tombstones ? { rangeTombstoneCount: tombstones.count } : {}),
      ...(expiringCount > 0
        ? { expiringCount, expiryOffset: dataEnd, expirySizeBytes: expiryBlock.length }
        : {}),
    };
    // The metadata records the file size, which depends on the metadata's own length: iterate until
    // the length is stable (at most a couple of rounds, as only digits change).
    const fixedBytes =
      indexOffset + indexBlock.length + filterBlock.length + tombstoneBlock.length + 48;
    let metaBlock: Buffer = Buffer.alloc(0);
    let meta: SegmentMetadata = { ...base, fileSizeBytes: 0 };
    for (let round = 0; round < 5; round++) {
      meta = { ...base, fileSizeBytes: fixedBytes + metaBlock.length };
      const next = frameBlock(Buffer.from(JSON.stringify(metadataToJson(meta))), 'none');
      if (next.length === metaBlock.length) break;
      metaBlock = next;
    }
    meta = { ...base, fileSizeBytes: fixedBytes + metaBlock.length };
    metaBlock = frameBlock(Buffer.from(JSON.stringify(metadataToJson(meta))), 'none');
    invariant(fixedBytes + metaBlock.length === meta.fileSizeBytes, 'segment size accounting');
    const footer = encodeFooter({
      formatVersion: meta.formatVersion,
      indexOffset,
      indexSizeBytes: indexBlock.length,
      filterOffset: indexOffset + indexBlock.length,
      filterSizeBytes: filterBlock.length,
      rangeTombstoneSizeBytes: tombstoneBlock.length,
      metaOffset: indexOffset + indexBlock.length + filterBlock.length + tombstoneBlock.length,
      metaSizeBytes: metaBlock.length,
    });
    footer.writeUInt32LE(crc32c(footer.subarray(0, 44)), 44);
    if (expiryBlock.length > 0) this.pending.push(expiryBlock);
    this.pending.push(indexBlock, filterBlock);
    if (tombstoneBlock.length > 0) this.pending.push(tombstoneBlock);
    this.pending.push(metaBlock, footer);
    this.pendingBytes +=
      expiryBlock.length +
      indexBlock.length +
      filterBlock.length +
      tombstoneBlock.length +
      metaBlock.length +
      footer.length;
    await this.drain();
    const fs = this.options.fileSystem;
    try {
      await this.handle.datasync();
    } catch (error) {
      throw ioError('fdatasync', this.tempPath, error);
    }
    await this.handle.close();
    try {
      await fs.rename(this.tempPath, this.finalPath);
      await fs.syncDirectory(this.options.folder);
    } catch (error) {
      throw ioError('rename', this.finalPath, error);
    }
    return meta;
  }

  /** Drops the unfinished file. */
  async abort(): Promise<void> {
    try {
      await this.handle.close();
    } catch {
      // Already closed or the device is gone: the temp file is removed at the next recovery.
    }
    try {
      await this.options.fileSystem.unlink(this.tempPath);
    } catch {
      // As above.
    }
  }

  /**
   * The key range of the entries and range tombstones; the end of a tombstone beyond the last
   * entry makes the range's end exclusive.
   */
  private keySpan(): { minKey: Buffer; maxKey: Buffer; maxKeyExclusive?: true } {
    const entryMin = this.minKey;
    const entryMax =
      this.previousKeyLength < 0
        ? undefined
        : Buffer.from(this.previousKey.subarray(0, this.previousKeyLength));
    const fragments = this.rangeTombstones?.fragments();
    if (fragments === undefined) return { minKey: entryMin!, maxKey: entryMax! };
    const first = fragments[0]!.start;
    const last = fragments[fragments.length - 1]!.end;
    const minKey = entryMin === undefined || compareKeys(first, entryMin) < 0 ? first : entryMin;
    if (entryMax !== undefined && compareKeys(last, entryMax) <= 0) {
      return { minKey: Buffer.from(minKey), maxKey: entryMax };
    }
    return { minKey: Buffer.from(minKey), maxKey: Buffer.from(last), maxKeyExclusive: true };
  }

  private cutBlock(): void {
    if (this.block.count === 0) return;
    const raw = this.block.finishInPlace();
    this.uncompressedSizeBytes += raw.length;
    const maxBytes = maxFramedSizeBytes(raw.length);
    let chunk = this.chunk;
    if (chunk === undefined || this.chunkUsedBytes + maxBytes > chunk.length) {
      this.sealChunk();
      chunk = this.chunk = this.takeChunk(maxBytes);
    }
    const framedBytes = frameBlockInto(raw, this.options.compression, chunk, this.chunkUsedBytes);
    this.chunkUsedBytes += framedBytes;
    this.index.addFrom(this.previousKey, 0, this.previousKeyLength, {
      offset: this.offset,
      sizeBytes: framedBytes,
    });
    this.offset += framedBytes;
  }

  /** Queues the used part of the current write buffer for {@link drain}. */
  private sealChunk(): void {
    if (this.chunk === undefined || this.chunkUsedBytes === 0) return;
    this.pending.push(this.chunk.subarray(0, this.chunkUsedBytes));
    this.pendingBytes += this.chunkUsedBytes;
    this.pendingChunks.push(this.chunk);
    this.chunk = undefined;
    this.chunkUsedBytes = 0;
  }

  /** A write buffer with room for at least `minBytes`. */
  private takeChunk(minBytes: number): Buffer {
    if (minBytes <= WRITE_CHUNK_BYTES) {
      return this.spareChunks.pop() ?? Buffer.allocUnsafeSlow(WRITE_CHUNK_BYTES);
    }
    // A block larger than a write buffer (a huge value): a buffer of its own, never reused.
    return Buffer.allocUnsafeSlow(minBytes);
  }
}
