import { StrataError, invariant } from '@strata/core';
import type { InternalEntry, ValueKindCode } from '../entry.js';
import { EXPIRY_PREFIX_BYTES, ValueKind } from '../entry.js';
import type { ExpiringEntry } from '../expiring.js';
import type { RangeTombstoneFragments } from '../range-tombstones/fragments.js';
import { NOT_COVERED } from '../range-tombstones/fragments.js';
import { MemtableTombstones } from '../range-tombstones/memtable-tombstones.js';
import { compareRanges, readU64 } from '../util/bytes.js';
import { EntryArena } from './arena.js';
import { SlotTree } from './btree.js';
import type { SharedMemtableState } from './layout.js';
import { NIL } from './layout.js';

/** Per-entry bookkeeping counted in the memtable size (record, slot share, seqno). */
const ENTRY_OVERHEAD_BYTES = 64;
/** Bookkeeping of a range tombstone counted in the memtable size (fragment objects, seqnos). */
const RANGE_TOMBSTONE_OVERHEAD_BYTES = 160;

/**
 * An in-memory sorted run of versioned entries, ordered by (key ascending, seqno descending).
 *
 * Two parts, both in typed arrays with no JavaScript object per entry: the {@link EntryArena}
 * holds each entry's bytes, record, seqno and kind in insertion order, and the {@link SlotTree},
 * a B+tree, holds their order. A position (from {@link seek}, {@link first}, ...) is a place in
 * that order.
 *
 * Entries are never removed or changed, but an insert shifts slots, so a position is valid only
 * until the next insert: {@link mutations} tells a reader that suspended in between to seek
 * again. A sealed memtable never changes.
 *
 * Range tombstones live beside the entries in their own {@link MemtableTombstones}, created with
 * the first one: a memtable without any pays nothing for them, and one with many still answers a
 * point lookup with a binary search.
 *
 * @example
 * ```ts
 * const memtable = new Memtable();
 * memtable.insert(Buffer.from('a'), Buffer.from('1'), 7, ValueKind.Value);
 * memtable.get(Buffer.from('a'))?.value; // <Buffer 31>
 * ```
 */
export class Memtable {
  private readonly arena: EntryArena;
  private readonly tree: SlotTree;
  private sizeBytes = 0;
  /** Highest seqno inserted; meaningful only when the memtable holds an entry (seqnos are >= 0). */
  private maxSeqno = 0;
  private mutationCount = 0;
  /** Expiring entries inserted (counted by inserts; a frozen memtable counts on demand). */
  private expiringCount = 0;
  private readonly frozen: boolean;
  private tombstones: MemtableTombstones | undefined;

  constructor(initialCapacity = 256, state?: SharedMemtableState) {
    const capacity = Math.max(16, initialCapacity);
    this.arena = new EntryArena(capacity, state);
    this.tree = new SlotTree(this.arena, capacity, state);
    if (state) {
      this.sizeBytes = state.sizeBytes;
      this.maxSeqno = state.maxSeqno;
      if (state.rangeTombstones !== undefined) {
        const tombstones = new MemtableTombstones();
        for (const p of state.rangeTombstones) tombstones.add(p.start, p.end, p.seqno);
        this.tombstones = tombstones;
      }
    }
    this.frozen = state !== undefined;
  }

  /** Rebuilds a read-only memtable over arrays shared by another thread. */
  static fromShared(state: SharedMemtableState): Memtable {
    return new Memtable(0, state);
  }

  /** The shared arrays of this memtable; it must not be written to afterwards. */
  toShared(): SharedMemtableState {
    const arena = this.arena;
    return {
      count: arena.count,
      slabs: arena.sharedSlabs(),
      records: arena.records,
      seqnos: arena.seqnos,
      kinds: arena.kinds,
      ...this.tree.shared(),
      sizeBytes: this.sizeBytes,
      maxSeqno: this.maxSeqno,
      ...(this.tombstones ? { rangeTombstones: this.tombstones.pieces() } : {}),
    };
  }

  /** Number of entries (all versions, tombstones included). */
  get length(): number {
    return this.arena.count;
  }

  /** Changes on every insert: positions taken before a change must be sought again. */
  get mutations(): number {
    return this.mutationCount;
  }

