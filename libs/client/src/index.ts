/**
 * @strata/client: a typed HTTP client for a Strata node or cluster. It finds the leader and
 * follows `NOT_LEADER`, retries what is safe to retry within a deadline (never a write that may
 * have been made: `OUTCOME_UNKNOWN`), reads your writes on any node, watches the event log across
 * reconnects and leader changes, and throws {@link StrataClientError}s with the server's codes.
 * Node 20's own `fetch`; no dependencies.
 *
 * @packageDocumentation
 */
export { StrataClient } from './strata-client.js';
export { EventWatch } from './event-watch.js';
export { StrataClientError, isStrataClientError } from './client-error.js';
export type {
  ClientOnlyErrorCode,
  ConflictDetail,
  ServerErrorCode,
  StrataClientErrorCode,
  StrataClientErrorInit,
} from './client-error.js';
export type { RetryOptions, StrataClientOptions } from './client-options.js';
export type { BytesInput } from './bytes.js';
export { fullJitterDelayMs } from './backoff.js';
export type {
  Acks,
  BatchOperation,
  BatchOptions,
  BatchResult,
  Entry,
  GetOptions,
  HistoryOptions,
  HistoryPage,
  KeyRange,
  KeyVersion,
  KeyWriteOptions,
  NodeStatus,
  PrefixCheck,
  RangeItem,
  RangeOptions,
  RangePage,
  ReadOptions,
  WatchEvent,
  WatchOptions,
  WriteOptions,
  WriteResult,
} from './types.js';
