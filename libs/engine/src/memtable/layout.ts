/**
 * How a memtable lays its entries out in typed arrays: the slot and record formats shared by the
 * arena (entry bytes and records) and the B+tree (slots ordered by key and seqno), the growth
 * policy of those arrays, and the shared form a flush worker receives. Every array is backed by
 * a SharedArrayBuffer, so a sealed memtable crosses to a worker without a byte copied.
 */

/** Position (or node) value meaning "none". */
export const NIL = -1;

/** Entries per leaf; positions are `leaf * LEAF_SLOTS + slot`. */
export const LEAF_SLOTS = 64;
/** Separator keys per inner node (children: one more). */
export const INNER_KEYS = 64;
/**
 * A slot (in a leaf or an inner node) is five Int32 words: the first 16 key bytes as four
 * big-endian words (sign-flipped, so signed compares order them as unsigned bytes), then the entry
 * id. A binary search within a node then reads only that node's contiguous memory: the memtable
 * was bound by cache misses when every comparison chased a pointer.
 */
export const SLOT = 5;
/** Word of a slot holding the entry id. */
export const S_ENTRY = 4;
/** Key bytes a slot holds as prefix words. */
export const PREFIX_BYTES = 16;
/** Leaf metadata words: count, next leaf, previous leaf. */
export const LEAF_META = 3;
export const M_COUNT = 0;
export const M_NEXT = 1;
export const M_PREV = 2;
/** Entry record words: slab index, offset in the slab, key length, value length. */
export const RECORD = 4;
export const R_SLAB = 0;
export const R_OFFSET = 1;
export const R_KEY_LENGTH = 2;
export const R_VALUE_LENGTH = 3;

/** Deepest tree the path buffer holds: 64^12 entries is far beyond any memtable. */
export const MAX_DEPTH = 12;

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
  /** Highest seqno inserted; meaningful only when `count` > 0 or range tombstones are present. */
  readonly maxSeqno: number;
  /**
   * The range tombstones as (fragment, seqno) pieces, absent when there are none. They are few and
   * copied by the structured clone (keys arrive as Uint8Arrays on the other side).
   */
  readonly rangeTombstones?: readonly SharedRangeTombstone[];
}

/** A range tombstone piece as it crosses a thread boundary. */
export interface SharedRangeTombstone {
  readonly start: Uint8Array;
  readonly end: Uint8Array;
  readonly seqno: number;
}

/** An Int32Array of `length` words on a SharedArrayBuffer. */
export function sharedInt32(length: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(length * 4));
}

/** A Float64Array of `length` numbers on a SharedArrayBuffer. */
export function sharedFloat64(length: number): Float64Array {
  return new Float64Array(new SharedArrayBuffer(length * 8));
}

/** A Uint8Array of `length` bytes on a SharedArrayBuffer. */
export function sharedUint8(length: number): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(length));
}

/**
 * Entries from which a growing memtable reserves room for {@link RESERVED_ENTRIES} at once. Every
 * growth copies the arrays on the main thread and leaves the old copies as garbage that the small
 * main heap rarely collects: in a W2 fill (1M random keys, 64 MiB memtables) that garbage was
 * ~40 MiB of peak RSS per memtable. A reservation costs address space only (pages never written
 * stay unbacked) when the C allocator maps it fresh, but not always: in the W7 benchmark's
 * process, which freed large blocks during its fill, allocating the ~70 MB reservation took about
 * 150 ms of a 100k-entry replay (self time of the allocations in its CPU profile; in a fresh
 * process under 10 ms). So small memtables (tests, small trees, short replays) grow by half up to
 * this many entries first.
 */
const RESERVE_FROM_ENTRIES = 64 * 1024;
/** Entries a large memtable reserves room for: a 64 MiB memtable of the smallest entries. */
const RESERVED_ENTRIES = 1024 * 1024;

/**
 * Capacity after `current` runs out, `perEntry` being how many entries one unit holds (leaves and
 * inner nodes hold many). Grows by half rather than doubling, so that a full memtable
 * over-allocates at most a third of its bookkeeping arrays; past {@link RESERVE_FROM_ENTRIES} it
 * grows by four up to the reservation.
 */
export function grownCapacity(current: number, perEntry = 1): number {
  const grown = current + Math.max(16, current >> 1);
  if (current * perEntry < RESERVE_FROM_ENTRIES) return grown;
  // Then by four up to the reservation (64k, 256k, 1M entries): a replay of 100k entries does not
  // pay for the whole reservation (about 70 MB of new shared memory, measured at ~150 ms of a
  // crash open to allocate and fault in), and a filling memtable still grows only twice.
  return Math.max(grown, Math.min(current * 4, Math.ceil(RESERVED_ENTRIES / perEntry)));
}

/**
 * Big-endian word of the key bytes `at..at+3` of the key at `bytes[start, start + length)` (zero
 * padded), sign-flipped for signed comparison.
 */
export function prefixWord(bytes: Uint8Array, start: number, length: number, at: number): number {
  const i = start + at;
  const b0 = at < length ? bytes[i]! : 0;
  const b1 = at + 1 < length ? bytes[i + 1]! : 0;
  const b2 = at + 2 < length ? bytes[i + 2]! : 0;
  const b3 = at + 3 < length ? bytes[i + 3]! : 0;
  return ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3) ^ 0x80000000;
}
