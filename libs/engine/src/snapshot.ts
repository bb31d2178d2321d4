import type { KeyValue } from './entry.js';
import type { KeyRange } from './iterators/tree-iterator.js';
import type { TreeIterator } from './iterators/tree-iterator.js';
import type { Tree } from './tree.js';

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
    private readonly tree: Tree,
    /** Reads see entries with a seqno below this. */
    readonly seqno: number,
    private readonly onClose: () => void,
  ) {}

  get(key: Uint8Array): Promise<Buffer | undefined> {
    return this.tree.get(key, this.seqno);
  }

  containsKey(key: Uint8Array): Promise<boolean> {
    return this.tree.containsKey(key, this.seqno);
  }

  iter(): TreeIterator {
    return this.tree.iter(this.seqno);
  }

  range(range: KeyRange): TreeIterator {
    return this.tree.range(range, this.seqno);
  }

  prefix(prefix: Uint8Array): TreeIterator {
    return this.tree.prefix(prefix, this.seqno);
  }

  firstKeyValue(): Promise<KeyValue | undefined> {
    return this.tree.firstKeyValue(this.seqno);
  }

  lastKeyValue(): Promise<KeyValue | undefined> {
    return this.tree.lastKeyValue(this.seqno);
  }

  len(): Promise<number> {
    return this.tree.len(this.seqno);
  }

  isEmpty(): Promise<boolean> {
    return this.tree.isEmpty(this.seqno);
  }

  /** Releases the snapshot; idempotent. */
  close(): void {
    this.onClose();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
