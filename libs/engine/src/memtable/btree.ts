// Over 400 lines on purpose: one data structure. Search and insertion share the node layout, the
// search key's prefix words and the path the last descent recorded; split in two files, the
// insertion half would reach into the search half's private state on every insert.
import { invariant } from '@strata/core';
import type { EntryArena } from './arena.js';
import type { SharedMemtableState } from './layout.js';
import {
  INNER_KEYS,
  LEAF_META,
  LEAF_SLOTS,
  MAX_DEPTH,
  M_COUNT,
  M_NEXT,
  M_PREV,
  NIL,
  SLOT,
  S_ENTRY,
  grownCapacity,
  prefixWord,
  sharedInt32,
} from './layout.js';

/** The search key before the first search; never a sentinel (the empty key is a real key). */
const EMPTY_KEY = new Uint8Array(0);

/**
 * The order of a memtable's entries: a B+tree of slots laid out in typed arrays, no JavaScript
 * object per entry. Leaves hold sorted slots (key prefix + entry id) and are linked both ways;
 * inner nodes hold separator slots. Entries are ordered by (key ascending, seqno descending); the
 * keys and seqnos themselves live in the {@link EntryArena}, which a comparison reads only when
 * two 16-byte prefixes are equal. An insert touches a handful of nodes, each searched in its own
 * contiguous memory, where the skiplist it replaces chased about 30 scattered pointers (about 1.5x
 * the insert rate for random keys).
 *
 * Positions are `leaf * LEAF_SLOTS + slot`. An insert shifts slots, so a position is valid only
 * until the next insert.
 *
 * @example
 * ```ts
 * const tree = new SlotTree(arena, 256);
 * tree.insert(arena.add(key, 0, key.length, value, 0, value.length, 7, kind), 7);
 * tree.entryAt(tree.first()); // that entry's id
 * ```
 */
export class SlotTree {
  private leafSlots: Int32Array;
  private leafMeta: Int32Array;
  private leafCount = 1;
  private innerKeys: Int32Array;
  private innerChildren: Int32Array;
  private innerCounts: Int32Array;
  private innerCount = 0;
  private root = 0;
  /** Levels including the leaves: 1 while the root is a leaf. */
  private height = 1;
  private firstLeaf = 0;
  private lastLeaf = 0;
  /** Inner nodes and child indexes on the path of the last descent (for splits). */
  private readonly pathNodes = new Int32Array(MAX_DEPTH);
  private readonly pathIndexes = new Int32Array(MAX_DEPTH);
  /** The separator pushed up by an inner split. */
  private readonly upScratch = new Int32Array(SLOT);
  // The search key (bytes, start, length) and its prefix words, set once per search.
  private searchBytes: Uint8Array = EMPTY_KEY;
  private searchStart = 0;
  private searchLength = 0;
  private w0 = 0;
  private w1 = 0;
  private w2 = 0;
  private w3 = 0;

  constructor(
    private readonly arena: EntryArena,
    capacity: number,
    state?: SharedMemtableState,
  ) {
    if (state) {
      this.leafSlots = state.leafSlots;
      this.leafMeta = state.leafMeta;
      this.innerKeys = state.innerKeys;
      this.innerChildren = state.innerChildren;
      this.innerCounts = state.innerCounts;
      this.root = state.root;
      this.height = state.height;
      this.firstLeaf = state.firstLeaf;
      this.lastLeaf = state.lastLeaf;
      return;
    }
    const leaves = Math.max(4, Math.ceil(capacity / (LEAF_SLOTS / 2)));
    this.leafSlots = sharedInt32(leaves * LEAF_SLOTS * SLOT);
    this.leafMeta = sharedInt32(leaves * LEAF_META);
    this.leafMeta[M_NEXT] = NIL;
    this.leafMeta[M_PREV] = NIL;
    const inners = Math.max(4, Math.ceil(leaves / (INNER_KEYS / 2)));
    this.innerKeys = sharedInt32(inners * INNER_KEYS * SLOT);
    this.innerChildren = sharedInt32(inners * (INNER_KEYS + 1));
    this.innerCounts = sharedInt32(inners);
  }

