import { compareKeyTo, compareRanges, copyRange } from '../util/bytes.js';
import type { ValueKindCode } from '../entry.js';
import type { SharedMemtableState } from './layout.js';
import { copyWords } from './word-copy.js';
import {
  PREFIX_BYTES,
  RECORD,
  R_KEY_LENGTH,
  R_OFFSET,
  R_SLAB,
  R_VALUE_LENGTH,
  grownCapacity,
  sharedFloat64,
  sharedInt32,
  sharedUint8,
} from './layout.js';

const MIN_SLAB_BYTES = 64 * 1024;
const MAX_SLAB_BYTES = 1024 * 1024;
const EMPTY_VIEW = new DataView(new ArrayBuffer(0));

/**
 * Where a memtable keeps its entries, by entry id in insertion order: key and value bytes copied
 * back to back into append-only slabs, and per entry a fixed-size record (slab, offset, key and
 * value lengths), a seqno and a kind. Nothing is ever removed or changed, so a view of a key or a
 * value stays valid for the life of the memtable. The order of entries is the B+tree's business.
 *
 * The arrays are public for the B+tree's comparisons, which read them in its inner loops; they are
 * replaced when they grow, so read them through the arena, never keep them.
 *
 * @example
 * ```ts
 * const arena = new EntryArena(256);
 * const entry = arena.add(key, 0, key.length, value, 0, value.length, 7, ValueKind.Value);
 * arena.key(entry).equals(key); // true
 * ```
 */
export class EntryArena {
  /** Entries stored. */
  count = 0;
  slabs: Buffer[] = [];
  records: Int32Array;
  seqnos: Float64Array;
  kinds: Uint8Array;
  private slabUsedBytes = 0;
  /** A DataView of the slab being filled, for {@link copyWords}. */
  private slabView: DataView = EMPTY_VIEW;
  /**
   * The last buffer that held both a key and its value (a log record, whose entries arrive one
   * after another) and a DataView of it: one view per record instead of one per copy.
   */
  private viewedSource: Uint8Array | undefined;
  private sourceView: DataView = EMPTY_VIEW;

  constructor(capacity: number, state?: SharedMemtableState) {
    if (state) {
      this.count = state.count;
      this.slabs = state.slabs.map((s) => Buffer.from(s.buffer, s.byteOffset, s.byteLength));
      this.records = state.records;
      this.seqnos = state.seqnos;
      this.kinds = state.kinds;
      return;
    }
    this.records = sharedInt32(capacity * RECORD);
    this.seqnos = sharedFloat64(capacity);
    this.kinds = sharedUint8(capacity);
  }

  /** The slabs as plain views, for the shared state. */
  sharedSlabs(): Uint8Array[] {
    return this.slabs.map((s) => new Uint8Array(s.buffer, s.byteOffset, s.byteLength));
  }

  /** Copies key and value into a slab and fills the entry's record; returns the entry id. */
  add(
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
      const memory = new SharedArrayBuffer(size);
      slab = Buffer.from(memory);
      this.slabView = new DataView(memory);
      this.slabs.push(slab);
      this.slabUsedBytes = 0;
    }
    const offset = this.slabUsedBytes;
    if (keySource === valueSource) {
      // Key and value from one buffer (insertFrom: a log record): word copies through DataViews.
      if (keySource !== this.viewedSource) {
        this.viewedSource = keySource;
        this.sourceView = new DataView(keySource.buffer, keySource.byteOffset, keySource.length);
      }
      const sourceView = this.sourceView;
      copyWords(this.slabView, slab, offset, sourceView, keySource, keyStart, keyLength);
      copyWords(
        this.slabView,
        slab,
        offset + keyLength,
        sourceView,
        keySource,
        valueStart,
        valueLength,
      );
    } else {
      // Not kept past the record's entries: a live write's buffers never match it again.
      this.viewedSource = undefined;
      this.sourceView = EMPTY_VIEW;
      copyRange(slab, offset, keySource, keyStart, keyLength);
      copyRange(slab, offset + keyLength, valueSource, valueStart, valueLength);
    }
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

  /** A view of the entry's key. */
  key(entry: number): Buffer {
    const r = entry * RECORD;
    const records = this.records;
    const offset = records[r + R_OFFSET]!;
    return this.slabs[records[r + R_SLAB]!]!.subarray(offset, offset + records[r + R_KEY_LENGTH]!);
  }

  /** A view of the entry's value. */
  value(entry: number): Buffer {
    const r = entry * RECORD;
    const records = this.records;
    const offset = records[r + R_OFFSET]! + records[r + R_KEY_LENGTH]!;
    return this.slabs[records[r + R_SLAB]!]!.subarray(
      offset,
      offset + records[r + R_VALUE_LENGTH]!,
    );
  }

  /** The slab holding the entry's key, followed by its value. */
  slab(entry: number): Buffer {
    return this.slabs[this.records[entry * RECORD + R_SLAB]!]!;
  }

  /** Offset of the entry's key in its {@link slab}. */
  keyOffset(entry: number): number {
    return this.records[entry * RECORD + R_OFFSET]!;
  }

  keyLength(entry: number): number {
    return this.records[entry * RECORD + R_KEY_LENGTH]!;
  }

  valueLength(entry: number): number {
    return this.records[entry * RECORD + R_VALUE_LENGTH]!;
  }

  seqno(entry: number): number {
    return this.seqnos[entry]!;
  }

  kind(entry: number): ValueKindCode {
    return this.kinds[entry]! as ValueKindCode;
  }

  /** Compares `key` with the entry's key. */
  compareKey(key: Uint8Array, entry: number): number {
    const r = entry * RECORD;
    const records = this.records;
    const offset = records[r + R_OFFSET]!;
    return compareKeyTo(
      key,
      this.slabs[records[r + R_SLAB]!]!,
      offset,
      offset + records[r + R_KEY_LENGTH]!,
    );
  }

  /**
   * Compares the key `bytes[start, start + length)` with the entry's key, both known to agree in
   * their first {@link PREFIX_BYTES} bytes (zero padded): the bytes past those, or the lengths.
   */
  compareKeyPastPrefix(bytes: Uint8Array, start: number, length: number, entry: number): number {
    const r = entry * RECORD;
    const records = this.records;
    const keyLength = records[r + R_KEY_LENGTH]!;
    if (length <= PREFIX_BYTES && keyLength <= PREFIX_BYTES) return length - keyLength;
    // Equal prefix words: the bytes both keys have within the first 16 are equal.
    const shorter = length < keyLength ? length : keyLength;
    const skip = shorter < PREFIX_BYTES ? shorter : PREFIX_BYTES;
    const offset = records[r + R_OFFSET]!;
    return compareRanges(
      bytes,
      start + skip,
      start + length,
      this.slabs[records[r + R_SLAB]!]!,
      offset + skip,
      offset + keyLength,
    );
  }

  /**
   * True when two entries whose keys agree in their first {@link PREFIX_BYTES} bytes (zero
   * padded) have equal keys.
   */
  sameKeyPastPrefix(a: number, b: number): boolean {
    const records = this.records;
    const ra = a * RECORD;
    const rb = b * RECORD;
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
}
