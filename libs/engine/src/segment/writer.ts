import { posix } from 'node:path';
import type { FileHandle, FileSystem } from '@strata/core';
import { crc32c, invariant, ioError } from '@strata/core';
import type { CompressionType } from '../config.js';
import type { ValueKindCode } from '../entry.js';
import { ValueKind } from '../entry.js';
import { BlockBuilder } from './block.js';
import { frameBlock } from './block-codec.js';
import { BlockIndexBuilder } from './block-index.js';
import { BloomFilterBuilder } from './bloom-filter.js';
import { compareKeyTo } from '../util/bytes.js';
import type { SegmentMetadata } from './metadata.js';
import { SEGMENT_FORMAT_VERSION, encodeFooter, metadataToJson } from './metadata.js';
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

const WRITE_CHUNK_BYTES = 1024 * 1024;

/**
 * Writes one immutable segment file: data blocks, block index, bloom filter, metadata, footer.
 * The file is written under a temporary name, fsynced, renamed into place and its folder fsynced,
 * so a segment file either exists whole or not at all.
 *
 * Entries must be added in (key ascending, seqno descending) order; that is asserted.
 */
export class SegmentWriter {
  private readonly block: BlockBuilder;
  private readonly index = new BlockIndexBuilder();
  private readonly bloom: BloomFilterBuilder;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private writtenBytes = 0;
  private offset = 0;
  private previousKey = Buffer.alloc(64);
  private previousKeyLength = -1;
  private previousSeqno = 0;
  private minKey: Buffer | undefined;
  private itemCount = 0;
  private tombstoneCount = 0;
  private keyCount = 0;
  private minSeqno = Number.MAX_SAFE_INTEGER;
  private maxSeqno = -1;
  private uncompressedSizeBytes = 0;
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
    // One walk over the key bytes gives both the order check and whether the key is new.
    let newKey = true;
    if (this.previousKeyLength >= 0) {
      const c = -compareKeyTo(key, this.previousKey, 0, this.previousKeyLength);
      newKey = c !== 0;
      invariant(c < 0 || (c === 0 && seqno < this.previousSeqno), 'segment entries out of order');
    }
    if (newKey) {
      if (this.block.estimatedSizeBytes >= this.options.blockSizeBytes) this.cutBlock();
      this.bloom.add(key);
      this.keyCount++;
      if (this.minKey === undefined) this.minKey = Buffer.from(key);
      if (this.previousKey.length < key.length) this.previousKey = Buffer.alloc(key.length * 2);
      this.previousKey.set(key);
      this.previousKeyLength = key.length;
    } else if (this.block.estimatedSizeBytes >= this.options.blockSizeBytes * 4) {
      // Many versions of one key: split anyway so a block stays bounded; readers follow versions
      // across block boundaries.
      this.cutBlock();
    }
    this.block.add(key, value, seqno, kind);
    this.previousSeqno = seqno;
    this.itemCount++;
    if (kind === ValueKind.Tombstone) this.tombstoneCount++;
    if (seqno < this.minSeqno) this.minSeqno = seqno;
    if (seqno > this.maxSeqno) this.maxSeqno = seqno;
    return this.pendingBytes >= WRITE_CHUNK_BYTES;
  }

  /** Writes buffered blocks to the file. */
  async drain(): Promise<void> {
    if (this.pending.length === 0) return;
    const buffers = this.pending;
    const bytes = this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    try {
      await this.handle.writev(buffers, this.writtenBytes);
    } catch (error) {
      throw ioError('write', this.tempPath, error);
    }
    this.writtenBytes += bytes;
  }

  /**
   * Completes the file and moves it into place. Returns its metadata, or `undefined` (and no file)
   * when no entry was added.
   */
  async finish(): Promise<SegmentMetadata | undefined> {
    if (this.itemCount === 0) {
      await this.abort();
      return undefined;
    }
    this.cutBlock();
    const dataEnd = this.offset;
    const indexBlock = frameBlock(this.index.finish(), 'none');
    const filterRaw = this.bloom.finish();
    const filterBlock = filterRaw ? frameBlock(filterRaw, 'none') : Buffer.alloc(0);
    const base = {
      id: this.options.id,
      formatVersion: SEGMENT_FORMAT_VERSION,
      itemCount: this.itemCount,
      tombstoneCount: this.tombstoneCount,
      keyCount: this.keyCount,
      minKey: this.minKey!,
      maxKey: Buffer.from(this.previousKey.subarray(0, this.previousKeyLength)),
      minSeqno: this.minSeqno,
      maxSeqno: this.maxSeqno,
      blockCount: this.index.blockCount,
      uncompressedSizeBytes: this.uncompressedSizeBytes,
      compression: this.options.compression,
      newestDataAtMs: this.options.newestDataAtMs,
    };
    // The metadata records the file size, which depends on the metadata's own length: iterate until
    // the length is stable (at most a couple of rounds, as only digits change).
    const fixedBytes = dataEnd + indexBlock.length + filterBlock.length + 48;
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
      indexOffset: dataEnd,
      indexSizeBytes: indexBlock.length,
      filterOffset: dataEnd + indexBlock.length,
      filterSizeBytes: filterBlock.length,
      metaOffset: dataEnd + indexBlock.length + filterBlock.length,
      metaSizeBytes: metaBlock.length,
    });
    footer.writeUInt32LE(crc32c(footer.subarray(0, 44)), 44);
    this.pending.push(indexBlock, filterBlock, metaBlock, footer);
    this.pendingBytes += indexBlock.length + filterBlock.length + metaBlock.length + footer.length;
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

  private cutBlock(): void {
    if (this.block.count === 0) return;
    const raw = this.block.finish();
    this.uncompressedSizeBytes += raw.length;
    const framed = frameBlock(raw, this.options.compression);
    this.index.add(this.previousKey.subarray(0, this.previousKeyLength), {
      offset: this.offset,
      sizeBytes: framed.length,
    });
    this.offset += framed.length;
    this.pending.push(framed);
    this.pendingBytes += framed.length;
  }
}
