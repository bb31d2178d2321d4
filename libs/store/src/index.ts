/**
 * @strata/store: the durable key-value store. Joins the write-ahead log and the LSM engine:
 * seqno assignment, group-committed durable writes, recovery, background flush and compaction,
 * snapshot reads, the change feed and replicated appends.
 *
 * @packageDocumentation
 */
export { Store } from './store.js';
export type { BatchOptions, PutOptions, StoreStats, StoreStatus, WriteOptions } from './store.js';
export type { Conflict, PrefixCheck } from './write/conditions.js';
export type { ChangeBatch, SubscribeOptions } from './change-feed/change-feed.js';
export type { CheckpointOptions, CheckpointResult } from './checkpoint.js';
export type { RangeOptions, ReadOptions } from './read/range-read.js';
export type { HistoryOptions, HistoryPage, KeyVersion } from './read/key-history.js';
export { HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT } from './read/key-history.js';
export { MAX_TTL_MS } from './write/log-entries.js';
export type { BatchOperation, KeyRangeToDelete } from './write/log-entries.js';
export type { BatchResult, ReplicatedResult, WriteResult } from './write/write-path.js';
export { StoreIterator } from './read/store-iterator.js';
export { StoreSnapshot } from './read/store-snapshot.js';
export { UNCLOSED_STORE_WARNING } from './unclosed-stores.js';
export type { RangeItem } from './read/store-iterator.js';
export type { StoreOptions } from './options.js';
export type { BytesLike } from './input.js';
export type { BackgroundStats } from './background-jobs.js';
export type { GroupCommitEvent, LogSyncEvent, LogSyncReason } from '@strata/wal';
export type {
  CompactionEvent,
  ExpiryEvent,
  FlushEvent,
  StallEvent,
  StoreEventListener,
  StoreEventMap,
  StoreEventName,
  StoreEvents,
} from './store-events.js';
export type { LogCheckOptions, LogCheckReport, LogDamage } from './log-check.js';
export type { ScrubDamage, ScrubOptions, ScrubStatus } from './scrub/scrub-types.js';
export { SCRUB_DEFAULTS } from './scrub/scrub-types.js';
export type { CloseStep, CloseStepFailure } from './close-steps.js';
export {
  DATA_DIRECTORY_NAMES,
  DATA_FORMAT_VERSION,
  SUPPORTED_DATA_FORMAT_VERSIONS,
  dataDirectory,
} from './data-directory.js';
export type { DataDirectory } from './data-directory.js';