  /** The tree's part of the shared state. */
  shared(): Pick<
    SharedMemtableState,
    | 'leafSlots'
    | 'leafMeta'
    | 'innerKeys'
    | 'innerChildren'
    | 'innerCounts'
    | 'root'
    | 'height'
    | 'firstLeaf'
    | 'lastLeaf'
  > {
    return {
      leafSlots: this.leafSlots,
      leafMeta: this.leafMeta,
      innerKeys: this.innerKeys,
      innerChildren: this.innerChildren,
      innerCounts: this.innerCounts,
      root: this.root,
      height: this.height,
      firstLeaf: this.firstLeaf,
      lastLeaf: this.lastLeaf,
    };
  }

  /**
   * Places the arena's `entry` (key of `keyLength` bytes, `seqno`) in order: before any entry
   * with an equal key and seqno, so the newer write shadows the older one.
   */
  insert(entry: number, keyLength: number, seqno: number): void {
    // Search with the arena's copy: the caller's bytes may be a view that is about to change.
    const arena = this.arena;
    this.setSearchKey(arena.slab(entry), arena.keyOffset(entry), keyLength);
    // Appends in key order (sequential keys, time-ordered ids, a replay of such writes) order
    // after the last slot of the last leaf: while that leaf has room, no descent is needed (it
    // would end there), which saves a binary search per level. A leaf that is full splits through
    // the descent below, which records the path the split needs.
    const last = this.lastLeaf;
    const lastCount = this.leafMeta[last * LEAF_META + M_COUNT]!;
    if (
      lastCount > 0 &&
      lastCount < LEAF_SLOTS &&
      this.compareSlot(seqno, this.leafSlots, (last * LEAF_SLOTS + lastCount - 1) * SLOT) > 0
    ) {
      this.putSlot(this.leafSlots, last * LEAF_SLOTS, lastCount, lastCount, entry);
      this.leafMeta[last * LEAF_META + M_COUNT] = lastCount + 1;
      return;
    }
    const leaf = this.descend(seqno, true);
    const slot = this.leafLowerBound(leaf, seqno);
    this.insertIntoLeaf(leaf, slot, entry);
  }

  /** The first position ordered at or after (`key`, `seqno`), or {@link NIL}. Seqno may be ±Infinity. */
  seek(key: Uint8Array, seqno: number): number {
    if (this.arena.count === 0) return NIL;
    this.setSearchKey(key, 0, key.length);
    const leaf = this.descend(seqno, false);
    const slot = this.leafLowerBound(leaf, seqno);
    if (slot < this.leafMeta[leaf * LEAF_META + M_COUNT]!) return leaf * LEAF_SLOTS + slot;
    // Past the end of this leaf: the answer is the first entry of the next one.
    const next = this.leafMeta[leaf * LEAF_META + M_NEXT]!;
    return next === NIL ? NIL : next * LEAF_SLOTS;
  }

  /** The first position, or {@link NIL}. */
  first(): number {
    return this.arena.count === 0 ? NIL : this.firstLeaf * LEAF_SLOTS;
  }

  /** The last position, or {@link NIL}. */
  last(): number {
    if (this.arena.count === 0) return NIL;
    const leaf = this.lastLeaf;
    return leaf * LEAF_SLOTS + this.leafMeta[leaf * LEAF_META + M_COUNT]! - 1;
  }

  /** The position after `position`, or {@link NIL}. */
  next(position: number): number {
    const leaf = (position / LEAF_SLOTS) | 0;
    const slot = position - leaf * LEAF_SLOTS;
    if (slot + 1 < this.leafMeta[leaf * LEAF_META + M_COUNT]!) return position + 1;
    const next = this.leafMeta[leaf * LEAF_META + M_NEXT]!;
    return next === NIL ? NIL : next * LEAF_SLOTS;
  }

