import { invariant } from '@strata/core';
import { compareKeyTo, compareRanges, copyRange } from '../util/bytes.js';
import type { InternalEntry, ValueKindCode } from '../entry.js';

const EMPTY_KEY = new Uint8Array(0);

/** Position value meaning "no entry". */
export const NIL = -1;

/** Entries per leaf; positions are `leaf * LEAF_SLOTS + slot`. */
const LEAF_SLOTS = 64;
/** Separator keys per inner node (children: one more). */
const INNER_KEYS = 64;
/**
 * A slot (in a leaf or an inner node) is five Int32 words: the first 16 key bytes as four
 * big-endian words (sign-flipped, so signed compares order them as unsigned bytes), then the entry
 * id. A binary search within a node then reads only that node's contiguous memory: the memtable
 * was bound by cache misses when every comparison chased a pointer.
 */
const SLOT = 5;
const S_ENTRY = 4;
const PREFIX_BYTES = 16;
/** Leaf metadata words: count, next leaf, previous leaf. */
const LEAF_META = 3;
const M_COUNT = 0;
const M_NEXT = 1;
const M_PREV = 2;
/** Entry record words: slab index, offset in the slab, key length, value length. */
const RECORD = 4;
const R_SLAB = 0;
const R_OFFSET = 1;
const R_KEY_LENGTH = 2;
const R_VALUE_LENGTH = 3;

const MIN_SLAB_BYTES = 64 * 1024;
const MAX_SLAB_BYTES = 1024 * 1024;
/** Per-entry bookkeeping counted in the memtable size (record, slot share, seqno). */
const ENTRY_OVERHEAD_BYTES = 64;
/** Deepest tree the path buffer holds: 64^12 entries is far beyond any memtable. */
const MAX_DEPTH = 12;

/**
 * The memtable's arrays, all backed by SharedArrayBuffers, so a sealed memtable can be handed to a
 * flush worker without copying a byte.
 */
export interface SharedMemtableState {
  readonly count: number;
  readonly slabs: readonly Uint8Array[];
  readonly records: Int32Array;
  readonly seqnos: Float64Array;
  readonly kinds: Uint8Array;
  readonly leafSlots: Int32Array;
  readonly leafMeta: Int32Array;
  readonly innerKeys: Int32Array;
  readonly innerChildren: Int32Array;
  readonly innerCounts: Int32Array;
  readonly root: number;
  readonly height: number;
  readonly firstLeaf: number;
  readonly lastLeaf: number;
  readonly sizeBytes: number;
  /** Highest seqno inserted; meaningful only when `count` > 0. */
  readonly maxSeqno: number;
}

function sharedInt32(length: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(length * 4));
}
function sharedFloat64(length: number): Float64Array {
  return new Float64Array(new SharedArrayBuffer(length * 8));
}
function sharedUint8(length: number): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(length));
}
/**
 * Entries from which a growing memtable reserves room for {@link RESERVED_ENTRIES} at once. Every
 * growth copies the arrays on the main thread and leaves the old copies as garbage that the small
 * main heap rarely collects: in a W2 fill (1M random keys, 64 MiB memtables) that garbage was
 * ~40 MiB of peak RSS per memtable. A reservation costs address space only (pages never written
 * stay unbacked), but small memtables (tests, small trees) should not map large buffers.
 */
const RESERVE_FROM_ENTRIES = 64 * 1024;
/** Entries a large memtable reserves room for: a 64 MiB memtable of the smallest entries. */
const RESERVED_ENTRIES = 1024 * 1024;

/**
 * Capacity after `current` runs out, `perEntry` being how many entries one unit holds (leaves and
 * inner nodes hold many). Grows by half rather than doubling, so that a full memtable
 * over-allocates at most a third of its bookkeeping arrays; past {@link RESERVE_FROM_ENTRIES} it
 * jumps to the reservation.
 */
function grownCapacity(current: number, perEntry = 1): number {
  const grown = current + Math.max(16, current >> 1);
  if (current * perEntry < RESERVE_FROM_ENTRIES) return grown;
  return Math.max(grown, Math.ceil(RESERVED_ENTRIES / perEntry));
}

