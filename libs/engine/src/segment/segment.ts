import { corruptionError, crc32c, invariant } from '@strata/core';
import type { BlockCache } from '../cache/block-cache.js';
import { allocateCacheId } from '../cache/block-cache.js';
import type { DescriptorTable } from '../cache/descriptor-table.js';
import { asBuffer, compareKeys, equalKeys } from '../util/bytes.js';
import type { InternalEntry, ValueKindCode } from '../entry.js';
import type { ExpiringEntry } from '../expiring.js';
import { decodeRangeTombstoneBlock } from '../range-tombstones/block.js';
import type { RangeTombstoneFragments } from '../range-tombstones/fragments.js';
import { NOT_COVERED } from '../range-tombstones/fragments.js';
import type { DecodedBlock } from './block.js';
import { decodeBlock } from './block.js';
import { unframeBlock } from './block-codec.js';
import type { BlockHit } from './block-search.js';
import { ABSENT, PAST_END, searchBlock } from './block-search.js';
import { BlockIndex } from './block-index.js';
import { BloomFilter, hashKey } from './bloom-filter.js';
import type { SegmentMetadata } from './metadata.js';
import { readExpiryBlock } from './expiry-block.js';
import {
  FOOTER_BYTES,
  checkFooterAgainstMetadata,
  decodeFooter,
  expiringCountOf,
  metadataAgrees,
  metadataFromJson,
  rangeTombstoneCountOf,
  rangeTombstoneOffsetOf,
} from './metadata.js';

/** What segments of one tree share: the block cache and the descriptor table. */
export interface SegmentContext {
  readonly blockCache: BlockCache;
  readonly descriptorTable: DescriptorTable;
}

/** Where searchBlock reports a hit; reused, as lookups run one at a time. */
const hit: BlockHit = { valueOffset: 0, valueLength: 0, seqno: 0, kind: 0 };

/** Where blocks not admitted to the cache are read (point lookups run one at a time). */
let readScratch = Buffer.allocUnsafeSlow(64 * 1024);

/** True when `data` lies in the read scratch (and must be copied from before the next read). */
function isScratch(data: Buffer): boolean {
  return data.buffer === readScratch.buffer;
}

/** Returned by {@link Segment.getCached} when the lookup needs a read. */
export const NOT_CACHED = Symbol('not-cached');

/**
 * The index and filter of a loaded segment. Both blocks are verified (checksum) when loaded, but
 * the index is decoded on first use: with overlapping level-0 segments the bloom filters send a
 * point lookup to one of them, so the first read after a reopen decodes one index, not all.
 */
class LoadedParts {
  private decoded: BlockIndex | undefined;

  constructor(
    readonly filter: BloomFilter | undefined,
    /** The segment's range tombstones, decoded when loaded (they are few, and every read needs them). */
    readonly rangeTombstones: RangeTombstoneFragments | undefined,
    private readonly indexBytes: Buffer,
    private readonly path: string,
    private readonly indexOffset: number,
    /** Where the data blocks end: the index, or the expiry block before it. */
    private readonly dataEndOffset: number,
    private readonly blockCount: number,
    /** Length of the tail read the parts are views of. */
    private readonly tailSizeBytes: number,
  ) {}

  /**
   * Bytes held for the segment's life: the tail read (index, filter, metadata and range
   * tombstone blocks) and the decoded index's arrays (20 bytes a block).
   */
  get sizeBytes(): number {
    return this.tailSizeBytes + this.blockCount * 20;
  }

  /** The decoded block index; throws `CORRUPTION` when its structure is damaged. */
  get index(): BlockIndex {
    return (this.decoded ??= this.decodeIndex());
  }

  private decodeIndex(): BlockIndex {
    const at = this.indexOffset;
    const index = BlockIndex.decode(this.indexBytes, this.path, at, this.dataEndOffset);
    if (index.count !== this.blockCount) {
      throw corruptionError(this.path, at, 'block count disagrees with metadata');
    }
    return index;
  }
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
  /** True when the segment stores range tombstones (known from the metadata, before any load). */
  readonly hasRangeTombstones: boolean;
  /** True when the segment stores expiring entries (and an expiry block listing them). */
  readonly hasExpiringEntries: boolean;
  /** `meta.maxKeyExclusive` as a field of its own: every get of a level reads it. */
  private readonly maxKeyExclusive: boolean;
  private parts: LoadedParts | undefined;
  private loading: Promise<LoadedParts> | undefined;

