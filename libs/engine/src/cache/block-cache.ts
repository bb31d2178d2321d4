import { invariant } from '@strata/core';

const BLOCKS_PER_SEGMENT_LIMIT = 2 ** 26;
const CACHE_ID_LIMIT = 2 ** 26;
/** Per-entry bookkeeping counted against the budget (map entry, slot, Buffer object). */
const ENTRY_OVERHEAD_BYTES = 160;
let nextCacheId = 1;

/** A process-unique number for a segment's blocks in the cache. */
export function allocateCacheId(): number {
  invariant(nextCacheId < CACHE_ID_LIMIT, 'block cache ids exhausted');
  return nextCacheId++;
}

/**
 * A byte-bounded cache of uncompressed, verified data blocks (the raw block bytes), shared by all
 * segments of a tree. Raw bytes rather than decoded arrays: point reads search them in place
 * (see searchBlock), and they take about half the memory of a decoded block, so more fit.
 *
 * Eviction is CLOCK over an array of slots: a hit only sets a flag, so the hot path of a get
 * costs one Map lookup; the hand gives referenced entries a second chance. (A Map used as a FIFO
 * queue degrades: V8 skips deleted entries at its front on every `entries().next()`.)
 *
 * @example
 * ```ts
 * const cache = new BlockCache(64 * 1024 * 1024);
 * cache.insert(segmentCacheId, blockNo, bytes);
 * cache.get(segmentCacheId, blockNo);
 * ```
 */
export class BlockCache {
  private readonly slotOf = new Map<number, number>();
  private keys: number[] = [];
  private blocks: (Buffer | undefined)[] = [];
  private sizes: number[] = [];
  private referenced: boolean[] = [];
  private readonly freeSlots: number[] = [];
  private hand = 0;
  private admissionTicket = 0;
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
      entries: this.slotOf.size,
      sizeBytes: this.usedBytes,
    };
  }

  /**
   * Whether a block just read for a point lookup should be cached. Always while there is room;
   * once full, one miss in four. With a working set larger than the cache and uniform access,
   * admitting every miss only churns (allocation, copying, GC) without raising the hit rate,
   * which depends on the cache size alone; a hot block still gets in after a few misses.
   */
  shouldAdmit(sizeBytes: number): boolean {
    if (this.usedBytes + sizeBytes + ENTRY_OVERHEAD_BYTES <= this.capacityBytes) return true;
    if (sizeBytes + ENTRY_OVERHEAD_BYTES > this.capacityBytes) return false;
    return (++this.admissionTicket & 3) === 0;
  }

  get(cacheId: number, block: number): Buffer | undefined {
    const slot = this.slotOf.get(cacheId * BLOCKS_PER_SEGMENT_LIMIT + block);
    if (slot === undefined) {
      this.missCount++;
      return undefined;
    }
    this.hitCount++;
    this.referenced[slot] = true;
    return this.blocks[slot];
  }

  insert(cacheId: number, block: number, bytes: Buffer): void {
    invariant(block < BLOCKS_PER_SEGMENT_LIMIT, 'block number beyond the cache key space');
    const sizeBytes = bytes.length + ENTRY_OVERHEAD_BYTES;
    if (sizeBytes > this.capacityBytes) return;
    const key = cacheId * BLOCKS_PER_SEGMENT_LIMIT + block;
    const existing = this.slotOf.get(key);
    if (existing !== undefined) this.removeSlot(existing);
    this.usedBytes += sizeBytes;
    this.evict();
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      slot = this.keys.length;
      this.keys.push(key);
      this.blocks.push(bytes);
      this.sizes.push(sizeBytes);
      this.referenced.push(false);
    } else {
      this.keys[slot] = key;
      this.blocks[slot] = bytes;
      this.sizes[slot] = sizeBytes;
      this.referenced[slot] = false;
    }
    this.slotOf.set(key, slot);
  }

  /** Drops every block of one segment (after it was deleted). */
  evictSegment(cacheId: number, blockCount: number): void {
    for (let block = 0; block < blockCount; block++) {
      const slot = this.slotOf.get(cacheId * BLOCKS_PER_SEGMENT_LIMIT + block);
      if (slot !== undefined) this.removeSlot(slot);
    }
  }

  private removeSlot(slot: number): void {
    this.slotOf.delete(this.keys[slot]!);
    this.usedBytes -= this.sizes[slot]!;
    this.blocks[slot] = undefined;
    this.sizes[slot] = 0;
    this.referenced[slot] = false;
    this.freeSlots.push(slot);
  }

  /** Makes room for bytes already counted in `usedBytes` (the entry about to be inserted). */
  private evict(): void {
    const n = this.keys.length;
    // Two sweeps clear every flag, so the loop ends even if every entry was referenced.
    let steps = 2 * n + 1;
    while (this.usedBytes > this.capacityBytes && this.slotOf.size > 0 && steps-- > 0) {
      if (this.hand >= n) this.hand = 0;
      const slot = this.hand++;
      if (this.blocks[slot] === undefined) continue;
      if (this.referenced[slot]) {
        this.referenced[slot] = false;
        continue;
      }
      this.removeSlot(slot);
    }
  }
}
