/**
 * Reads that consume an iterator: its first pair, its last pair, how many pairs it has. The tree and its snapshots answer `firstKeyValue`, `lastKeyValue`, `len` and `isEmpty`
 * with them.
 */
import type { KeyValue } from '../entry.js';
import type { TreeIterator } from '../iterators/tree-iterator.js';

/** The first pair of `iterator`, or `undefined`; closes it. */
export async function firstPair(iterator: TreeIterator): Promise<KeyValue | undefined> {
  try {
    return await iterator.next();
  } finally {
    iterator.close();
  }
}

/** The last pair of `iterator`, or `undefined`; closes it. */
export async function lastPair(iterator: TreeIterator): Promise<KeyValue | undefined> {
  try {
    return await iterator.nextBack();
  } finally {
    iterator.close();
  }
}

/**
 * Counts the pairs of `iterator` in chunks. Unlike the two above it leaves the iterator open, as
 * `len` always did: its finalizer unpins the version once the iterator is collected.
 */
export async function countPairs(iterator: TreeIterator): Promise<number> {
  let count = 0;
  for (;;) {
    const chunk = await iterator.nextChunk(4096);
    count += chunk.length;
    if (chunk.length < 4096) return count;
  }
}