  /** Range tombstone pieces held (a fragment deleted at two seqnos counts twice). */
  get rangeTombstoneCount(): number {
    return this.tombstones?.count ?? 0;
  }

  /** True when the memtable holds no entry and no range tombstone. */
  isEmpty(): boolean {
    return this.arena.count === 0 && this.tombstones === undefined;
  }

  /** True when the memtable holds a range tombstone. */
  hasRangeTombstones(): boolean {
    return this.tombstones !== undefined;
  }

  /**
   * The range tombstones, or `undefined` when there are none; valid until the next range
   * tombstone is inserted (copy what you keep).
   */
  rangeTombstones(): RangeTombstoneFragments | undefined {
    return this.tombstones?.fragments();
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
    return this.isEmpty() ? undefined : this.maxSeqno;
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

  /**
   * Adds the range tombstone `[start, end)@seqno`: versions of keys in the range with a lower
   * seqno are deleted. Returns `[itemSizeBytes,
   * memtableSizeBytes]` like {@link insert}.
   *
   * @example
   * ```ts
   * memtable.insertRangeTombstone(Buffer.from('user/'), Buffer.from('user0'), 8);
   * ```
   *
   * @throws StrataError `INVALID_ARGUMENT` unless `start < end`.
   */
  insertRangeTombstone(start: Uint8Array, end: Uint8Array, seqno: number): [number, number] {
    const sizeBytes = this.insertRangeTombstoneFrom(
      start,
      0,
      start.length,
      end,
      0,
      end.length,
      seqno,
    );
    return [start.length + end.length + RANGE_TOMBSTONE_OVERHEAD_BYTES, sizeBytes];
  }

  /**
   * {@link insertRangeTombstone} with the bounds as byte ranges of larger buffers (a log record:
   * start and end are `startSource[startOffset, +startLength)` and
   * `endSource[endOffset, +endLength)`), without a view per bound. The bounds are copied, unless
   * equal to bounds already held. Returns the memtable's size in bytes.
   */
  insertRangeTombstoneFrom(
    startSource: Uint8Array,
    startOffset: number,
    startLength: number,
    endSource: Uint8Array,
    endOffset: number,
    endLength: number,
    seqno: number,
  ): number {
    invariant(!this.frozen, 'insert into a frozen (shared) memtable');
    invariant(
      startOffset >= 0 &&
        startOffset + startLength <= startSource.length &&
        endOffset >= 0 &&
        endOffset + endLength <= endSource.length,
      'range tombstone bounds outside their source',
    );
    const order = compareRanges(
      startSource,
      startOffset,
      startOffset + startLength,
      endSource,
      endOffset,
      endOffset + endLength,
    );
    if (order >= 0) {
      throw new StrataError('INVALID_ARGUMENT', 'a range delete needs start < end');
    }
    this.tombstones ??= new MemtableTombstones();
    this.tombstones.addFrom(
      startSource,
      startOffset,
      startLength,
      endSource,
      endOffset,
      endLength,
      seqno,
    );
    this.sizeBytes += startLength + endLength + RANGE_TOMBSTONE_OVERHEAD_BYTES;
    if (seqno > this.maxSeqno) this.maxSeqno = seqno;
    return this.sizeBytes;
  }

  /**
   * The highest seqno below `readSeqno` of a range tombstone covering `key`, or
   * {@link NOT_COVERED}: a version of `key` with a lower seqno is deleted.
   */
  rangeTombstoneSeqno(key: Uint8Array, readSeqno: number): number {
    const tombstones = this.tombstones;
    return tombstones === undefined ? NOT_COVERED : tombstones.coveringSeqno(key, readSeqno);
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
    if (kind === ValueKind.Expiring) {
      invariant(valueLength >= EXPIRY_PREFIX_BYTES, 'expiring entry without its deadline');
      this.expiringCount++;
    }
    const entry = this.arena.add(
      keySource,
      keyStart,
      keyLength,
      valueSource,
      valueStart,
      valueLength,
      seqno,
      kind,
    );
    this.tree.insert(entry, keyLength, seqno);
    this.mutationCount++;
    this.sizeBytes += keyLength + valueLength + ENTRY_OVERHEAD_BYTES;
    if (seqno > this.maxSeqno) this.maxSeqno = seqno;
    return this.sizeBytes;
  }

  /**
   * Every {@link ValueKind.Expiring} entry inserted so far, in insertion order (superseded
   * versions included), without walking the order: a scan of the kinds array, skipped when the
   * memtable holds none. Entries inserted while the generator is suspended are not listed.
   *
   * @example
   * ```ts
   * for (const { key, seqno, expiresAtMs } of memtable.expiringEntries()) index(key, expiresAtMs);
   * ```
   */
  *expiringEntries(): Generator<ExpiringEntry> {
    if (!this.frozen && this.expiringCount === 0) return;
    const arena = this.arena;
    const count = arena.count;
    for (let entry = 0; entry < count; entry++) {
      // Read through the arena each time: its arrays are replaced when it grows.
      if (arena.kinds[entry] !== ValueKind.Expiring) continue;
      yield {
        key: arena.key(entry),
        seqno: arena.seqno(entry),
        expiresAtMs: readU64(arena.value(entry), 0),
      };
    }
  }

  /**
   * The newest version of `key` with a seqno below `readSeqno` (tombstones included), or
   * `undefined`.
   */
  get(key: Uint8Array, readSeqno: number): InternalEntry | undefined {
    if (this.arena.count === 0) return undefined;
    const position = this.tree.seek(key, readSeqno - 1);
    if (position === NIL || this.compareKeyAt(key, position) !== 0) return undefined;
    return this.entryAt(position);
  }

  /** The first position ordered at or after (`key`, `seqno`), or {@link NIL}. Seqno may be ±Infinity. */
  seek(key: Uint8Array, seqno: number): number {
    return this.tree.seek(key, seqno);
  }

  /** The first position, or {@link NIL}. */
  first(): number {
    return this.tree.first();
  }

  /** The last position, or {@link NIL}. */
  last(): number {
    return this.tree.last();
  }

  /** The position after `position`, or {@link NIL}. */
  next(position: number): number {
    return this.tree.next(position);
  }

  /** The position before `position` (or before the end when it is NIL), or {@link NIL}. */
  previous(position: number): number {
    return this.tree.previous(position);
  }

  /** A view of the key at a position. */
  keyAt(position: number): Buffer {
    return this.arena.key(this.tree.entryAt(position));
  }

  /** A view of the value at a position. */
  valueAt(position: number): Buffer {
    return this.arena.value(this.tree.entryAt(position));
  }

  /**
   * The slab holding the key and value of the entry at a position: with {@link keyOffsetAt},
   * {@link keyLengthAt} and {@link valueLengthAt}, a flush copies entries out of the slabs without
   * a view per entry. The value follows the key. Bytes in a slab never change once written.
   */
  slabAt(position: number): Buffer {
    return this.arena.slab(this.tree.entryAt(position));
  }

  /** Offset in {@link slabAt} of the key at a position; its value starts right after the key. */
  keyOffsetAt(position: number): number {
    return this.arena.keyOffset(this.tree.entryAt(position));
  }

  /** Length of the key at a position. */
  keyLengthAt(position: number): number {
    return this.arena.keyLength(this.tree.entryAt(position));
  }

  /** Length of the value at a position. */
  valueLengthAt(position: number): number {
    return this.arena.valueLength(this.tree.entryAt(position));
  }

  /**
   * True when the entries at two positions have equal keys. The slots' prefix words are compared
   * first, so keys that differ in their first 16 bytes cost no slab read.
   */
  sameKeyAt(position: number, other: number): boolean {
    return this.tree.sameKeyAt(position, other);
  }

  /** Seqno of the entry at a position. */
  seqnoAt(position: number): number {
    return this.arena.seqno(this.tree.entryAt(position));
  }

  /** Kind (value or tombstone) of the entry at a position. */
  kindAt(position: number): ValueKindCode {
    return this.arena.kind(this.tree.entryAt(position));
  }

  /** The full entry at a position. */
  entryAt(position: number): InternalEntry {
    const entry = this.tree.entryAt(position);
    const arena = this.arena;
    return {
      key: arena.key(entry),
      value: arena.value(entry),
      seqno: arena.seqno(entry),
      kind: arena.kind(entry),
    };
  }

  /** Compares `key` with the key at a position. */
  compareKeyAt(key: Uint8Array, position: number): number {
    return this.arena.compareKey(key, this.tree.entryAt(position));
  }
}