/**
 * Big-endian word of the key bytes `at..at+3` of the key at `bytes[start, start + length)` (zero
 * padded), sign-flipped for signed comparison.
 */
function prefixWord(bytes: Uint8Array, start: number, length: number, at: number): number {
  const i = start + at;
  const b0 = at < length ? bytes[i]! : 0;
  const b1 = at + 1 < length ? bytes[i + 1]! : 0;
  const b2 = at + 2 < length ? bytes[i + 2]! : 0;
  const b3 = at + 3 < length ? bytes[i + 3]! : 0;
  return ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3) ^ 0x80000000;
}

/**
 * An in-memory sorted run of versioned entries, ordered by (key ascending, seqno descending).
 *
 * A B+tree laid out in typed arrays: no JavaScript object is allocated per entry. Keys and values
 * are copied into append-only slabs and described by fixed-size records; leaves hold sorted slots
 * (key prefix + record id) and are linked both ways; inner nodes hold separator slots. An insert
 * touches a handful of nodes, each searched in its own contiguous memory, where the skiplist it
 * replaces chased about 30 scattered pointers (about 1.5x the insert rate for random keys).
 *
 * Entries are never removed or changed, but an insert shifts slots, so a position (from
 * {@link seek}, {@link first}, ...) is valid only until the next insert: {@link mutations} tells a
 * reader that suspended in between to seek again. A sealed memtable never changes.
 *
 * @example
 * ```ts
 * const memtable = new Memtable();
 * memtable.insert(Buffer.from('a'), Buffer.from('1'), 7, ValueKind.Value);
 * memtable.get(Buffer.from('a'))?.value; // <Buffer 31>
 * ```
 */
export class Memtable {
  private count = 0;
  private slabs: Buffer[] = [];
  private slabUsedBytes = 0;
  private records: Int32Array;
  private seqnos: Float64Array;
  private kinds: Uint8Array;
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
  private sizeBytes = 0;
  /** Highest seqno inserted; meaningful only when the memtable holds an entry (seqnos are >= 0). */
  private maxSeqno = 0;
  private mutationCount = 0;
  private readonly frozen: boolean;
  /** Inner nodes and child indexes on the path of the last descent (for splits). */
  private readonly pathNodes = new Int32Array(MAX_DEPTH);
  private readonly pathIndexes = new Int32Array(MAX_DEPTH);
  // The search key (bytes, start, length) and its prefix words, set once per search.
  private searchBytes: Uint8Array = EMPTY_KEY;
  private searchStart = 0;
  private searchLength = 0;
  private w0 = 0;
  private w1 = 0;
  private w2 = 0;
  private w3 = 0;

  constructor(initialCapacity = 256, state?: SharedMemtableState) {
    if (state) {
      this.count = state.count;
      this.slabs = state.slabs.map((s) => Buffer.from(s.buffer, s.byteOffset, s.byteLength));
      this.records = state.records;
      this.seqnos = state.seqnos;
      this.kinds = state.kinds;
      this.leafSlots = state.leafSlots;
      this.leafMeta = state.leafMeta;
      this.innerKeys = state.innerKeys;
      this.innerChildren = state.innerChildren;
      this.innerCounts = state.innerCounts;
      this.root = state.root;
      this.height = state.height;
      this.firstLeaf = state.firstLeaf;
      this.lastLeaf = state.lastLeaf;
      this.sizeBytes = state.sizeBytes;
      this.maxSeqno = state.maxSeqno;
      this.frozen = true;
      return;
    }
    const capacity = Math.max(16, initialCapacity);
    this.records = sharedInt32(capacity * RECORD);
    this.seqnos = sharedFloat64(capacity);
    this.kinds = sharedUint8(capacity);
    const leaves = Math.max(4, Math.ceil(capacity / (LEAF_SLOTS / 2)));
    this.leafSlots = sharedInt32(leaves * LEAF_SLOTS * SLOT);
    this.leafMeta = sharedInt32(leaves * LEAF_META);
    this.leafMeta[M_NEXT] = NIL;
    this.leafMeta[M_PREV] = NIL;
    const inners = Math.max(4, Math.ceil(leaves / (INNER_KEYS / 2)));
    this.innerKeys = sharedInt32(inners * INNER_KEYS * SLOT);
    this.innerChildren = sharedInt32(inners * (INNER_KEYS + 1));
    this.innerCounts = sharedInt32(inners);
    this.frozen = false;
  }