  /** The position before `position` (or before the end when it is NIL), or {@link NIL}. */
  previous(position: number): number {
    if (position === NIL) return this.last();
    const leaf = (position / LEAF_SLOTS) | 0;
    if (position > leaf * LEAF_SLOTS) return position - 1;
    const previous = this.leafMeta[leaf * LEAF_META + M_PREV]!;
    if (previous === NIL) return NIL;
    return previous * LEAF_SLOTS + this.leafMeta[previous * LEAF_META + M_COUNT]! - 1;
  }

  /**
   * True when the entries at two positions have equal keys. The slots' prefix words are compared
   * first, so keys that differ in their first 16 bytes cost no slab read.
   */
  sameKeyAt(position: number, other: number): boolean {
    const slots = this.leafSlots;
    const a = position * SLOT;
    const b = other * SLOT;
    if (
      slots[a] !== slots[b] ||
      slots[a + 1] !== slots[b + 1] ||
      slots[a + 2] !== slots[b + 2] ||
      slots[a + 3] !== slots[b + 3]
    ) {
      return false;
    }
    return this.arena.sameKeyPastPrefix(slots[a + S_ENTRY]!, slots[b + S_ENTRY]!);
  }

  /** The entry id at a position. */
  entryAt(position: number): number {
    return this.leafSlots[position * SLOT + S_ENTRY]!;
  }

  /** Sets the key searched for, and its prefix words, once per search. */
  private setSearchKey(bytes: Uint8Array, start: number, length: number): void {
    this.searchBytes = bytes;
    this.searchStart = start;
    this.searchLength = length;
    this.w0 = prefixWord(bytes, start, length, 0);
    this.w1 = prefixWord(bytes, start, length, 4);
    this.w2 = prefixWord(bytes, start, length, 8);
    this.w3 = prefixWord(bytes, start, length, 12);
  }

  /**
   * Ordering of (search key, seqno) against the slot at `base` of `slots`: key ascending, then
   * seqno descending. The search key must be set ({@link setSearchKey}).
   */
  private compareSlot(seqno: number, slots: Int32Array, base: number): number {
    let d = this.w0 - slots[base]!;
    if (d !== 0) return d;
    d = this.w1 - slots[base + 1]!;
    if (d !== 0) return d;
    d = this.w2 - slots[base + 2]!;
    if (d !== 0) return d;
    d = this.w3 - slots[base + 3]!;
    if (d !== 0) return d;
    // Equal prefixes: compare the rest (or the lengths), then the seqnos.
    const entry = slots[base + S_ENTRY]!;
    const arena = this.arena;
    d = arena.compareKeyPastPrefix(this.searchBytes, this.searchStart, this.searchLength, entry);
    if (d !== 0) return d;
    const s = arena.seqnos[entry]!;
    return s > seqno ? 1 : s < seqno ? -1 : 0;
  }

