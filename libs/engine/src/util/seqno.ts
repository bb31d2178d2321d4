/**
 * Seqnos that may be absent: an empty memtable, a tree with nothing flushed yet. `undefined`
 * stands for "none", never a -1 that a comparison could mistake for a seqno.
 */

/**
 * The higher of two seqnos, either of which may be absent.
 *
 * @example
 * ```ts
 * higherSeqno(undefined, 4); // 4
 * higherSeqno(undefined, undefined); // undefined
 * ```
 */
export function higherSeqno(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a > b ? a : b;
}

/** True when `seqno` is absent or at most `bound`: nothing lies above `bound`. */
export function isAtOrBelow(seqno: number | undefined, bound: number): boolean {
  return seqno === undefined || seqno <= bound;
}
