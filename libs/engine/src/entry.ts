/**
 * The entry model shared by memtables, segments and iterators.
 */

/**
 * Kind of an internal entry: a value, a tombstone (deletion marker) or a value with a deadline.
 * Memtables and segment data blocks store the code as one byte.
 */
export const ValueKind = {
  /** A live value. */
  Value: 0,
  /** A deletion marker hiding older versions. */
  Tombstone: 1,
  /**
   * A value with an absolute wall-clock deadline. The stored value bytes are
   * `[u64 LE expiresAtMs][user value]`: an 8-byte prefix (see {@link EXPIRY_PREFIX_BYTES}) holding
   * the deadline in milliseconds since the Unix epoch (above 0), then the value the user wrote.
   * Until the tree's clock reaches the deadline it reads as a value (without the prefix); from
   * then on every read treats it exactly like a tombstone: it hides the older versions of its key.
   */
  Expiring: 2,
} as const;

/** Bytes of the deadline prefix of an {@link ValueKind.Expiring} entry's stored value. */
export const EXPIRY_PREFIX_BYTES = 8;

/** One of the {@link ValueKind} codes. */
export type ValueKindCode = (typeof ValueKind)[keyof typeof ValueKind];

/**
 * A versioned entry as stored inside the engine: key, seqno, kind and value (empty for tombstones;
 * prefixed with the deadline for expiring values, see `expiresAtMsOf` and `userValueOf`).
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