  /** Rebuilds a read-only memtable over arrays shared by another thread. */
  static fromShared(state: SharedMemtableState): Memtable {
    return new Memtable(0, state);
  }

  /** The shared arrays of this memtable; it must not be written to afterwards. */
  toShared(): SharedMemtableState {
    return {
      count: this.count,
      slabs: this.slabs.map((s) => new Uint8Array(s.buffer, s.byteOffset, s.byteLength)),
      records: this.records,
      seqnos: this.seqnos,
      kinds: this.kinds,
      leafSlots: this.leafSlots,
      leafMeta: this.leafMeta,
      innerKeys: this.innerKeys,
      innerChildren: this.innerChildren,
      innerCounts: this.innerCounts,
      root: this.root,
      height: this.height,
      firstLeaf: this.firstLeaf,
      lastLeaf: this.lastLeaf,
      sizeBytes: this.sizeBytes,
      maxSeqno: this.maxSeqno,
    };
  }

  /** Number of entries (all versions, tombstones included). */
  get length(): number {
    return this.count;
  }

  /** Changes on every insert: positions taken before a change must be sought again. */
  get mutations(): number {
    return this.mutationCount;
  }

  /** True when the memtable holds no entry. */
  isEmpty(): boolean {
    return this.count === 0;
  }

  /** Approximate memory taken by the entries, in bytes. */
  approximateSizeBytes(): number {
    return this.sizeBytes;
  }

  /**
   * Highest seqno inserted, or `undefined` if empty. The reference's `MemTable::get_lsn`, named
   * `get_highest_seqno` in current lsm-tree.
   */
  getHighestSeqno(): number | undefined {
    return this.count === 0 ? undefined : this.maxSeqno;
  }

  /**
   * Adds a version. Returns `[itemSizeBytes, memtableSizeBytes]` like the reference. An entry with
   * the same key and seqno as an existing one shadows it.
   */
  insert(key: Uint8Array, value: Uint8Array, seqno: number, kind: ValueKindCode): [number, number] {
    const sizeBytes = this.add(key, 0, key.length, value, 0, value.length, seqno, kind);
    return [key.length + value.length + ENTRY_OVERHEAD_BYTES, sizeBytes];
  }

  /**
   * Adds a version whose key and value are byte ranges of `source` (a log record, say), without a
   * view or an array per entry. Returns the memtable's size in bytes.
   *
   * @example
   * ```ts
   * memtable.insertFrom(record, keyStart, keyLength, valueStart, valueLength, 7, ValueKind.Value);
   * ```
   */
  insertFrom(
    source: Uint8Array,
    keyStart: number,
    keyLength: number,
    valueStart: number,
    valueLength: number,
    seqno: number,
    kind: ValueKindCode,
  ): number {
    invariant(
      keyStart >= 0 &&
        keyStart + keyLength <= source.length &&
        valueStart >= 0 &&
        valueStart + valueLength <= source.length,
      'key or value range outside its source',
    );
    return this.add(source, keyStart, keyLength, source, valueStart, valueLength, seqno, kind);
  }

