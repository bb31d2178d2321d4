import { corruptionError, crc32c, invariant } from '@strata/core';
import type { BlockCache } from '../cache/block-cache.js';
import { allocateCacheId } from '../cache/block-cache.js';
import type { DescriptorTable } from '../cache/descriptor-table.js';
import { asBuffer, compareKeys, equalKeys } from '../util/bytes.js';
import type { InternalEntry, ValueKindCode } from '../entry.js';
import type { DecodedBlock } from './block.js';
import { decodeBlock } from './block.js';
import { unframeBlock } from './block-codec.js';
import { BlockIndex } from './block-index.js';
import { BloomFilter } from './bloom-filter.js';
import type { SegmentMetadata } from './metadata.js';
import { FOOTER_BYTES, decodeFooter, metadataFromJson } from './metadata.js';

/** What segments of one tree share: the block cache and the descriptor table. */
export interface SegmentContext {
  readonly blockCache: BlockCache;
  readonly descriptorTable: DescriptorTable;
}

/** Returned by {@link Segment.getCached} when the lookup needs a read. */
export const NOT_CACHED = Symbol('not-cached');

interface LoadedParts {
  readonly index: BlockIndex;
  readonly filter: BloomFilter | undefined;
}

/**
 * An immutable segment file opened for reading.
 *
 * Opening is lazy: a segment starts from the metadata copy in the manifest, and its footer, block
 * index, filter and metadata block are read and verified on first use, so reopening a large tree
 * reads no segment file at all. The metadata block must agree with the manifest's copy.
 *
 * Segments are reference counted by the tree versions that list them; once obsolete (compacted
 * away) and unreferenced, the tree deletes the file.
 */
export class Segment {
  /** Tree versions (and through them readers) using this segment. */
  refCount = 0;
  /** Set when a compaction replaced the segment; the file goes once `refCount` reaches 0. */
  obsolete = false;
  readonly cacheId = allocateCacheId();
  private parts: LoadedParts | undefined;
  private loading: Promise<LoadedParts> | undefined;

  constructor(
    readonly meta: SegmentMetadata,
    readonly path: string,
    private readonly context: SegmentContext,
  ) {}

  get id(): number {
    return this.meta.id;
  }

  /** True once the index and filter are in memory. */
  isLoaded(): boolean {
    return this.parts !== undefined;
  }

  /** Number of data blocks. */
  get blockCount(): number {
    return this.meta.blockCount;
  }

  /** The block index (only after {@link load}). */
  get index(): BlockIndex {
    invariant(this.parts !== undefined, 'segment index used before load');
    return this.parts.index;
  }

  /** Reads and verifies footer, index, filter and metadata. Idempotent. */
  async load(): Promise<void> {
    if (this.parts) return;
    this.loading ??= this.readParts().finally(() => {
      this.loading = undefined;
    });
    this.parts = await this.loading;
  }

  /** True when `key` lies within the segment's key range. */
  coversKey(key: Uint8Array): boolean {
    return compareKeys(key, this.meta.minKey) >= 0 && compareKeys(key, this.meta.maxKey) <= 0;
  }

  /** True when the segment may hold `key` (key range, then bloom filter; needs {@link load}). */
  mayContain(key: Uint8Array): boolean {
    if (!this.coversKey(key)) return false;
    const filter = this.parts?.filter;
    return filter === undefined || filter.mayContain(key);
  }

  /** The newest version of `key` below `readSeqno`, tombstones included. */
  async get(key: Uint8Array, readSeqno: number): Promise<InternalEntry | undefined> {
    if (!this.coversKey(key)) return undefined;
    if (!this.parts) await this.load();
    if (!this.mayContain(key)) return undefined;
    const index = this.parts!.index;
    const target = readSeqno - 1;
    for (let blockNo = index.seek(key, false); blockNo < index.count; blockNo++) {
      const block = this.cachedBlock(blockNo) ?? (await this.loadBlock(blockNo));
      const position = block.lowerBound(key, target);
      if (position < block.count) {
        return block.compareKeyAt(key, position) === 0 ? block.entryAt(position) : undefined;
      }
      // Every entry here sorts before the target: older versions of `key` may follow in the next
      // block only if this block ends with `key`.
      if (!equalKeys(index.lastKey(blockNo), key)) return undefined;
    }
    return undefined;
  }

  /**
   * The same lookup as {@link get}, but only from memory: returns {@link NOT_CACHED} as soon as
   * the index, filter or a block would have to be read. Lets hot gets finish without a promise
   * chain per segment.
   */
  getCached(key: Uint8Array, readSeqno: number): InternalEntry | undefined | typeof NOT_CACHED {
    if (!this.coversKey(key)) return undefined;
    const parts = this.parts;
    if (parts === undefined) return NOT_CACHED;
    if (parts.filter !== undefined && !parts.filter.mayContain(key)) return undefined;
    const index = parts.index;
    const target = readSeqno - 1;
    for (let blockNo = index.seek(key, false); blockNo < index.count; blockNo++) {
      const block = this.cachedBlock(blockNo);
      if (block === undefined) return NOT_CACHED;
      const position = block.lowerBound(key, target);
      if (position < block.count) {
        if (block.compareKeyAt(key, position) !== 0) return undefined;
        return {
          key: asBuffer(key),
          value: block.valueAt(position),
          seqno: block.seqnos[position]!,
          kind: block.kinds[position]! as ValueKindCode,
        };
      }
      if (!equalKeys(index.lastKey(blockNo), key)) return undefined;
    }
    return undefined;
  }

