import { invariant } from '@strata/core';
import { compareKeyTo } from '../util/bytes.js';
import type { InternalEntry, ValueKindCode } from '../entry.js';

const MAX_HEIGHT = 12;
/** Link value meaning "no node". */
export const NIL = -1;
const HEAD = 0;
const MIN_SLAB_BYTES = 64 * 1024;
const MAX_SLAB_BYTES = 1024 * 1024;
/** Per-entry bookkeeping counted in the memtable size (node record, links, seqno). */
const ENTRY_OVERHEAD_BYTES = 64;

/**
 * Node record layout: one stride of an Int32Array per node, so that a search step touches one
 * cache line instead of one per field array (the skiplist was bound by cache misses). The first
 * 16 key bytes are kept in the record as four big-endian words (sign-flipped, so signed compares
 * order them as unsigned bytes): most comparisons never touch the key slab.
 */
const STRIDE = 12;
const F_PREFIX = 0; // 4 words
const F_SLAB = 4;
const F_OFFSET = 5;
const F_KEY_LENGTH = 6;
const F_VALUE_LENGTH = 7;
/** Start of the node's links for levels >= 1 in `links` (level L at linkStart + L - 1). */
const F_LINK_START = 8;
const F_NEXT = 9;
const F_PREV = 10;
const F_HEIGHT = 11;
const PREFIX_BYTES = 16;

/**
 * The memtable's arrays, all backed by SharedArrayBuffers, so a sealed memtable can be handed to a
 * flush worker without copying a byte.
 */
export interface SharedMemtableState {
  readonly count: number;
  readonly slabs: readonly Uint8Array[];
  readonly nodes: Int32Array;
  readonly seqnos: Float64Array;
  readonly kinds: Uint8Array;
  readonly links: Int32Array;
  readonly tails: Int32Array;
  readonly sizeBytes: number;
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

/** Big-endian word of key bytes `at..at+3` (zero padded), sign-flipped for signed comparison. */
function prefixWord(key: Uint8Array, at: number): number {
  const n = key.length;
  const b0 = at < n ? key[at]! : 0;
  const b1 = at + 1 < n ? key[at + 1]! : 0;
  const b2 = at + 2 < n ? key[at + 2]! : 0;
  const b3 = at + 3 < n ? key[at + 3]! : 0;
  return ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3) ^ 0x80000000;
}

