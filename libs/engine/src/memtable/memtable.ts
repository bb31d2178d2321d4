import { invariant } from '@strata/core';
import { compareKeyTo } from '../util/bytes.js';
import type { InternalEntry, ValueKindCode } from '../entry.js';

const MAX_HEIGHT = 12;
/** Link value meaning "no node". */
export const NIL = -1;
const HEAD = 0;
const MIN_SLAB_BYTES = 64 * 1024;
const MAX_SLAB_BYTES = 1024 * 1024;
/** Per-entry bookkeeping counted in the memtable size (node arrays and links). */
const ENTRY_OVERHEAD_BYTES = 48;

/**
 * The memtable's arrays, all backed by SharedArrayBuffers, so a sealed memtable can be handed to a
 * flush worker without copying a byte.
 */
export interface SharedMemtableState {
  readonly count: number;
  readonly slabs: readonly Uint8Array[];
  readonly keySlab: Uint32Array;
  readonly keyOffset: Uint32Array;
  readonly keyLength: Uint32Array;
  readonly valueLength: Uint32Array;
  readonly seqnos: Float64Array;
  readonly kinds: Uint8Array;
  readonly prev: Int32Array;
  readonly linkStart: Uint32Array;
  readonly links: Int32Array;
  readonly tails: Int32Array;
  readonly sizeBytes: number;
  readonly maxSeqno: number;
}

