/**
 * @strata/wal: the write-ahead log. A segmented, checksummed, chained log of batches with group
 * commit, verified replay from any seqno, crash recovery and retention.
 *
 * @packageDocumentation
 */
export { Wal } from './wal.js';
export type { WalStatus } from './wal.js';
export type { AppendResult } from './write/pending-queue.js';
export type { GroupCommitEvent, LogSyncEvent, LogSyncReason } from './write/log-observers.js';
export type { ReplicatedRecordSummary } from './write/replicated-record.js';
export type { ReadOptions } from './read/read-records.js';
export type { RetentionResult } from './maintenance/drop-segments.js';
export type { TruncateResult } from './maintenance/truncate-after.js';
export type { VerifyReport } from './maintenance/verify-log.js';
export type { SegmentInfo } from './segments/segment-info.js';
export { LogOp } from './format/log-batch.js';
export type { LogBatch, LogBatchInput, LogEntry, LogRecord } from './format/log-batch.js';
export type { RecoveryMode, RetentionPolicy, SyncMode, WalOptions } from './options.js';
export type { RecoveryReport } from './recovery/recovery.js';
export { describeDamage } from './format/record-scanner.js';
export type { DamageKind } from './format/record-scanner.js';
export { decodeRecord } from './format/batch-codec.js';
export { visitEntries } from './format/fast-decode.js';
export type { EntryVisitor, RecordSource } from './format/fast-decode.js';
export {
  RECORD_HEADER_BYTES,
  INITIAL_CHAIN,
  nextChain,
  newRecordHeader,
  readRecordHeader,
} from './format/record-format.js';
export type { RecordHeader } from './format/record-format.js';
export { segmentFileName, parseSegmentFileName } from './segments/segment-file.js';