/**
 * An in-memory sorted run of versioned entries, ordered by (key ascending, seqno descending).
 *
 * A skiplist laid out in typed arrays: no JavaScript object is allocated per entry. Keys and values
 * are copied into append-only slabs; a node is a fixed-size record in one Int32Array (key prefix,
 * slab position, level-0 links both ways); links of upper levels live in a second array. Entries
 * are never removed or changed, so any reader (an iterator suspended on a block read, a flush
 * worker) sees a consistent prefix of history.
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
  private nodes: Int32Array;
  private seqnos: Float64Array;
  private kinds: Uint8Array;
  private links: Int32Array;
  private linkCount = MAX_HEIGHT;
  private readonly tails: Int32Array;
  private readonly preds = new Int32Array(MAX_HEIGHT);
  private height = 1;
  private sizeBytes = 0;
  private maxSeqno = -1;
  private readonly frozen: boolean;
  // The search key's prefix words, computed once per search.
  private w0 = 0;
  private w1 = 0;
  private w2 = 0;
  private w3 = 0;

  constructor(initialCapacity = 256, state?: SharedMemtableState) {
    if (state) {
      this.count = state.count;
      this.slabs = state.slabs.map((s) => Buffer.from(s.buffer, s.byteOffset, s.byteLength));
      this.nodes = state.nodes;
      this.seqnos = state.seqnos;
      this.kinds = state.kinds;
      this.links = state.links;
      this.tails = state.tails;
      this.sizeBytes = state.sizeBytes;
      this.maxSeqno = state.maxSeqno;
      this.frozen = true;
      return;
    }
    const capacity = Math.max(16, initialCapacity);
    this.nodes = sharedInt32(capacity * STRIDE);
    this.seqnos = sharedFloat64(capacity);
    this.kinds = sharedUint8(capacity);
    this.links = sharedInt32(capacity + MAX_HEIGHT);
    this.links.fill(NIL, 0, MAX_HEIGHT);
    this.tails = sharedInt32(MAX_HEIGHT);
    this.tails.fill(HEAD);
    this.nodes[HEAD * STRIDE + F_NEXT] = NIL;
    this.nodes[HEAD * STRIDE + F_PREV] = NIL;
    this.nodes[HEAD * STRIDE + F_HEIGHT] = MAX_HEIGHT;
    this.nodes[HEAD * STRIDE + F_LINK_START] = 0 - 1; // head's level L link at links[L - 1]
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
      nodes: this.nodes,
      seqnos: this.seqnos,
      kinds: this.kinds,
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
    this.setSearchKey(key);
    const nodes = this.nodes;
    const r = node * STRIDE;
    nodes[r + F_PREFIX] = this.w0;
    nodes[r + F_PREFIX + 1] = this.w1;
    nodes[r + F_PREFIX + 2] = this.w2;
    nodes[r + F_PREFIX + 3] = this.w3;
    nodes[r + F_SLAB] = slabIndex;
    nodes[r + F_OFFSET] = offset;
    nodes[r + F_KEY_LENGTH] = key.length;
    nodes[r + F_VALUE_LENGTH] = value.length;
    nodes[r + F_HEIGHT] = height;
    this.seqnos[node] = seqno;
    this.kinds[node] = kind;

    const preds = this.preds;
    const tails = this.tails;
    const tail = tails[0]!;
    if (tail === HEAD || this.compareTo(key, seqno, tail) > 0) {
      // Appending in key order (sequential fills) needs no search: the tails are the predecessors.
      for (let level = 0; level < MAX_HEIGHT; level++) preds[level] = tails[level]!;
    } else {
      this.findPredecessors(key, seqno);
    }
    if (height > this.height) this.height = height;
    const links = this.links;
    // Level 0 lives in the records, both ways.
    const pred0 = preds[0]!;
    const next0 = nodes[pred0 * STRIDE + F_NEXT]!;
    nodes[r + F_NEXT] = next0;
    nodes[r + F_PREV] = pred0;
    nodes[pred0 * STRIDE + F_NEXT] = node;
    if (next0 === NIL) tails[0] = node;
    else nodes[next0 * STRIDE + F_PREV] = node;
    const start = nodes[r + F_LINK_START]!;
    for (let level = 1; level < height; level++) {
      const pred = preds[level]!;
      const predLink = nodes[pred * STRIDE + F_LINK_START]! + level;
      const next = links[predLink]!;
      links[start + level] = next;
      links[predLink] = node;
      if (next === NIL) tails[level] = node;
    }

    this.sizeBytes += itemSize;
    if (seqno > this.maxSeqno) this.maxSeqno = seqno;
    return [itemSize, this.sizeBytes];
  }

  /**
   * The newest version of `key` with a seqno below `readSeqno` (tombstones included), or
   * `undefined`.
   */
  get(key: Uint8Array, readSeqno: number): InternalEntry | undefined {
    if (this.count === 1) return undefined;
    const node = this.seek(key, readSeqno - 1);
    if (node === NIL || this.compareKeyAt(key, node) !== 0) return undefined;
    return this.entryAt(node);
  }

  /** The first node ordered at or after (`key`, `seqno`), or {@link NIL}. Seqno may be ±Infinity. */
  seek(key: Uint8Array, seqno: number): number {
    this.setSearchKey(key);
    this.findPredecessors(key, seqno);
    return this.nodes[this.preds[0]! * STRIDE + F_NEXT]!;
  }

  /** The first node, or {@link NIL}. */
  first(): number {
    return this.nodes[HEAD * STRIDE + F_NEXT]!;
  }

  /** The last node, or {@link NIL}. */
  last(): number {
    const tail = this.tails[0]!;
    return tail === HEAD ? NIL : tail;
  }

  /** The node after `node`, or {@link NIL}. */
  next(node: number): number {
    return this.nodes[node * STRIDE + F_NEXT]!;
  }

  /** The node before `node` (or before the end when `node` is NIL), or {@link NIL}. */
  previous(node: number): number {
    const p = node === NIL ? this.tails[0]! : this.nodes[node * STRIDE + F_PREV]!;
    return p === HEAD ? NIL : p;
  }

  /** A view of a node's key. */
  keyAt(node: number): Buffer {
    const r = node * STRIDE;
    const nodes = this.nodes;
    const offset = nodes[r + F_OFFSET]!;
    return this.slabs[nodes[r + F_SLAB]!]!.subarray(offset, offset + nodes[r + F_KEY_LENGTH]!);
  }

  /** A view of a node's value. */
  valueAt(node: number): Buffer {
    const r = node * STRIDE;
    const nodes = this.nodes;
    const offset = nodes[r + F_OFFSET]! + nodes[r + F_KEY_LENGTH]!;
    return this.slabs[nodes[r + F_SLAB]!]!.subarray(offset, offset + nodes[r + F_VALUE_LENGTH]!);
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
    const r = node * STRIDE;
    const nodes = this.nodes;
    const offset = nodes[r + F_OFFSET]!;
    return compareKeyTo(
      key,
      this.slabs[nodes[r + F_SLAB]!]!,
      offset,
      offset + nodes[r + F_KEY_LENGTH]!,
    );
  }

  private setSearchKey(key: Uint8Array): void {
    this.w0 = prefixWord(key, 0);
    this.w1 = prefixWord(key, 4);
    this.w2 = prefixWord(key, 8);
    this.w3 = prefixWord(key, 12);
  }

  /**
   * Ordering of (key, seqno) against a node: key ascending, then seqno descending. The key's
   * prefix words must be set ({@link setSearchKey}).
   */
  private compareTo(key: Uint8Array, seqno: number, node: number): number {
    const nodes = this.nodes;
    const r = node * STRIDE;
    let d = this.w0 - nodes[r]!;
    if (d === 0) {
      d = this.w1 - nodes[r + 1]!;
      if (d === 0) {
        d = this.w2 - nodes[r + 2]!;
        if (d === 0) {
          d = this.w3 - nodes[r + 3]!;
          if (d === 0) {
            const keyLength = nodes[r + F_KEY_LENGTH]!;
            if (key.length <= PREFIX_BYTES && keyLength <= PREFIX_BYTES) {
              d = key.length - keyLength;
            } else {
              const offset = nodes[r + F_OFFSET]!;
              const slab = this.slabs[nodes[r + F_SLAB]!]!;
              d = compareKeyTo(key, slab, offset, offset + keyLength);
            }
            if (d === 0) {
              const s = this.seqnos[node]!;
              return s > seqno ? 1 : s < seqno ? -1 : 0;
            }
          }
        }
      }
    }
    return d;
  }

  private findPredecessors(key: Uint8Array, seqno: number): void {
    const links = this.links;
    const nodes = this.nodes;
    const preds = this.preds;
    let node = HEAD;
    for (let level = MAX_HEIGHT - 1; level >= 1; level--) {
      if (level >= this.height) {
        preds[level] = HEAD;
        continue;
      }
      let next = links[nodes[node * STRIDE + F_LINK_START]! + level]!;
      while (next !== NIL && this.compareTo(key, seqno, next) > 0) {
        node = next;
        next = links[nodes[node * STRIDE + F_LINK_START]! + level]!;
      }
      preds[level] = node;
    }
    let next = nodes[node * STRIDE + F_NEXT]!;
    while (next !== NIL && this.compareTo(key, seqno, next) > 0) {
      node = next;
      next = nodes[node * STRIDE + F_NEXT]!;
    }
    preds[0] = node;
  }

  private allocateNode(height: number): number {
    if (this.count >= this.seqnos.length) this.growNodes();
    if (this.linkCount + height > this.links.length) {
      const grown = sharedInt32(this.links.length * 2);
      grown.set(this.links);
      this.links = grown;
    }
    const node = this.count++;
    // Upper levels only: level L (1..height-1) at links[linkStart + L].
    this.nodes[node * STRIDE + F_LINK_START] = this.linkCount - 1;
    this.linkCount += height - 1;
    return node;
  }

  private growNodes(): void {
    const capacity = this.seqnos.length * 2;
    const nodes = sharedInt32(capacity * STRIDE);
    nodes.set(this.nodes);
    this.nodes = nodes;
    const seqnos = sharedFloat64(capacity);
    seqnos.set(this.seqnos);
    this.seqnos = seqnos;
    const kinds = sharedUint8(capacity);
    kinds.set(this.kinds);
    this.kinds = kinds;
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