function sharedUint32(length: number): Uint32Array {
  return new Uint32Array(new SharedArrayBuffer(length * 4));
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
 * An in-memory sorted run of versioned entries, ordered by (key ascending, seqno descending).
 *
 * A skiplist laid out in typed arrays: no JavaScript object is allocated per entry. Keys and values
 * are copied into append-only slabs; nodes are indexes into parallel arrays; level-0 links are
 * doubly linked so iteration runs both ways. Entries are never removed or changed, so any reader
 * (an iterator suspended on a block read, a flush worker) sees a consistent prefix of history.
 *
 * @example
 * ```ts
 * const memtable = new Memtable();
 * memtable.insert(Buffer.from('a'), Buffer.from('1'), 7, ValueKind.Value);
 * memtable.get(Buffer.from('a'))?.value; // <Buffer 31>
 * ```
 */
export class Memtable {
  private count = 1; // node 0 is the head sentinel
  private slabs: Buffer[] = [];
  private slabUsedBytes = 0;
  private keySlab: Uint32Array;
  private keyOffset: Uint32Array;
  private keyLength: Uint32Array;
  private valueLength: Uint32Array;
  private seqnos: Float64Array;
  private kinds: Uint8Array;
  private prevLinks: Int32Array;
  private linkStart: Uint32Array;
  private links: Int32Array;
  private linkCount = MAX_HEIGHT;
  private readonly tails: Int32Array;
  private readonly preds = new Int32Array(MAX_HEIGHT);
  private height = 1;
  private sizeBytes = 0;
  private maxSeqno = -1;
  private readonly frozen: boolean;

  constructor(initialCapacity = 256, state?: SharedMemtableState) {
    if (state) {
      this.count = state.count;
      this.slabs = state.slabs.map((s) => Buffer.from(s.buffer, s.byteOffset, s.byteLength));
      this.keySlab = state.keySlab;
      this.keyOffset = state.keyOffset;
      this.keyLength = state.keyLength;
      this.valueLength = state.valueLength;
      this.seqnos = state.seqnos;
      this.kinds = state.kinds;
      this.prevLinks = state.prev;
      this.linkStart = state.linkStart;
      this.links = state.links;
      this.tails = state.tails;
      this.sizeBytes = state.sizeBytes;
      this.maxSeqno = state.maxSeqno;
      this.frozen = true;
      return;
    }
    const capacity = Math.max(16, initialCapacity);
    this.keySlab = sharedUint32(capacity);
    this.keyOffset = sharedUint32(capacity);
    this.keyLength = sharedUint32(capacity);
    this.valueLength = sharedUint32(capacity);
    this.seqnos = sharedFloat64(capacity);
    this.kinds = sharedUint8(capacity);
    this.prevLinks = sharedInt32(capacity);
    this.linkStart = sharedUint32(capacity);
    this.links = sharedInt32(capacity * 2 + MAX_HEIGHT);
    this.links.fill(NIL, 0, MAX_HEIGHT);
    this.tails = sharedInt32(MAX_HEIGHT);
    this.tails.fill(HEAD);
    this.prevLinks[HEAD] = NIL;
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
      keySlab: this.keySlab,
      keyOffset: this.keyOffset,
      keyLength: this.keyLength,
      valueLength: this.valueLength,
      seqnos: this.seqnos,
      kinds: this.kinds,
      prev: this.prevLinks,
      linkStart: this.linkStart,
      links: this.links,
      tails: this.tails,
      sizeBytes: this.sizeBytes,
      maxSeqno: this.maxSeqno,
    };
  }

  /** Number of entries (all versions, tombstones included). */
  get length(): number {
    return this.count - 1;
  }

  /** True when the memtable holds no entry. */
  isEmpty(): boolean {
    return this.count === 1;
  }

  /** Approximate memory taken by the entries, in bytes. */
  approximateSizeBytes(): number {
    return this.sizeBytes;
  }

  /** Highest seqno inserted, or `undefined` if empty. */
  getLsn(): number | undefined {
    return this.maxSeqno < 0 ? undefined : this.maxSeqno;
  }

  /**
   * Adds a version. Returns `[itemSizeBytes, memtableSizeBytes]` like the reference. An entry with
   * the same key and seqno as an existing one shadows it.
   */
  insert(key: Uint8Array, value: Uint8Array, seqno: number, kind: ValueKindCode): [number, number] {
    invariant(!this.frozen, 'insert into a frozen (shared) memtable');
    const itemSize = key.length + value.length + ENTRY_OVERHEAD_BYTES;
    const height = randomHeight();
    const node = this.allocateNode(height);
    const slabIndex = this.store(key, value);
    const offset = this.slabUsedBytes - key.length - value.length;
    this.keySlab[node] = slabIndex;
    this.keyOffset[node] = offset;
    this.keyLength[node] = key.length;
    this.valueLength[node] = value.length;
    this.seqnos[node] = seqno;
    this.kinds[node] = kind;

    const links = this.links;
    const linkStart = this.linkStart;
    const preds = this.preds;
    const tail = this.tails[0]!;
    if (tail === HEAD || this.compareTo(key, seqno, tail) > 0) {
      // Appending in key order (sequential fills) needs no search: the tails are the predecessors.
      for (let level = 0; level < MAX_HEIGHT; level++) preds[level] = this.tails[level]!;
    } else {
      this.findPredecessors(key, seqno);
    }
    if (height > this.height) this.height = height;
    const start = linkStart[node]!;
    for (let level = 0; level < height; level++) {
      const pred = preds[level]!;
      const predLink = linkStart[pred]! + level;
      const next = links[predLink]!;
      links[start + level] = next;
      links[predLink] = node;
      if (next === NIL) this.tails[level] = node;
    }
    const next0 = links[start]!;
    this.prevLinks[node] = preds[0]!;
    if (next0 !== NIL) this.prevLinks[next0] = node;

    this.sizeBytes += itemSize;
    if (seqno > this.maxSeqno) this.maxSeqno = seqno;
    return [itemSize, this.sizeBytes];
  }

  /**
   * The newest version of `key` with a seqno below `readSeqno` (tombstones included), or
   * `undefined`.
   */
  get(key: Uint8Array, readSeqno: number): InternalEntry | undefined {
    const node = this.seek(key, readSeqno - 1);
    if (node === NIL || this.compareKeyAt(key, node) !== 0) return undefined;
    return this.entryAt(node);
  }

  /** The first node ordered at or after (`key`, `seqno`), or {@link NIL}. Seqno may be ±Infinity. */
  seek(key: Uint8Array, seqno: number): number {
    this.findPredecessors(key, seqno);
    return this.links[this.linkStart[this.preds[0]!]!]!;
  }

  /** The first node, or {@link NIL}. */
  first(): number {
    return this.links[this.linkStart[HEAD]!]!;
  }

  /** The last node, or {@link NIL}. */
  last(): number {
    const tail = this.tails[0]!;
    return tail === HEAD ? NIL : tail;
  }

  /** The node after `node`, or {@link NIL}. */
  next(node: number): number {
    return this.links[this.linkStart[node]!]!;
  }

  /** The node before `node` (or before the end when `node` is NIL), or {@link NIL}. */
  previous(node: number): number {
    const p = node === NIL ? this.tails[0]! : this.prevLinks[node]!;
    return p === HEAD ? NIL : p;
  }

  /** A view of a node's key. */
  keyAt(node: number): Buffer {
    const slab = this.slabs[this.keySlab[node]!]!;
    const offset = this.keyOffset[node]!;
    return slab.subarray(offset, offset + this.keyLength[node]!);
  }

  /** A view of a node's value. */
  valueAt(node: number): Buffer {
    const slab = this.slabs[this.keySlab[node]!]!;
    const offset = this.keyOffset[node]! + this.keyLength[node]!;
    return slab.subarray(offset, offset + this.valueLength[node]!);
  }

  seqnoAt(node: number): number {
    return this.seqnos[node]!;
  }

  kindAt(node: number): ValueKindCode {
    return this.kinds[node]! as ValueKindCode;
  }

  /** The full entry at a node. */
  entryAt(node: number): InternalEntry {
    return {
      key: this.keyAt(node),
      value: this.valueAt(node),
      seqno: this.seqnos[node]!,
      kind: this.kinds[node]! as ValueKindCode,
    };
  }

  /** Compares `key` with a node's key. */
  compareKeyAt(key: Uint8Array, node: number): number {
    const slab = this.slabs[this.keySlab[node]!]!;
    const offset = this.keyOffset[node]!;
    return compareKeyTo(key, slab, offset, offset + this.keyLength[node]!);
  }

  /** Ordering of (key, seqno) against a node: key ascending, then seqno descending. */
  private compareTo(key: Uint8Array, seqno: number, node: number): number {
    const c = this.compareKeyAt(key, node);
    if (c !== 0) return c;
    const s = this.seqnos[node]!;
    return s > seqno ? 1 : s < seqno ? -1 : 0;
  }

  private findPredecessors(key: Uint8Array, seqno: number): void {
    const links = this.links;
    const linkStart = this.linkStart;
    let node = HEAD;
    for (let level = MAX_HEIGHT - 1; level >= 0; level--) {
      if (level >= this.height) {
        this.preds[level] = HEAD;
        continue;
      }
      let next = links[linkStart[node]! + level]!;
      while (next !== NIL && this.compareTo(key, seqno, next) > 0) {
        node = next;
        next = links[linkStart[node]! + level]!;
      }
      this.preds[level] = node;
    }
  }

  private allocateNode(height: number): number {
    if (this.count >= this.seqnos.length) this.growNodes();
    if (this.linkCount + height > this.links.length) {
      const grown = sharedInt32(this.links.length * 2);
      grown.set(this.links);
      this.links = grown;
    }
    const node = this.count++;
    this.linkStart[node] = this.linkCount;
    this.linkCount += height;
    return node;
  }

  private growNodes(): void {
    const capacity = this.seqnos.length * 2;
    const grow = <T extends Uint32Array | Int32Array | Float64Array | Uint8Array>(
      old: T,
      make: (n: number) => T,
    ): T => {
      const next = make(capacity);
      next.set(old);
      return next;
    };
    this.keySlab = grow(this.keySlab, sharedUint32);
    this.keyOffset = grow(this.keyOffset, sharedUint32);
    this.keyLength = grow(this.keyLength, sharedUint32);
    this.valueLength = grow(this.valueLength, sharedUint32);
    this.seqnos = grow(this.seqnos, sharedFloat64);
    this.kinds = grow(this.kinds, sharedUint8);
    this.prevLinks = grow(this.prevLinks, sharedInt32);
    this.linkStart = grow(this.linkStart, sharedUint32);
  }

  /** Copies key and value back to back into a slab; returns the slab index. */
  private store(key: Uint8Array, value: Uint8Array): number {
    const needed = key.length + value.length;
    let slab = this.slabs[this.slabs.length - 1];
    if (!slab || this.slabUsedBytes + needed > slab.length) {
      const previous = slab?.length ?? MIN_SLAB_BYTES / 2;
      const size = Math.max(needed, Math.min(MAX_SLAB_BYTES, previous * 2));
      slab = Buffer.from(new SharedArrayBuffer(size));
      this.slabs.push(slab);
      this.slabUsedBytes = 0;
    }
    slab.set(key, this.slabUsedBytes);
    slab.set(value, this.slabUsedBytes + key.length);
    this.slabUsedBytes += needed;
    return this.slabs.length - 1;
  }
}

function randomHeight(): number {
  let height = 1;
  while (height < MAX_HEIGHT && Math.random() < 0.25) height++;
  return height;
}
