import { MAX_KEY_BYTES, StrataError, nodeFileSystem } from '@strata/core';
import type { FileSystem } from '@strata/core';
import type { CompactionStrategy } from '@strata/engine';
import { LeveledStrategy } from '@strata/engine';
import type { RetentionPolicy, SyncMode } from '@strata/wal';
import type { ScrubOptions } from './scrub/scrub-types.js';

/** Options of {@link Store.open}. Every field has a default. */
export interface StoreOptions {
  /**
   * Create the store when the directory holds none (no `FORMAT` file). Default true; false
   * makes opening a missing store fail with `NOT_FOUND` and create nothing.
   */
  readonly createIfMissing?: boolean;
  /** Fail with `INVALID_ARGUMENT` when the directory already holds a store. Default false. */
  readonly errorIfExists?: boolean;
  /** When a write resolves: `always` (default, after fdatasync), `interval`, `none`. */
  readonly sync?: SyncMode;
  /** Background fdatasync period under `interval`. Default 100 ms. */
  readonly syncIntervalMs?: number;
  /**
   * The store's memory: memtables, cached data blocks and the tree's index and filter blocks,
   * all charged to this one bound. The active memtable is sealed at a quarter of it (see
   * `memtableSizeBytes`) and at most two sealed ones wait for their flush, so memtables take at
   * most three quarters; the block cache takes whatever they and the index and filter blocks
   * leave (nearly all of it after a reopen). Default 256 MiB. Buffers outside the tree (the log's
   * write buffer, `recentRecordsBytes`, the deadlines of expiring keys) are not in it.
   */
  readonly memoryBudgetBytes?: number;
  /**
   * The active memtable is sealed and flushed at this size. Default: a quarter of
   * `memoryBudgetBytes` (64 MiB). Smaller memtables flush more often into smaller segments.
   */
  readonly memtableSizeBytes?: number;
  /**
   * Writes wait while this many sealed memtables await their flush. Default 2: with the default
   * budget that bounds memtable memory to 192 MiB while a flush catches up.
   */
  readonly maxSealedMemtables?: number;
  /** Writes are slowed (yield between write groups) from this many level-0 segments. Default 20. */
  readonly level0SlowdownSegments?: number;
  /** Writes wait for compaction from this many level-0 segments. Default 36. */
  readonly level0StopSegments?: number;
  /** Compaction strategy run after flushes. Default: leveled. */
  readonly compactionStrategy?: CompactionStrategy;
  /** Largest key. Default and ceiling: `MAX_KEY_BYTES` of @strata/core (64 KiB). */
  readonly maxKeyBytes?: number;
  /** Largest value. Default 64 MiB. */
  readonly maxValueBytes?: number;
  /** Which flushed log segments to drop. Default `keep-all`: the log is the event history. */
  readonly retention?: RetentionPolicy;
  /** Log segment size. Default 64 MiB. */
  readonly walSegmentSizeBytes?: number;
  /** Epoch of writes on a new store (replication raises it). Default 1. */
  readonly epoch?: number;
  /**
   * How many of the most recent seqnos stay readable with `at`: older versions are kept by
   * compaction for this window; reads below it fail with HISTORY_TRUNCATED (replay the log for
   * older history). Default 1,000,000.
   */
  readonly historyRetentionSeqnos?: number;
  /** Bytes of recent committed records kept in memory for change-feed subscribers. Default 8 MiB. */
  readonly recentRecordsBytes?: number;
  /** Open the log with point-in-time recovery (stop at the first damage) instead of failing. */
  readonly pointInTimeRecovery?: boolean;
  /** The file-system seam (tests inject faults through it). Default: the real one. */
  readonly fileSystem?: FileSystem;
  /** Where the tree runs flush and compaction: see the engine's `jobExecution`. Default `auto`. */
  readonly jobExecution?: 'auto' | 'worker' | 'inline';
  /**
   * The wall clock in milliseconds since the Unix epoch: it sets the deadline of a put with
   * `ttlMs` and decides when that value stops being served. Default `Date.now`; tests pass a clock
   * they advance.
   */
  readonly clock?: () => number;
  /**
   * Whether this store writes the expiry events (deletes marked `expired`) of keys whose time to
   * live ended. Default true; a replicated node opens with false and enables it while it leads
   * (`Store.setExpiryWrites`), since followers receive the leader's expiry events.
   */
  readonly expiryWrites?: boolean;
  /**
   * Deadlines of expiring keys held in memory to find the next expiries. Beyond it, the later
   * deadlines are found again from the tree's expiry blocks when their time comes. Default
   * 1,000,000 (about 100 MiB at most with 32-byte keys).
   */
  readonly maxDeadlinesInMemory?: number;
  /**
   * A background scrub that re-reads sealed log segments and tree segments at a bounded rate and
   * reports damage with file and offset (`Store.scrubStatus()`). Default `false` (off).
   */
  readonly scrub?: ScrubOptions | false;
}