  /** A data block from the cache, or `undefined`. */
  cachedBlock(blockNo: number): DecodedBlock | undefined {
    return this.context.blockCache.get(this.cacheId, blockNo);
  }

  /** Reads, verifies and decodes one data block, and caches it. */
  async loadBlock(blockNo: number): Promise<DecodedBlock> {
    const blocks = await this.readBlocks(blockNo, 1, true);
    return blocks[0]!;
  }

  /**
   * Reads `count` consecutive data blocks from `first` in one read (read-ahead for scans).
   * With `fillCache` they are also put in the block cache.
   */
  async readBlocks(first: number, count: number, fillCache: boolean): Promise<DecodedBlock[]> {
    if (!this.parts) await this.load();
    const index = this.parts!.index;
    invariant(first >= 0 && first + count <= index.count && count > 0, 'block range out of bounds');
    const start = index.offsetOf(first);
    const end = index.offsetOf(first + count - 1) + index.sizeOf(first + count - 1);
    const bytes = await this.context.descriptorTable.read(this.path, start, end - start);
    if (bytes.length !== end - start) {
      throw corruptionError(this.path, start, 'segment file shorter than its index says');
    }
    const out: DecodedBlock[] = [];
    for (let blockNo = first; blockNo < first + count; blockNo++) {
      const at = index.offsetOf(blockNo);
      const framed = bytes.subarray(at - start, at - start + index.sizeOf(blockNo));
      const decoded = decodeBlock(unframeBlock(framed, this.path, at), this.path, at);
      if (fillCache) this.context.blockCache.insert(this.cacheId, blockNo, decoded);
      out.push(decoded);
    }
    return out;
  }

  /** Forgets cached blocks and the open handle (the file is going away). */
  release(): void {
    this.context.blockCache.evictSegment(this.cacheId, this.meta.blockCount);
    this.context.descriptorTable.forget(this.path);
  }

  private async readParts(): Promise<LoadedParts> {
    const size = this.meta.fileSizeBytes;
    const table = this.context.descriptorTable;
    if (size < FOOTER_BYTES) throw corruptionError(this.path, 0, 'segment file too small');
    const footerBytes = await table.read(this.path, size - FOOTER_BYTES, FOOTER_BYTES);
    const footer = decodeFooter(footerBytes, this.path, size, crc32c);
    const tailStart = footer.indexOffset;
    const tail = await table.read(this.path, tailStart, size - FOOTER_BYTES - tailStart);
    if (tail.length !== size - FOOTER_BYTES - tailStart) {
      throw corruptionError(this.path, tailStart, 'segment file truncated');
    }
    const slice = (offset: number, length: number): Buffer =>
      tail.subarray(offset - tailStart, offset - tailStart + length);
    const metaRaw = unframeBlock(
      slice(footer.metaOffset, footer.metaSizeBytes),
      this.path,
      footer.metaOffset,
    );
    let metaJson: unknown;
    try {
      metaJson = JSON.parse(metaRaw.toString('utf8'));
    } catch {
      throw corruptionError(this.path, footer.metaOffset, 'segment metadata is not JSON');
    }
    const stored = metadataFromJson(metaJson, this.path);
    const m = this.meta;
    const agrees =
      stored.id === m.id &&
      stored.itemCount === m.itemCount &&
      stored.blockCount === m.blockCount &&
      stored.maxSeqno === m.maxSeqno &&
      stored.minSeqno === m.minSeqno &&
      stored.fileSizeBytes === m.fileSizeBytes &&
      stored.minKey.equals(m.minKey) &&
      stored.maxKey.equals(m.maxKey);
    if (!agrees) {
      throw corruptionError(
        this.path,
        footer.metaOffset,
        'segment metadata disagrees with the manifest',
      );
    }
    const indexRaw = unframeBlock(
      slice(footer.indexOffset, footer.indexSizeBytes),
      this.path,
      footer.indexOffset,
    );
    const index = BlockIndex.decode(indexRaw, this.path, footer.indexOffset, footer.indexOffset);
    if (index.count !== m.blockCount) {
      throw corruptionError(this.path, footer.indexOffset, 'block count disagrees with metadata');
    }
    let filter: BloomFilter | undefined;
    if (footer.filterSizeBytes > 0) {
      const filterRaw = unframeBlock(
        slice(footer.filterOffset, footer.filterSizeBytes),
        this.path,
        footer.filterOffset,
      );
      filter = BloomFilter.decode(filterRaw, this.path, footer.filterOffset);
    }
    return { index, filter };
  }
}
