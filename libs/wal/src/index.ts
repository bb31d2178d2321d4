/**
 * @strata/wal: the write-ahead log. A segmented, checksummed, chained log of batches with group
 * commit, verified replay from any seqno, crash recovery and retention.
 *
 * @packageDocumentation
 */
export { Wal } from './wal.js';
export type {
  AppendResult,
  ReadOptions,
  ReplicatedRecordSummary,
  RetentionResult,
  SegmentInfo,
  VerifyReport,
  WalStatus,
} from './wal.js';
export { LogOp } from './format/log-batch.js';
export type { LogBatch, LogBatchInput, LogEntry, LogRecord } from './format/log-batch.js';
export type { RecoveryMode, RetentionPolicy, SyncMode, WalOptions } from './options.js';
export type { RecoveryReport } from './recovery/recovery.js';
export { describeDamage } from './format/record-scanner.js';
export type { DamageKind } from './format/record-scanner.js';
export { decodeRecord } from './format/batch-codec.js';
export { visitEntries } from './format/fast-decode.js';
export type { EntryVisitor } from './format/fast-decode.js';
export {
  RECORD_HEADER_BYTES,
  INITIAL_CHAIN,
  nextChain,
  newRecordHeader,
  readRecordHeader,
} from './format/record-format.js';
export type { RecordHeader } from './format/record-format.js';
export { segmentFileName, parseSegmentFileName } from './segments/segment-file.js';
