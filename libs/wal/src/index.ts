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
export { LogOp } from './log-batch.js';
export type { LogBatch, LogBatchInput, LogEntry, LogRecord } from './log-batch.js';
export type { RecoveryMode, RetentionPolicy, SyncMode, WalOptions } from './options.js';
export type { RecoveryReport } from './recovery.js';
export { describeDamage } from './record-scanner.js';
export type { DamageKind } from './record-scanner.js';
export { decodeRecord } from './batch-codec.js';
export { visitEntries } from './fast-decode.js';
export type { EntryVisitor } from './fast-decode.js';
export {
  RECORD_HEADER_BYTES,
  INITIAL_CHAIN,
  nextChain,
  newRecordHeader,
  readRecordHeader,
} from './record-format.js';
export type { RecordHeader } from './record-format.js';
export { segmentFileName, parseSegmentFileName } from './segment-file.js';