  private add(
    keySource: Uint8Array,
    keyStart: number,
    keyLength: number,
    valueSource: Uint8Array,
    valueStart: number,
    valueLength: number,
    seqno: number,
    kind: ValueKindCode,
  ): number {
    invariant(!this.frozen, 'insert into a frozen (shared) memtable');
    const entry = this.addRecord(
      keySource,
      keyStart,
      keyLength,
      valueSource,
      valueStart,
      valueLength,
      seqno,
      kind,
    );
    // Search with the copy just made: the caller's bytes may be a view that is about to change.
    const r = entry * RECORD;
    this.setSearchKey(
      this.slabs[this.records[r + R_SLAB]!]!,
      this.records[r + R_OFFSET]!,
      keyLength,
    );
    const leaf = this.descend(seqno, true);
    // Inserted before any equal (key, seqno): the newer write shadows the older one.
    const slot = this.leafLowerBound(leaf, seqno);
    this.insertIntoLeaf(leaf, slot, entry);
    this.mutationCount++;
    this.sizeBytes += keyLength + valueLength + ENTRY_OVERHEAD_BYTES;
    if (seqno > this.maxSeqno) this.maxSeqno = seqno;
    return this.sizeBytes;
  }

  /**
   * The newest version of `key` with a seqno below `readSeqno` (tombstones included), or
   * `undefined`.
   */
  get(key: Uint8Array, readSeqno: number): InternalEntry | undefined {
    if (this.count === 0) return undefined;
    const position = this.seek(key, readSeqno - 1);
    if (position === NIL || this.compareKeyAt(key, position) !== 0) return undefined;
    return this.entryAt(position);
  }

  /** The first position ordered at or after (`key`, `seqno`), or {@link NIL}. Seqno may be ±Infinity. */
  seek(key: Uint8Array, seqno: number): number {
    if (this.count === 0) return NIL;
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
    return this.count === 0 ? NIL : this.firstLeaf * LEAF_SLOTS;
  }