  /**
   * Walks from the root to the leaf where (key, seqno) belongs (the leftmost one that can hold
   * it), recording the path when `record` (for splits).
   */
  private descend(seqno: number, record: boolean): number {
    let node = this.root;
    const keys = this.innerKeys;
    const counts = this.innerCounts;
    for (let depth = 0; depth < this.height - 1; depth++) {
      // Child index = number of separators ordered before the search key.
      let lo = 0;
      let hi = counts[node]!;
      const base = node * INNER_KEYS * SLOT;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.compareSlot(seqno, keys, base + mid * SLOT) > 0) lo = mid + 1;
        else hi = mid;
      }
      if (record) {
        this.pathNodes[depth] = node;
        this.pathIndexes[depth] = lo;
      }
      node = this.innerChildren[node * (INNER_KEYS + 1) + lo]!;
    }
    return node;
  }

  /** First slot of `leaf` ordered at or after (search key, seqno); the leaf's count if none. */
  private leafLowerBound(leaf: number, seqno: number): number {
    const slots = this.leafSlots;
    const base = leaf * LEAF_SLOTS * SLOT;
    let lo = 0;
    let hi = this.leafMeta[leaf * LEAF_META + M_COUNT]!;
    // Appends in key order (sequential fills) land after the last slot: check it first.
    if (hi > 0 && this.compareSlot(seqno, slots, base + (hi - 1) * SLOT) > 0) return hi;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.compareSlot(seqno, slots, base + mid * SLOT) > 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private insertIntoLeaf(leaf: number, slot: number, entry: number): void {
    const count = this.leafMeta[leaf * LEAF_META + M_COUNT]!;
    if (count < LEAF_SLOTS) {
      this.putSlot(this.leafSlots, leaf * LEAF_SLOTS, count, slot, entry);
      this.leafMeta[leaf * LEAF_META + M_COUNT] = count + 1;
      return;
    }
    const right = this.allocateLeaf();
    // Read after the allocation: it may have grown (replaced) the arrays.
    const slots = this.leafSlots;
    const meta = this.leafMeta;
    const next = meta[leaf * LEAF_META + M_NEXT]!;
    let splitAt: number;
    if (slot === count && next === NIL) {
      // Appending past the last leaf (key order): start a new leaf rather than leave two half full.
      splitAt = count;
    } else {
      splitAt = count >> 1;
    }
    const moved = count - splitAt;
    slots.copyWithin(
      right * LEAF_SLOTS * SLOT,
      (leaf * LEAF_SLOTS + splitAt) * SLOT,
      (leaf * LEAF_SLOTS + count) * SLOT,
    );
    meta[leaf * LEAF_META + M_COUNT] = splitAt;
    meta[right * LEAF_META + M_COUNT] = moved;
    meta[right * LEAF_META + M_NEXT] = next;
    meta[right * LEAF_META + M_PREV] = leaf;
    meta[leaf * LEAF_META + M_NEXT] = right;
    if (next === NIL) this.lastLeaf = right;
    else meta[next * LEAF_META + M_PREV] = right;
    if (slot <= splitAt && splitAt < count) {
      this.putSlot(slots, leaf * LEAF_SLOTS, splitAt, slot, entry);
      meta[leaf * LEAF_META + M_COUNT] = splitAt + 1;
    } else {
      this.putSlot(slots, right * LEAF_SLOTS, moved, slot - splitAt, entry);
      meta[right * LEAF_META + M_COUNT] = moved + 1;
    }
    // The separator is the right leaf's first slot: everything left of it orders at or before it.
    this.insertSeparator(this.height - 2, slots, right * LEAF_SLOTS * SLOT, right);
  }

  /**
   * Inserts the separator copied from `from[at..]` with `right` as the child after it into the
   * inner node at `depth` of the recorded path (a new root when depth is -1), splitting upwards.
   */
  private insertSeparator(depth: number, from: Int32Array, at: number, right: number): void {
    const sw0 = from[at]!;
    const sw1 = from[at + 1]!;
    const sw2 = from[at + 2]!;
    const sw3 = from[at + 3]!;
    const se = from[at + S_ENTRY]!;
    if (depth < 0) {
      const root = this.allocateInner();
      const keys = this.innerKeys;
      const base = root * INNER_KEYS * SLOT;
      keys[base] = sw0;
      keys[base + 1] = sw1;
      keys[base + 2] = sw2;
      keys[base + 3] = sw3;
      keys[base + S_ENTRY] = se;
      this.innerCounts[root] = 1;
      this.innerChildren[root * (INNER_KEYS + 1)] = this.root;
      this.innerChildren[root * (INNER_KEYS + 1) + 1] = right;
      this.root = root;
      this.height++;
      invariant(this.height <= MAX_DEPTH, 'memtable B+tree too deep');
      return;
    }
    const node = this.pathNodes[depth]!;
    const index = this.pathIndexes[depth]!;
    const count = this.innerCounts[node]!;
    if (count < INNER_KEYS) {
      this.putInner(node, count, index, sw0, sw1, sw2, sw3, se, right);
      return;
    }
    // Split: the left keeps keys [0, half), key `half` moves up, the right takes the rest.
    const sibling = this.allocateInner();
    const keys = this.innerKeys;
    const children = this.innerChildren;
    const half = count >> 1;
    const kb = node * INNER_KEYS * SLOT;
    const cb = node * (INNER_KEYS + 1);
    keys.copyWithin(sibling * INNER_KEYS * SLOT, kb + (half + 1) * SLOT, kb + count * SLOT);
    children.copyWithin(sibling * (INNER_KEYS + 1), cb + half + 1, cb + count + 1);
    this.innerCounts[node] = half;
    this.innerCounts[sibling] = count - half - 1;
    // Push the middle key up first (its words are read from the left node before any shift).
    const upBase = kb + half * SLOT;
    const up0 = keys[upBase]!;
    const up1 = keys[upBase + 1]!;
    const up2 = keys[upBase + 2]!;
    const up3 = keys[upBase + 3]!;
    const upE = keys[upBase + S_ENTRY]!;
    if (index <= half) {
      this.putInner(node, half, index, sw0, sw1, sw2, sw3, se, right);
    } else {
      this.putInner(sibling, count - half - 1, index - half - 1, sw0, sw1, sw2, sw3, se, right);
    }
    const scratch = this.upScratch;
    scratch[0] = up0;
    scratch[1] = up1;
    scratch[2] = up2;
    scratch[3] = up3;
    scratch[S_ENTRY] = upE;
    this.insertSeparator(depth - 1, scratch, 0, sibling);
  }

  /** Inserts key + right child at `index` of an inner node holding `count` keys (room left). */
  private putInner(
    node: number,
    count: number,
    index: number,
    w0: number,
    w1: number,
    w2: number,
    w3: number,
    entry: number,
    right: number,
  ): void {
    const keys = this.innerKeys;
    const children = this.innerChildren;
    const kb = node * INNER_KEYS * SLOT;
    const cb = node * (INNER_KEYS + 1);
    if (index < count) {
      keys.copyWithin(kb + (index + 1) * SLOT, kb + index * SLOT, kb + count * SLOT);
      children.copyWithin(cb + index + 2, cb + index + 1, cb + count + 1);
    }
    const at = kb + index * SLOT;
    keys[at] = w0;
    keys[at + 1] = w1;
    keys[at + 2] = w2;
    keys[at + 3] = w3;
    keys[at + S_ENTRY] = entry;
    children[cb + index + 1] = right;
    this.innerCounts[node] = count + 1;
  }

  /** Writes the search key's slot for `entry` at `slot` of a node holding `count` slots. */
  private putSlot(slots: Int32Array, node: number, count: number, slot: number, entry: number) {
    const base = node * SLOT;
    if (slot < count) {
      slots.copyWithin(base + (slot + 1) * SLOT, base + slot * SLOT, base + count * SLOT);
    }
    const at = base + slot * SLOT;
    slots[at] = this.w0;
    slots[at + 1] = this.w1;
    slots[at + 2] = this.w2;
    slots[at + 3] = this.w3;
    slots[at + S_ENTRY] = entry;
  }

  private allocateLeaf(): number {
    const capacity = this.leafMeta.length / LEAF_META;
    if (this.leafCount >= capacity) {
      // Leaves hold between half and all of LEAF_SLOTS entries: reserve for half-full ones.
      const grown = grownCapacity(capacity, LEAF_SLOTS / 2);
      const slots = sharedInt32(grown * LEAF_SLOTS * SLOT);
      slots.set(this.leafSlots);
      this.leafSlots = slots;
      const meta = sharedInt32(grown * LEAF_META);
      meta.set(this.leafMeta);
      this.leafMeta = meta;
    }
    return this.leafCount++;
  }

  private allocateInner(): number {
    const capacity = this.innerCounts.length;
    if (this.innerCount >= capacity) {
      const grown = grownCapacity(capacity, (LEAF_SLOTS / 2) * (INNER_KEYS / 2));
      const keys = sharedInt32(grown * INNER_KEYS * SLOT);
      keys.set(this.innerKeys);
      this.innerKeys = keys;
      const children = sharedInt32(grown * (INNER_KEYS + 1));
      children.set(this.innerChildren);
      this.innerChildren = children;
      const counts = sharedInt32(grown);
      counts.set(this.innerCounts);
      this.innerCounts = counts;
    }
    return this.innerCount++;
  }
}
