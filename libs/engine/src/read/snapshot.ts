import type { KeyValue } from '../entry.js';
import type { KeyRange, TreeIterator } from '../iterators/tree-iterator.js';

/**
 * The reads a {@link Snapshot} takes at its seqno: what it needs of the tree, and no more, so the
 * view does not depend on the facade that hands it out. `Tree` implements it.
 */
export interface ReadsAtSeqno {
  get(key: Uint8Array, seqno: number): Promise<Buffer | undefined>;
  containsKey(key: Uint8Array, seqno: number): Promise<boolean>;
  iter(seqno: number): TreeIterator;
  range(range: KeyRange, seqno: number): TreeIterator;
  prefix(prefix: Uint8Array, seqno: number): TreeIterator;
  firstKeyValue(seqno: number): Promise<KeyValue | undefined>;
  lastKeyValue(seqno: number): Promise<KeyValue | undefined>;
  len(seqno: number): Promise<number>;
  isEmpty(seqno: number): Promise<boolean>;
}

/**
 * A read-only point-in-time view of a tree: every read sees entries with seqno below
 * {@link seqno}, however the tree changes meanwhile. While open, compaction keeps the versions it
 * needs. Close it (or use `using`) to let them be collected.
 *
 * @example
 * ```ts
 * const snapshot = tree.snapshot(1);
 * tree.insert(Buffer.from('b'), Buffer.from('x'), 1);
 * await snapshot.containsKey(Buffer.from('b')); // false
 * snapshot.close();
 * ```
 */
export class Snapshot {
  /** @internal */
  constructor(
    private readonly tree: ReadsAtSeqno,
    /** Reads see entries with a seqno below this. */
    readonly seqno: number,
    private readonly onClose: () => void,
  ) {}

  /** The value of `key` as of the snapshot, or `undefined`. */
  get(key: Uint8Array): Promise<Buffer | undefined> {
    return this.tree.get(key, this.seqno);
  }

  /** True when `key` had a value as of the snapshot. */
  containsKey(key: Uint8Array): Promise<boolean> {
    return this.tree.containsKey(key, this.seqno);
  }

  /** Iterates over every pair as of the snapshot. */
  iter(): TreeIterator {
    return this.tree.iter(this.seqno);
  }

  /** Iterates over the pairs within `range` as of the snapshot. */
  range(range: KeyRange): TreeIterator {
    return this.tree.range(range, this.seqno);
  }

  /** Iterates over the pairs whose key starts with `prefix`, as of the snapshot. */
  prefix(prefix: Uint8Array): TreeIterator {
    return this.tree.prefix(prefix, this.seqno);
  }

  /** The pair with the smallest key as of the snapshot, or `undefined`. */
  firstKeyValue(): Promise<KeyValue | undefined> {
    return this.tree.firstKeyValue(this.seqno);
  }

  /** The pair with the largest key as of the snapshot, or `undefined`. */
  lastKeyValue(): Promise<KeyValue | undefined> {
    return this.tree.lastKeyValue(this.seqno);
  }

  /** Counts the pairs visible to the snapshot (a scan). */
  len(): Promise<number> {
    return this.tree.len(this.seqno);
  }

  /** True when no pair is visible to the snapshot. */
  isEmpty(): Promise<boolean> {
    return this.tree.isEmpty(this.seqno);
  }

  /** Releases the snapshot; idempotent. */
  close(): void {
    this.onClose();
  }

  /** Closes the snapshot at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.close();
  }
}