  /** The last position, or {@link NIL}. */
  last(): number {
    if (this.count === 0) return NIL;
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

  /** A view of the key at a position. */
  keyAt(position: number): Buffer {
    const r = this.entryOf(position) * RECORD;
    const records = this.records;
    const offset = records[r + R_OFFSET]!;
    return this.slabs[records[r + R_SLAB]!]!.subarray(offset, offset + records[r + R_KEY_LENGTH]!);
  }

  /** A view of the value at a position. */
  valueAt(position: number): Buffer {
    const r = this.entryOf(position) * RECORD;
    const records = this.records;
    const offset = records[r + R_OFFSET]! + records[r + R_KEY_LENGTH]!;
    return this.slabs[records[r + R_SLAB]!]!.subarray(
      offset,
      offset + records[r + R_VALUE_LENGTH]!,
    );
  }

  /**
   * The slab holding the key and value of the entry at a position: with {@link keyOffsetAt},
   * {@link keyLengthAt} and {@link valueLengthAt}, a flush copies entries out of the slabs without
   * a view per entry. The value follows the key. Bytes in a slab never change once written.
   */
  slabAt(position: number): Buffer {
    return this.slabs[this.records[this.entryOf(position) * RECORD + R_SLAB]!]!;
  }

  /** Offset in {@link slabAt} of the key at a position; its value starts right after the key. */
  keyOffsetAt(position: number): number {
    return this.records[this.entryOf(position) * RECORD + R_OFFSET]!;
  }

  keyLengthAt(position: number): number {
    return this.records[this.entryOf(position) * RECORD + R_KEY_LENGTH]!;
  }

  valueLengthAt(position: number): number {
    return this.records[this.entryOf(position) * RECORD + R_VALUE_LENGTH]!;
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
    const records = this.records;
    const ra = slots[a + S_ENTRY]! * RECORD;
    const rb = slots[b + S_ENTRY]! * RECORD;
    const length = records[ra + R_KEY_LENGTH]!;
    if (length !== records[rb + R_KEY_LENGTH]) return false;
    // Equal lengths and prefix words: the first 16 bytes are equal (zero padding included).
    if (length <= PREFIX_BYTES) return true;
    const offsetA = records[ra + R_OFFSET]!;
    const offsetB = records[rb + R_OFFSET]!;
    return (
      compareRanges(
        this.slabs[records[ra + R_SLAB]!]!,
        offsetA + PREFIX_BYTES,
        offsetA + length,
        this.slabs[records[rb + R_SLAB]!]!,
        offsetB + PREFIX_BYTES,
        offsetB + length,
      ) === 0
    );
  }

  seqnoAt(position: number): number {
    return this.seqnos[this.entryOf(position)]!;
  }

  kindAt(position: number): ValueKindCode {
    return this.kinds[this.entryOf(position)]! as ValueKindCode;
  }

  /** The full entry at a position. */
  entryAt(position: number): InternalEntry {
    return {
      key: this.keyAt(position),
      value: this.valueAt(position),
      seqno: this.seqnoAt(position),
      kind: this.kindAt(position),
    };
  }

  /** Compares `key` with the key at a position. */
  compareKeyAt(key: Uint8Array, position: number): number {
    const r = this.entryOf(position) * RECORD;
    const records = this.records;
    const offset = records[r + R_OFFSET]!;
    return compareKeyTo(
      key,
      this.slabs[records[r + R_SLAB]!]!,
      offset,
      offset + records[r + R_KEY_LENGTH]!,
    );
  }

  private entryOf(position: number): number {
    return this.leafSlots[position * SLOT + S_ENTRY]!;
  }

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
    // Equal prefixes: compare the rest (or the lengths) and the seqnos from the record.
    const entry = slots[base + S_ENTRY]!;
    const r = entry * RECORD;
    const records = this.records;
    const keyLength = records[r + R_KEY_LENGTH]!;
    const searchLength = this.searchLength;
    if (searchLength <= PREFIX_BYTES && keyLength <= PREFIX_BYTES) {
      d = searchLength - keyLength;
    } else {
      // Equal prefix words: the bytes both keys have within the first 16 are equal.
      const shorter = searchLength < keyLength ? searchLength : keyLength;
      const skip = shorter < PREFIX_BYTES ? shorter : PREFIX_BYTES;
      const offset = records[r + R_OFFSET]!;
      d = compareRanges(
        this.searchBytes,
        this.searchStart + skip,
        this.searchStart + searchLength,
        this.slabs[records[r + R_SLAB]!]!,
        offset + skip,
        offset + keyLength,
      );
    }
    if (d !== 0) return d;
    const s = this.seqnos[entry]!;
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

  private readonly upScratch = new Int32Array(SLOT);

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

  /** Copies key and value into a slab and fills the entry's record; returns the entry id. */
  private addRecord(
    keySource: Uint8Array,
    keyStart: number,
    keyLength: number,
    valueSource: Uint8Array,
    valueStart: number,
    valueLength: number,
    seqno: number,
    kind: number,
  ): number {
    if (this.count >= this.seqnos.length) {
      const grown = grownCapacity(this.seqnos.length);
      const records = sharedInt32(grown * RECORD);
      records.set(this.records);
      this.records = records;
      const seqnos = sharedFloat64(grown);
      seqnos.set(this.seqnos);
      this.seqnos = seqnos;
      const kinds = sharedUint8(grown);
      kinds.set(this.kinds);
      this.kinds = kinds;
    }
    const entry = this.count++;
    const needed = keyLength + valueLength;
    let slab = this.slabs[this.slabs.length - 1];
    if (!slab || this.slabUsedBytes + needed > slab.length) {
      const previous = slab?.length ?? MIN_SLAB_BYTES / 2;
      const size = Math.max(needed, Math.min(MAX_SLAB_BYTES, previous * 2));
      slab = Buffer.from(new SharedArrayBuffer(size));
      this.slabs.push(slab);
      this.slabUsedBytes = 0;
    }
    const offset = this.slabUsedBytes;
    copyRange(slab, offset, keySource, keyStart, keyLength);
    copyRange(slab, offset + keyLength, valueSource, valueStart, valueLength);
    this.slabUsedBytes += needed;
    const r = entry * RECORD;
    const records = this.records;
    records[r + R_SLAB] = this.slabs.length - 1;
    records[r + R_OFFSET] = offset;
    records[r + R_KEY_LENGTH] = keyLength;
    records[r + R_VALUE_LENGTH] = valueLength;
    this.seqnos[entry] = seqno;
    this.kinds[entry] = kind;
    return entry;
  }
}
