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
 * segments of a tree. Under a memory budget, what else the tree holds is charged to the same
 * bound: loaded index and filter blocks ({@link pin}) and memtables (`reservedBytes`), so the
 * cache takes what they leave: all of the budget but the empty memtable's share after a reopen,
 * less while writes fill memtables. Raw bytes rather than decoded arrays: point reads search them in place
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
  /**
   * Per segment (by cache id, a small integer), the slot of each cached block plus one (0: not
   * cached). One numeric key for both did not fit a small integer, and hashing a heap number in
   * the Map was about a twelfth of a cached get.
   */
  private readonly slotsOf = new Map<number, Int32Array>();
  private entryCount = 0;
  private cacheIds: number[] = [];
  private blockNos: number[] = [];
  private blocks: (Buffer | undefined)[] = [];
  private sizes: number[] = [];
  private referenced: boolean[] = [];
  private readonly freeSlots: number[] = [];
  private hand = 0;
  private admissionTicket = 0;
  private usedBytes = 0;
  private hitCount = 0;
  private missCount = 0;
  private pinnedBytes = 0;

  /**
   * @param capacityBytes What the cache may hold, less what {@link pin} and `reservedBytes`
   *   charge to it: a tree with a memory budget passes the budget here.
   * @param reservedBytes Memory the owner charges to the cache besides pinned blocks (a tree's
   *   memtables), asked whenever the cache admits a block or {@link enforceLimit} runs.
   */
  constructor(
    readonly capacityBytes: number,
    private readonly reservedBytes: () => number = () => 0,
  ) {}

  /** Bytes held. */
  get sizeBytes(): number {
    return this.usedBytes;
  }

  /** Hits and misses since creation, and what is charged to the cache besides its blocks. */
  stats(): {
    hits: number;
    misses: number;
    entries: number;
    sizeBytes: number;
    pinnedBytes: number;
    limitBytes: number;
  } {
    return {
      hits: this.hitCount,
      misses: this.missCount,
      entries: this.entryCount,
      sizeBytes: this.usedBytes,
      pinnedBytes: this.pinnedBytes,
      limitBytes: this.limitBytes(),
    };
  }

  /**
   * Charges `sizeBytes` held outside the cache (a segment's loaded index and filter) to its
   * capacity, evicting blocks to make room; {@link unpin} gives it back.
   */
  pin(sizeBytes: number): void {
    this.pinnedBytes += sizeBytes;
    this.enforceLimit();
  }

  /** Gives back what {@link pin} charged. */
  unpin(sizeBytes: number): void {
    this.pinnedBytes -= sizeBytes;
    invariant(this.pinnedBytes >= 0, 'block cache unpinned more than it pinned');
  }

  /** Evicts blocks until they fit beside what is pinned and reserved (after memtables grew). */
  enforceLimit(): void {
    this.evict(this.limitBytes());
  }

  /** Bytes the blocks may take now. */
  private limitBytes(): number {
    const limit = this.capacityBytes - this.pinnedBytes - this.reservedBytes();
    return limit > 0 ? limit : 0;
  }

  /**
   * Whether a block just read for a point lookup should be cached. Always while there is room;
   * once full, one miss in four. With a working set larger than the cache and uniform access,
   * admitting every miss only churns (allocation, copying, GC) without raising the hit rate,
   * which depends on the cache size alone; a hot block still gets in after a few misses.
   */
  shouldAdmit(sizeBytes: number): boolean {
    const limit = this.limitBytes();
    if (this.usedBytes + sizeBytes + ENTRY_OVERHEAD_BYTES <= limit) return true;
    if (sizeBytes + ENTRY_OVERHEAD_BYTES > limit) return false;
    return (++this.admissionTicket & 3) === 0;
  }

  get(cacheId: number, block: number): Buffer | undefined {
    const slots = this.slotsOf.get(cacheId);
    const slot = slots !== undefined && block < slots.length ? slots[block]! - 1 : -1;
    if (slot < 0) {
      this.missCount++;
      return undefined;
    }
    this.hitCount++;
    this.referenced[slot] = true;
    return this.blocks[slot];
  }

  insert(cacheId: number, block: number, bytes: Buffer): void {
    invariant(block < BLOCKS_PER_SEGMENT_LIMIT, 'block number beyond what a segment may hold');
    const sizeBytes = bytes.length + ENTRY_OVERHEAD_BYTES;
    const limit = this.limitBytes();
    if (sizeBytes > limit) return;
    const existing = this.slotsOf.get(cacheId);
    if (existing !== undefined && block < existing.length && existing[block]! > 0) {
      this.removeSlot(existing[block]! - 1);
    }
    this.usedBytes += sizeBytes;
    this.evict(limit);
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      slot = this.blocks.length;
      this.cacheIds.push(cacheId);
      this.blockNos.push(block);
      this.blocks.push(bytes);
      this.sizes.push(sizeBytes);
      this.referenced.push(false);
    } else {
      this.cacheIds[slot] = cacheId;
      this.blockNos[slot] = block;
      this.blocks[slot] = bytes;
      this.sizes[slot] = sizeBytes;
      this.referenced[slot] = false;
    }
    this.slotsFor(cacheId, block)[block] = slot + 1;
    this.entryCount++;
  }

  /** The slot array of a segment, grown to hold `block` (re-read after eviction may drop it). */
  private slotsFor(cacheId: number, block: number): Int32Array {
    let slots = this.slotsOf.get(cacheId);
    if (slots === undefined || block >= slots.length) {
      const grown = new Int32Array(Math.max(64, block + 1, (slots?.length ?? 0) * 2));
      if (slots !== undefined) grown.set(slots);
      slots = grown;
      this.slotsOf.set(cacheId, slots);
    }
    return slots;
  }

  /** Drops every block of one segment (after it was deleted). */
  evictSegment(cacheId: number, blockCount: number): void {
    const slots = this.slotsOf.get(cacheId);
    if (slots === undefined) return;
    const end = Math.min(blockCount, slots.length);
    for (let block = 0; block < end; block++) {
      if (slots[block]! > 0) this.removeSlot(slots[block]! - 1);
    }
    this.slotsOf.delete(cacheId);
  }

  private removeSlot(slot: number): void {
    const slots = this.slotsOf.get(this.cacheIds[slot]!);
    if (slots !== undefined) slots[this.blockNos[slot]!] = 0;
    this.entryCount--;
    this.usedBytes -= this.sizes[slot]!;
    this.blocks[slot] = undefined;
    this.sizes[slot] = 0;
    this.referenced[slot] = false;
    this.freeSlots.push(slot);
  }

  /**
   * Evicts until the blocks fit in `limitBytes` (bytes of an entry about to be inserted are
   * already counted in `usedBytes`).
   */
  private evict(limitBytes: number): void {
    const n = this.blocks.length;
    // Two sweeps clear every flag, so the loop ends even if every entry was referenced.
    let steps = 2 * n + 1;
    while (this.usedBytes > limitBytes && this.entryCount > 0 && steps-- > 0) {
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
