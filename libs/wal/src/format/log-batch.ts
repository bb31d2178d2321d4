/**
 * What a log entry does. The numbers are the protobuf `Op` values of proto/log.proto, so decoded
 * entries need no translation.
 */
export const LogOp = {
  /** Set `key` to `value`. */
  Put: 1,
  /** Remove `key`; `value` is empty. */
  Delete: 2,
  /** Remove every key in [`key`, `value`). */
  DeleteRange: 3,
  /** Opens a leadership term (replication); `key` and `value` are empty, no key changes. */
  EpochStart: 4,
} as const;

/** One of the {@link LogOp} values. */
export type LogOp = (typeof LogOp)[keyof typeof LogOp];

/** One event of a batch. Entry i of a batch has seqno `firstSeqno + i`. */
export interface LogEntry {
  readonly op: LogOp;
  readonly key: Uint8Array;
  /** The value for `Put`, the exclusive end key for `DeleteRange`, empty for `Delete`. */
  readonly value: Uint8Array;
  /**
   * `Put` only: the wall-clock deadline (ms since the Unix epoch) after which the value is not
   * served; absent or 0 = never. Absolute, so replicas and replays agree.
   */
  readonly expiresAtMs?: number;
  /** `Delete` only: written by the leader because the key's time to live ended. */
  readonly expired?: boolean;
}

/**
 * A batch to append. The log adds the chained checksum; `timestampMs` defaults to `Date.now()`.
 *
 * @example
 * ```ts
 * await wal.append({
 *   epoch: 1,
 *   firstSeqno: wal.nextSeqno,
 *   entries: [{ op: LogOp.Put, key: Buffer.from('user/1'), value: Buffer.from('{"name":"ada"}') }],
 * });
 * ```
 */
export interface LogBatchInput {
  readonly epoch: number;
  readonly firstSeqno: number;
  readonly timestampMs?: number;
  readonly entries: readonly LogEntry[];
}

/** A batch read back from the log. Keys and values are views into a buffer owned by the batch. */
export interface LogBatch {
  readonly epoch: number;
  readonly firstSeqno: number;
  /** `firstSeqno + entries.length - 1`. */
  readonly lastSeqno: number;
  readonly timestampMs: number;
  /** The chained checksum stored in the record (commits to every record before it). */
  readonly chain: number;
  readonly entries: readonly LogEntry[];
}

/**
 * A record as stored: the exact bytes (`[u32 length][u32 crc32c][payload]`) plus the header fields,
 * without decoding the entries. Replication ships `bytes` unchanged.
 */
export interface LogRecord {
  readonly epoch: number;
  readonly firstSeqno: number;
  readonly lastSeqno: number;
  readonly timestampMs: number;
  readonly chain: number;
  /** CRC-32C of the payload, as stored in the record header. */
  readonly checksum: number;
  /** The whole framed record. A view: copy it if you keep it beyond the iteration. */
  readonly bytes: Buffer;
  /** The segment file holding the record, and the record's offset in it. */
  readonly file: string;
  readonly offset: number;
}