/** {@link StoreOptions} with defaults applied. */
export type ResolvedStoreOptions = Required<StoreOptions>;

const MIB = 1024 * 1024;

/** Applies defaults and checks ranges (INVALID_ARGUMENT). */
export function resolveStoreOptions(options: StoreOptions = {}): ResolvedStoreOptions {
  const memoryBudgetBytes = options.memoryBudgetBytes ?? 256 * MIB;
  if (!Number.isSafeInteger(memoryBudgetBytes) || memoryBudgetBytes < 1) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `memoryBudgetBytes must be a positive integer, got ${memoryBudgetBytes}`,
    );
  }
  const resolved: ResolvedStoreOptions = {
    createIfMissing: options.createIfMissing ?? true,
    errorIfExists: options.errorIfExists ?? false,
    sync: options.sync ?? 'always',
    syncIntervalMs: options.syncIntervalMs ?? 100,
    memoryBudgetBytes,
    memtableSizeBytes: options.memtableSizeBytes ?? Math.max(1, Math.floor(memoryBudgetBytes / 4)),
    maxSealedMemtables: options.maxSealedMemtables ?? 2,
    level0SlowdownSegments: options.level0SlowdownSegments ?? 20,
    level0StopSegments: options.level0StopSegments ?? 36,
    compactionStrategy: options.compactionStrategy ?? new LeveledStrategy(),
    maxKeyBytes: options.maxKeyBytes ?? MAX_KEY_BYTES,
    maxValueBytes: options.maxValueBytes ?? 64 * MIB,
    retention: options.retention ?? { kind: 'keep-all' },
    walSegmentSizeBytes: options.walSegmentSizeBytes ?? 64 * MIB,
    epoch: options.epoch ?? 1,
    recentRecordsBytes: options.recentRecordsBytes ?? 8 * MIB,
    historyRetentionSeqnos: options.historyRetentionSeqnos ?? 1_000_000,
    pointInTimeRecovery: options.pointInTimeRecovery ?? false,
    fileSystem: options.fileSystem ?? nodeFileSystem,
    jobExecution: options.jobExecution ?? 'auto',
    clock: options.clock ?? Date.now,
    expiryWrites: options.expiryWrites ?? true,
    maxDeadlinesInMemory: options.maxDeadlinesInMemory ?? 1_000_000,
    scrub: options.scrub ?? false,
  };
  if (typeof resolved.clock !== 'function') {
    throw new StrataError('INVALID_ARGUMENT', 'clock must be a function');
  }
  const positive: [string, number][] = [
    ['memtableSizeBytes', resolved.memtableSizeBytes],
    ['maxSealedMemtables', resolved.maxSealedMemtables],
    ['level0SlowdownSegments', resolved.level0SlowdownSegments],
    ['level0StopSegments', resolved.level0StopSegments],
    ['epoch', resolved.epoch],
    ['maxDeadlinesInMemory', resolved.maxDeadlinesInMemory],
  ];
  for (const [name, value] of positive) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new StrataError('INVALID_ARGUMENT', `${name} must be a positive integer, got ${value}`);
    }
  }
  if (
    !Number.isSafeInteger(resolved.historyRetentionSeqnos) ||
    resolved.historyRetentionSeqnos < 0
  ) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      'historyRetentionSeqnos must be a non-negative integer',
    );
  }
  if (resolved.scrub !== false) {
    const { rateBytesPerSecond, periodMs, startDelayMs } = resolved.scrub;
    for (const [name, value] of Object.entries({ rateBytesPerSecond, periodMs, startDelayMs })) {
      if (
        value !== undefined &&
        !(Number.isFinite(value) && value >= (name === 'rateBytesPerSecond' ? 1 : 0))
      ) {
        throw new StrataError(
          'INVALID_ARGUMENT',
          `scrub.${name} must be a ${name === 'rateBytesPerSecond' ? 'positive' : 'non-negative'} number, got ${String(value)}`,
        );
      }
    }
  }
  if (resolved.level0StopSegments < resolved.level0SlowdownSegments) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      'level0StopSegments must be at least level0SlowdownSegments',
    );
  }
  return resolved;
}
