/**
 * @strata/wal: the write-ahead log. A segmented, checksummed, chained log of batches with group
 * commit, verified replay from any seqno, crash recovery and retention.
 *
 * What other packages and users call: the {@link Wal} with its options and results, the batch and
 * record types, and the record decoders that work on a record's bytes (a follower's, the change
 * feed's, the store's replay).
 *
 * @packageDocumentation
 */

// The log, its options and what its methods return.
export { Wal } from './wal.js';
export type { WalStatus } from './wal.js';
export type { RecoveryMode, RetentionPolicy, SyncMode, WalOptions } from './options.js';
export type { RecoveryReport } from './recovery/recovery.js';
export type { AppendResult } from './write/pending-queue.js';
export type { ReplicatedRecordSummary } from './write/replicated-record.js';
export type { GroupCommitEvent, LogSyncEvent, LogSyncReason } from './write/log-observers.js';
export type { ReadOptions } from './read/read-records.js';
export type { RetentionResult } from './maintenance/drop-segments.js';
export type { TruncateResult } from './maintenance/truncate-after.js';
export type { VerifyReport } from './maintenance/verify-log.js';
export type { SegmentInfo } from './segments/segment-info.js';

// Batches and records.
export { LogOp } from './format/log-batch.js';
export type { LogBatch, LogBatchInput, LogEntry, LogRecord } from './format/log-batch.js';
export { describeDamage } from './format/record-scanner.js';
export type { DamageKind } from './format/record-scanner.js';

// Decoding a record's bytes.
export { decodeRecord } from './format/batch-codec.js';
export { visitEntries } from './format/fast-decode.js';
export type { EntryVisitor, RecordSource } from './format/fast-decode.js';
export { RECORD_HEADER_BYTES, newRecordHeader, readRecordHeader } from './format/record-format.js';
export type { RecordHeader } from './format/record-format.js';
