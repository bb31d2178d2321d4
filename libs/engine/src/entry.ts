/**
 * The entry model shared by memtables, segments and iterators.
 */

/** Kind of an internal entry: a value or a tombstone (deletion marker). */
export const ValueKind = {
  /** A live value. */
  Value: 0,
  /** A deletion marker hiding older versions. */
  Tombstone: 1,
} as const;

/** One of the {@link ValueKind} codes. */
export type ValueKindCode = (typeof ValueKind)[keyof typeof ValueKind];

/**
 * A versioned entry as stored inside the engine: key, seqno, kind and value (empty for tombstones).
 * Ordered by key ascending, then seqno descending.
 */
export interface InternalEntry {
  readonly key: Buffer;
  readonly value: Buffer;
  readonly seqno: number;
  readonly kind: ValueKindCode;
}

/**
 * A key-value pair as returned by reads. `key` and `value` are read-only views into engine memory
 * (immutable once written); copy them to keep them past the life of a large working set.
 */
export interface KeyValue {
  readonly key: Buffer;
  readonly value: Buffer;
  /** Seqno of the version returned (the newest visible one), e.g. for a range API's ETags. */
  readonly seqno: number;
}

/** The largest seqno a read may use: it sees every entry. */
export const MAX_SEQNO = Number.MAX_SAFE_INTEGER;
