import type { BytesInput } from './bytes.js';

/** How a write is acknowledged in a cluster: after the leader's fsync, or once a majority has it. */
export type Acks = 'leader' | 'quorum';

/** Options of every write. */
export interface WriteOptions {
  /** `quorum` (the node's default in a cluster) or `leader` (may be lost if the leader dies). */
  readonly acks?: Acks;
  /**
   * The write may be sent again when an attempt's outcome is unknown (a connection broke after
   * sending it, a quorum `TIMEOUT`...). Default false: such a write ends as `OUTCOME_UNKNOWN`.
   * Mark a write idempotent only if making it twice is harmless to you: a second put of the same
   * value is a second event (and overwrites whatever another client wrote in between); a
   * conditional write made twice answers `CONFLICT` the second time.
   */
  readonly idempotent?: boolean;
  /** Aborts the call (`ABORTED`; a write may or may not have been made). */
  readonly signal?: AbortSignal;
}

/** Options of a single-key put or delete. */
export interface KeyWriteOptions extends WriteOptions {
  /**
   * Write only if the key's version (the seqno of its last put; 0 when absent) is this one, else
   * `CONFLICT` and nothing is written. `ifSeqno: 0` creates a key only if it is absent.
   */
  readonly ifSeqno?: number;
}

/** The answer to a put, delete or range delete. */
export interface WriteResult {
  /** The write's seqno. */
  readonly seqno: number;
  /** The leader's term that took it. */
  readonly epoch: number;
}

/** One operation of a batch. Keys and values are UTF-8 text or bytes. */
export type BatchOperation =
  | {
      readonly type: 'put';
      readonly key: BytesInput;
      readonly value: BytesInput;
      readonly ifSeqno?: number;
    }
  | { readonly type: 'delete'; readonly key: BytesInput; readonly ifSeqno?: number }
  | { readonly type: 'deleteRange'; readonly prefix: BytesInput }
  | { readonly type: 'deleteRange'; readonly start: BytesInput; readonly end: BytesInput };

/**
 * A batch's prefix check: the batch fails (`CONFLICT`) if any key under `prefix` was written
 * (put, delete or range delete) after seqno `noWritesAfter`.
 */
export interface PrefixCheck {
  readonly prefix: BytesInput;
  readonly noWritesAfter: number;
}

/** Options of a batch. */
export interface BatchOptions extends WriteOptions {
  /** Prefix checks; every one must pass, or nothing is written. */
  readonly checks?: readonly PrefixCheck[];
}

/** The answer to a batch: one seqno per operation, `firstSeqno`..`lastSeqno`. */
export interface BatchResult {
  readonly firstSeqno: number;
  readonly lastSeqno: number;
  readonly epoch: number;
}

/** Which keys a range delete covers: a prefix, or `start` (inclusive) to `end` (exclusive). */
export type KeyRange =
  { readonly prefix: BytesInput } | { readonly start: BytesInput; readonly end: BytesInput };

/** Options of every read. */
export interface ReadOptions {
  /** Wait until the serving node has applied this seqno (added to read-your-writes). */
  readonly minSeqno?: number;
  /** Aborts the call (`ABORTED`). */
  readonly signal?: AbortSignal;
}

/** Options of {@link StrataClient.get}. */
export interface GetOptions extends ReadOptions {
  /** Read the state as of this seqno (`HISTORY_TRUNCATED` when older than the node keeps). */
  readonly at?: number;
}

/** A key's value and version. */
export interface Entry {
  readonly value: Buffer;
  /** The key's version: the seqno of its last put. */
  readonly seqno: number;
}

/** Options of {@link StrataClient.range}. */
export interface RangeOptions extends ReadOptions {
  /** Keys under this prefix. */
  readonly prefix?: BytesInput;
  /** First key (inclusive). */
  readonly start?: BytesInput;
  /** Last key (exclusive). */
  readonly end?: BytesInput;
  /** Descending order. */
  readonly reverse?: boolean;
  /** Items per page (the node's default when not given: 1,000). */
  readonly pageSize?: number;
  /** Read at this seqno (every page is read at one seqno anyway: the first page's). */
  readonly at?: number;
  /** Continue after a page of an earlier range (its `cursor`). */
  readonly cursor?: string;
}

/** One key of a range page. */
export interface RangeItem {
  readonly key: Buffer;
  readonly value: Buffer;
  /** The key's version. */
  readonly seqno: number;
}

/** One page of a range. */
export interface RangePage {
  readonly items: readonly RangeItem[];
  /** Pass as `cursor` to continue after this page; null on the last page. */
  readonly cursor: string | null;
  /** The seqno every page of this range is read at. */
  readonly at: number;
}

/** Options of {@link StrataClient.history}. */
export interface HistoryOptions extends ReadOptions {
  /** Versions in this page (default 100, at most 1,000). */
  readonly limit?: number;
  /** Only versions below this seqno (a page's `cursor`). */
  readonly before?: number;
}

/** One version of a key. */
export interface KeyVersion {
  readonly seqno: number;
  readonly type: 'put' | 'delete';
  /** The value written (null for a delete). */
  readonly value: Buffer | null;
  /** When the leader accepted the write (ms since the Unix epoch), when known. */
  readonly timestampMs: number | null;
}

/** One page of a key's history, newest first. */
export interface HistoryPage {
  readonly key: Buffer;
  readonly versions: readonly KeyVersion[];
  /** Pass as `before` for the next (older) page; null on the last page. */
  readonly cursor: number | null;
  /** Older versions may have existed below the history window the node keeps. */
  readonly truncated: boolean;
  /** The oldest seqno the node can read at. */
  readonly oldestReadableSeqno: number;
}

/** Options of {@link StrataClient.watch}. */
export interface WatchOptions {
  /** First seqno to deliver (default: the start of the log the node retains). */
  readonly from?: number;
  /** Only events whose key starts with this prefix. */
  readonly prefix?: BytesInput;
  /** Ends the watch (the iterator finishes without an error). */
  readonly signal?: AbortSignal;
}

/** One event of the log, as {@link StrataClient.watch} delivers it. */
export interface WatchEvent {
  readonly seqno: number;
  /** The leader's term that wrote it. */
  readonly epoch: number;
  /** `epoch-start` is a new leader's first record (empty key, null value). */
  readonly type: 'put' | 'delete' | 'delete-range' | 'epoch-start';
  readonly key: Buffer;
  /** The value of a put, the end key of a range delete; null otherwise. */
  readonly value: Buffer | null;
  /** When the leader accepted the write (ms since the Unix epoch). */
  readonly timestampMs: number;
}

/** What `/v1/status` reports (the fields every node has; the rest as the node sends them). */
export interface NodeStatus {
  readonly nodeId: string;
  readonly role: 'leader' | 'follower' | 'standalone' | (string & Record<never, never>);
  readonly epoch: number;
  readonly lastSeqno: number;
  readonly durableSeqno: number;
  readonly leaderId?: string;
  readonly leaderUrl?: string;
  readonly [field: string]: unknown;
}
