import { invariant } from '@strata/core';
import type { DecodedBlock } from '../segment/block.js';

interface CacheEntry {
  readonly block: DecodedBlock;
  readonly sizeBytes: number;
  referenced: boolean;
}

const BLOCKS_PER_SEGMENT_LIMIT = 2 ** 26;
const CACHE_ID_LIMIT = 2 ** 26;
let nextCacheId = 1;

/** A process-unique number for a segment's blocks in the cache. */
export function allocateCacheId(): number {
  invariant(nextCacheId < CACHE_ID_LIMIT, 'block cache ids exhausted');
  return nextCacheId++;
}

/**
 * A byte-bounded cache of decoded data blocks, shared by all segments of a tree.
 *
 * Eviction is FIFO with a second chance (CLOCK): a hit only sets a flag, so the hot path of a get
 * costs one Map lookup; an entry hit since it was queued is re-queued once instead of evicted.
 *
 * @example
 * ```ts
 * const cache = new BlockCache(64 * 1024 * 1024);
 * cache.insert(segmentCacheId, blockNo, decoded);
 * cache.get(segmentCacheId, blockNo);
 * ```
 */
export class BlockCache {
  private readonly entries = new Map<number, CacheEntry>();
  private usedBytes = 0;
  private hitCount = 0;
  private missCount = 0;

  constructor(readonly capacityBytes: number) {}

  /** Bytes held. */
  get sizeBytes(): number {
    return this.usedBytes;
  }

  /** Hits and misses since creation. */
  stats(): { hits: number; misses: number; entries: number; sizeBytes: number } {
    return {
      hits: this.hitCount,
      misses: this.missCount,
      entries: this.entries.size,
      sizeBytes: this.usedBytes,
    };
  }

  get(cacheId: number, block: number): DecodedBlock | undefined {
    const entry = this.entries.get(cacheId * BLOCKS_PER_SEGMENT_LIMIT + block);
    if (entry === undefined) {
      this.missCount++;
      return undefined;
    }
    this.hitCount++;
    entry.referenced = true;
    return entry.block;
  }

  insert(cacheId: number, block: number, decoded: DecodedBlock): void {
    invariant(block < BLOCKS_PER_SEGMENT_LIMIT, 'block number beyond the cache key space');
    const sizeBytes = decoded.sizeBytes;
    if (sizeBytes > this.capacityBytes) return;
    const key = cacheId * BLOCKS_PER_SEGMENT_LIMIT + block;
    const existing = this.entries.get(key);
    if (existing) {
      this.usedBytes -= existing.sizeBytes;
      this.entries.delete(key);
    }
    this.entries.set(key, { block: decoded, sizeBytes, referenced: false });
    this.usedBytes += sizeBytes;
    this.evict();
  }

  /** Drops every block of one segment (after it was deleted). */
  evictSegment(cacheId: number, blockCount: number): void {
    for (let block = 0; block < blockCount; block++) {
      const key = cacheId * BLOCKS_PER_SEGMENT_LIMIT + block;
      const entry = this.entries.get(key);
      if (entry) {
        this.usedBytes -= entry.sizeBytes;
        this.entries.delete(key);
      }
    }
  }

  private evict(): void {
    let requeued = 0;
    while (this.usedBytes > this.capacityBytes) {
      const first = this.entries.entries().next();
      if (first.done === true) break;
      const [key, entry] = first.value;
      this.entries.delete(key);
      if (entry.referenced && requeued < this.entries.size) {
        entry.referenced = false;
        this.entries.set(key, entry);
        requeued++;
        continue;
      }
      this.usedBytes -= entry.sizeBytes;
    }
  }
}