  constructor(
    readonly meta: SegmentMetadata,
    readonly path: string,
    private readonly context: SegmentContext,
  ) {
    this.hasRangeTombstones = rangeTombstoneCountOf(meta) > 0;
    this.hasExpiringEntries = expiringCountOf(meta) > 0;
    this.maxKeyExclusive = meta.maxKeyExclusive === true;
  }

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
    const parts = await this.loading;
    if (this.parts === undefined) {
      this.parts = parts;
      // Index and filter stay in memory as long as the segment: charged to the cache's budget.
      this.context.blockCache.pin(parts.sizeBytes);
    }
  }

  /** True when `key` lies within the segment's key range (entries and range tombstones). */
  coversKey(key: Uint8Array): boolean {
    if (compareKeys(key, this.meta.minKey) < 0) return false;
    const c = compareKeys(key, this.meta.maxKey);
    return c < 0 || (c === 0 && !this.maxKeyExclusive);
  }

  /** True when the segment holds nothing at or after `key`. */
  endsBefore(key: Uint8Array): boolean {
    const c = compareKeys(this.meta.maxKey, key);
    return c < 0 || (c === 0 && this.maxKeyExclusive);
  }

  /** The range tombstones (only after {@link load}); `undefined` when the segment has none. */
  get rangeTombstones(): RangeTombstoneFragments | undefined {
    invariant(this.parts !== undefined, 'segment range tombstones used before load');
    return this.parts.rangeTombstones;
  }

  /**
   * The highest seqno below `readSeqno` of a range tombstone of this segment covering `key`, or
   * {@link NOT_COVERED} (needs {@link load} when the segment has range tombstones).
   */
  coveringTombstoneSeqno(key: Uint8Array, readSeqno: number): number {
    if (!this.hasRangeTombstones) return NOT_COVERED;
    return this.rangeTombstones!.coveringSeqno(key, readSeqno);
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
    // The key range was checked above; only the bloom filter is left.
    const filter = this.parts!.filter;
    if (filter !== undefined && !filter.mayContain(key)) return undefined;
    const index = this.parts!.index;
    for (let blockNo = index.seek(key, false); blockNo < index.count; blockNo++) {
      const data = this.cachedData(blockNo) ?? (await this.loadData(blockNo));
      const found = this.searchIn(data, blockNo, key, readSeqno);
      if (found !== PAST_END) return found;
    }
    return undefined;
  }

  /**
   * The same lookup as {@link get}, but synchronous: a missing block is read with a synchronous
   * (page-cache) read once the file is open. Returns {@link NOT_CACHED} when the index or filter
   * is not loaded or the file has no open handle yet. Lets gets finish without a promise chain.
   * `keyHash` is the key's {@link hashKey}, computed once by a caller that consults several
   * segments.
   */
  getCached(
    key: Uint8Array,
    readSeqno: number,
    keyHash: number = hashKey(key),
  ): InternalEntry | undefined | typeof NOT_CACHED {
    if (!this.coversKey(key)) return undefined;
    const parts = this.parts;
    if (parts === undefined) return NOT_CACHED;
    if (parts.filter !== undefined && !parts.filter.mayContainHash(keyHash)) return undefined;
    const index = parts.index;
    for (let blockNo = index.seek(key, false); blockNo < index.count; blockNo++) {
      const data = this.cachedData(blockNo) ?? this.readDataSync(blockNo);
      if (data === undefined) return NOT_CACHED;
      const found = this.searchIn(data, blockNo, key, readSeqno);
      if (found !== PAST_END) return found;
    }
    return undefined;
  }

  /**
   * Looks `key` up in one block: the entry, `undefined` when the key has no visible version, or
   * PAST_END when older versions of `key` may continue in the next block.
   */
  private searchIn(
    data: Buffer,
    blockNo: number,
    key: Uint8Array,
    readSeqno: number,
  ): InternalEntry | undefined | typeof PAST_END {
    const at = this.parts!.index.offsetOf(blockNo);
    const position = searchBlock(data, key, readSeqno - 1, hit, this.path, at);
    if (position >= 0) {
      const value = data.subarray(hit.valueOffset, hit.valueOffset + hit.valueLength);
      return {
        key: asBuffer(key),
        // Values are views of immutable cached bytes, except in the scratch of an uncached read.
        value: isScratch(data) ? Buffer.from(value) : value,
        seqno: hit.seqno,
        kind: hit.kind as ValueKindCode,
      };
    }
    if (position === ABSENT) return undefined;
    // Every entry here sorts before the target: older versions of `key` may follow in the next
    // block only if this block ends with `key`.
    return equalKeys(this.parts!.index.lastKey(blockNo), key) ? PAST_END : undefined;
  }

  /** The uncompressed bytes of a data block from the cache, or `undefined`. */
  cachedData(blockNo: number): Buffer | undefined {
    return this.context.blockCache.get(this.cacheId, blockNo);
  }

  /** A data block from the cache, decoded for a cursor, or `undefined`. */
  cachedBlock(blockNo: number): DecodedBlock | undefined {
    const data = this.cachedData(blockNo);
    if (data === undefined) return undefined;
    return decodeBlock(data, this.path, this.parts!.index.offsetOf(blockNo));
  }

  /**
   * A data block read with {@link readDataSync} and decoded for a cursor (its bytes never in the
   * read scratch: values are views of them), or `undefined` when the file has no open handle yet.
   */
  readBlockSync(blockNo: number): DecodedBlock | undefined {
    let data = this.readDataSync(blockNo);
    if (data === undefined) return undefined;
    if (isScratch(data)) data = Buffer.from(data);
    return decodeBlock(data, this.path, this.parts!.index.offsetOf(blockNo));
  }

  /**
   * Reads and verifies one data block synchronously, or returns `undefined` when the file has no
   * open handle yet. A single block is small and usually in the page cache. The block is cached
   * when the cache admits it; otherwise, if it is stored uncompressed, the returned bytes are a
   * view of a scratch buffer that the next read overwrites (see {@link isScratch}).
   */
  readDataSync(blockNo: number): Buffer | undefined {
    const index = this.parts!.index;
    const at = index.offsetOf(blockNo);
    const size = index.sizeOf(blockNo);
    const cache = this.context.blockCache;
    if (readScratch.length < size) readScratch = Buffer.allocUnsafeSlow(size * 2);
    // The framed bytes always land in the scratch: they are garbage once unframed (decompression
    // writes a buffer of its own), and allocating them cost more than the read itself.
    const framed = this.context.descriptorTable.readSync(this.path, at, size, readScratch);
    if (framed === undefined) return undefined;
    if (framed.length !== size) {
      throw corruptionError(this.path, at, 'segment file shorter than its index says');
    }
    let data = unframeBlock(framed, this.path, at);
    if (cache.shouldAdmit(data.length)) {
      // An uncompressed block is a view of the scratch: the cache needs its own copy.
      if (isScratch(data)) data = Buffer.from(data);
      cache.insert(this.cacheId, blockNo, data);
    }
    return data;
  }

  /** Reads, verifies and caches one data block. */
  async loadData(blockNo: number): Promise<Buffer> {
    const [data] = await this.readRaw(blockNo, 1, true);
    return data!;
  }

  /**
   * Reads `count` consecutive data blocks from `first` in one read (read-ahead for scans) and
   * decodes them. With `fillCache` they are also put in the block cache.
   */
  async readBlocks(first: number, count: number, fillCache: boolean): Promise<DecodedBlock[]> {
    const raws = await this.readRaw(first, count, fillCache);
    const index = this.parts!.index;
    return raws.map((data, i) => decodeBlock(data, this.path, index.offsetOf(first + i)));
  }

  private async readRaw(first: number, count: number, fillCache: boolean): Promise<Buffer[]> {
    if (!this.parts) await this.load();
    const index = this.parts!.index;
    invariant(first >= 0 && first + count <= index.count && count > 0, 'block range out of bounds');
    const start = index.offsetOf(first);
    const end = index.offsetOf(first + count - 1) + index.sizeOf(first + count - 1);
    const bytes = await this.context.descriptorTable.read(this.path, start, end - start);
    if (bytes.length !== end - start) {
      throw corruptionError(this.path, start, 'segment file shorter than its index says');
    }
    const out: Buffer[] = [];
    for (let blockNo = first; blockNo < first + count; blockNo++) {
      const at = index.offsetOf(blockNo);
      const framed = bytes.subarray(at - start, at - start + index.sizeOf(blockNo));
      const data = unframeBlock(framed, this.path, at);
      if (fillCache) this.context.blockCache.insert(this.cacheId, blockNo, data);
      out.push(data);
    }
    return out;
  }

  /**
   * The expiring entries the segment stores, from its expiry block alone (read and verified
   * through the descriptor table; no data block is read, none is cached); `[]` when it has none.
   *
   * @throws StrataError `CORRUPTION` naming the file and the block's offset, `IO_ERROR`.
   */
  readExpiringEntries(): Promise<ExpiringEntry[]> {
    return readExpiryBlock(this.context.descriptorTable, this.path, this.meta);
  }

  /** Forgets cached blocks and the open handle (the file is going away). */
  release(): void {
    this.context.blockCache.evictSegment(this.cacheId, this.meta.blockCount);
    if (this.parts !== undefined) this.context.blockCache.unpin(this.parts.sizeBytes);
    this.parts = undefined;
    this.context.descriptorTable.forget(this.path);
  }

  private async readParts(): Promise<LoadedParts> {
    const size = this.meta.fileSizeBytes;
    const table = this.context.descriptorTable;
    if (size < FOOTER_BYTES) throw corruptionError(this.path, 0, 'segment file too small');
    // Open first, then read footer and tail synchronously (page cache): a cold first get after a
    // reopen waited on three threadpool round trips per segment.
    await table.prepare(this.path);
    const footerBytes =
      table.readSync(this.path, size - FOOTER_BYTES, FOOTER_BYTES) ??
      (await table.read(this.path, size - FOOTER_BYTES, FOOTER_BYTES));
    const footer = decodeFooter(footerBytes, this.path, size, crc32c);
    const tailStart = footer.indexOffset;
    const tailLength = size - FOOTER_BYTES - tailStart;
    const tail =
      table.readSync(this.path, tailStart, tailLength) ??
      (await table.read(this.path, tailStart, tailLength));
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
    checkFooterAgainstMetadata(footer, stored, this.path);
    const m = this.meta;
    const agrees = metadataAgrees(stored, m);
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
    let filter: BloomFilter | undefined;
    if (footer.filterSizeBytes > 0) {
      const filterRaw = unframeBlock(
        slice(footer.filterOffset, footer.filterSizeBytes),
        this.path,
        footer.filterOffset,
      );
      filter = BloomFilter.decode(filterRaw, this.path, footer.filterOffset);
    }
    let rangeTombstones: RangeTombstoneFragments | undefined;
    const tombstonesAt = rangeTombstoneOffsetOf(footer);
    if (footer.rangeTombstoneSizeBytes > 0) {
      const raw = unframeBlock(
        slice(tombstonesAt, footer.rangeTombstoneSizeBytes),
        this.path,
        tombstonesAt,
      );
      rangeTombstones = decodeRangeTombstoneBlock(raw, this.path, tombstonesAt);
    }
    if ((rangeTombstones?.count ?? 0) !== rangeTombstoneCountOf(m)) {
      throw corruptionError(
        this.path,
        tombstonesAt,
        'range tombstone count disagrees with metadata',
      );
    }
    return new LoadedParts(
      filter,
      rangeTombstones,
      indexRaw,
      this.path,
      footer.indexOffset,
      m.expiryOffset ?? footer.indexOffset,
      m.blockCount,
      tail.length,
    );
  }
}
