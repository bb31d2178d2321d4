import type { FileSystem } from '@strata/core';
import { MAX_KEY_BYTES, StrataError, nodeFileSystem } from '@strata/core';

/** Block compression codec. `lz4` uses lz4-napi; `none` stores blocks raw. */
export type CompressionType = 'none' | 'lz4';

/** The part of the configuration that shapes the files; it is persisted and recovered on reopen. */
export interface PersistedTreeConfig {
  /** Number of levels, L0 included. Default 7. */
  readonly levelCount: number;
  /** Uncompressed size at which a data block is closed. Default 4 KiB. */
  readonly blockSizeBytes: number;
  /** Entries between restart points inside a data block. Default 16. */
  readonly restartInterval: number;
  /** Bloom filter bits per key; 0 disables filters. Default 10. */
  readonly bloomBitsPerKey: number;
  /** Compression per level (index = level); the last element applies to deeper levels. */
  readonly compressionByLevel: readonly CompressionType[];
}

/**
 * Options of {@link Tree.open}. Persisted options come from disk when a tree is recovered; the
 * others apply to this process only.
 *
 * @example
 * ```ts
 * const tree = await Tree.open('/data/tree', { blockCacheSizeBytes: 32 * 1024 * 1024 });
 * ```
 */
export interface TreeOptions extends Partial<PersistedTreeConfig> {
  /** File system seam; defaults to the real one. */
  readonly fileSystem?: FileSystem;
  /** Capacity of the block cache shared by this tree's segments. Default 64 MiB. */
  readonly blockCacheSizeBytes?: number;
  /**
   * One bound for the tree's memory: memtables, cached data blocks and the loaded index and
   * filter blocks together. When set it replaces `blockCacheSizeBytes`: the cache takes whatever
   * the memtables and index/filter blocks leave (all of it after a reopen, less while writes fill
   * memtables; a growing active memtable is charged at the next block cached). Keeping the
   * memtables themselves within a share of it is the caller's part (a store seals its memtable
   * at a quarter of its budget). Default: unset.
   */
  readonly memoryBudgetBytes?: number;
  /** Most segment files kept open at once. Default 512. */
  readonly maxOpenFiles?: number;
  /** Largest value accepted by insert. Default 64 MiB. */
  readonly maxValueSizeBytes?: number;
  /** Target size of a segment written by compaction. Default 64 MiB. */
  readonly targetSegmentSizeBytes?: number;
  /**
   * Where flush and compaction write files: `worker` off the main thread, `inline` on it, `auto`
   * (default) in a worker for the real file system and inline for any other (a simulated file
   * system cannot cross a thread boundary).
   */
  readonly jobExecution?: 'auto' | 'worker' | 'inline';
  /**
   * The wall clock, in milliseconds since the Unix epoch, that decides whether an expiring value
   * (`Tree.insert` with `expiresAtMs`) has expired: it has once `clock() >= expiresAtMs`. Point
   * reads call it at most once per call, iterators once when created (one instant per scan).
   * Default `Date.now`; tests inject a clock they advance.
   */
  readonly clock?: () => number;
}

/** Resolved configuration of an open tree. */
export interface TreeConfig extends PersistedTreeConfig {
  readonly path: string;
  readonly fileSystem: FileSystem;
  readonly blockCacheSizeBytes: number;
  readonly memoryBudgetBytes: number | undefined;
  readonly maxOpenFiles: number;
  readonly maxValueSizeBytes: number;
  readonly targetSegmentSizeBytes: number;
  readonly jobExecution: 'auto' | 'worker' | 'inline';
  readonly clock: () => number;
}

/** Largest key accepted: the limit every layer shares (64 KiB). */
export const MAX_KEY_SIZE_BYTES = MAX_KEY_BYTES;

/** Defaults of the persisted configuration. */
export const defaultPersistedConfig: PersistedTreeConfig = {
  levelCount: 7,
  blockSizeBytes: 4 * 1024,
  restartInterval: 16,
  bloomBitsPerKey: 10,
  // L0 compressed too (measured, 1M x 116-byte entries, half compressible): disk after a 1M-key
  // fill 66 MiB instead of 108 MiB, at the cost of a decompression per block-cache miss (W5 gets
  // ~48k/s instead of ~76k/s with 3 L0 segments) and more CPU in the flush worker.
  compressionByLevel: ['lz4'],
};

/** Compression used for a level. */
export function compressionForLevel(config: PersistedTreeConfig, level: number): CompressionType {
  const list = config.compressionByLevel;
  return list[Math.min(level, list.length - 1)] ?? 'none';
}

function requireInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `option ${name} must be an integer in [${min}, ${max}], got ${value}`,
    );
  }
}

/** Validates the persisted part of a configuration; throws INVALID_ARGUMENT. */
export function validatePersistedConfig(config: PersistedTreeConfig): void {
  requireInteger('levelCount', config.levelCount, 2, 16);
  requireInteger('blockSizeBytes', config.blockSizeBytes, 64, 16 * 1024 * 1024);
  requireInteger('restartInterval', config.restartInterval, 1, 1024);
  requireInteger('bloomBitsPerKey', config.bloomBitsPerKey, 0, 64);
  if (
    config.compressionByLevel.length === 0 ||
    config.compressionByLevel.some((c) => c !== 'none' && c !== 'lz4')
  ) {
    throw new StrataError('INVALID_ARGUMENT', 'compressionByLevel must list "none" or "lz4"');
  }
}

/** Resolves options into a full configuration (persisted values may later be replaced on recovery). */
export function resolveConfig(path: string, options: TreeOptions): TreeConfig {
  const config: TreeConfig = {
    path,
    levelCount: options.levelCount ?? defaultPersistedConfig.levelCount,
    blockSizeBytes: options.blockSizeBytes ?? defaultPersistedConfig.blockSizeBytes,
    restartInterval: options.restartInterval ?? defaultPersistedConfig.restartInterval,
    bloomBitsPerKey: options.bloomBitsPerKey ?? defaultPersistedConfig.bloomBitsPerKey,
    compressionByLevel: options.compressionByLevel ?? defaultPersistedConfig.compressionByLevel,
    fileSystem: options.fileSystem ?? nodeFileSystem,
    blockCacheSizeBytes: options.blockCacheSizeBytes ?? 64 * 1024 * 1024,
    memoryBudgetBytes: options.memoryBudgetBytes,
    maxOpenFiles: options.maxOpenFiles ?? 512,
    maxValueSizeBytes: options.maxValueSizeBytes ?? 64 * 1024 * 1024,
    targetSegmentSizeBytes: options.targetSegmentSizeBytes ?? 64 * 1024 * 1024,
    jobExecution: options.jobExecution ?? 'auto',
    clock: options.clock ?? Date.now,
  };
  validatePersistedConfig(config);
  requireInteger('blockCacheSizeBytes', config.blockCacheSizeBytes, 0, Number.MAX_SAFE_INTEGER);
  if (config.memoryBudgetBytes !== undefined) {
    requireInteger('memoryBudgetBytes', config.memoryBudgetBytes, 0, Number.MAX_SAFE_INTEGER);
  }
  requireInteger('maxOpenFiles', config.maxOpenFiles, 1, 1_000_000);
  requireInteger('maxValueSizeBytes', config.maxValueSizeBytes, 0, 1024 * 1024 * 1024);
  requireInteger('targetSegmentSizeBytes', config.targetSegmentSizeBytes, 256, 2 ** 31);
  if (typeof config.clock !== 'function') {
    throw new StrataError('INVALID_ARGUMENT', 'option clock must be a function');
  }
  return config;
}

/** The persisted subset of a configuration, as stored in the tree's config file. */
export function persistedPart(config: PersistedTreeConfig): PersistedTreeConfig {
  return {
    levelCount: config.levelCount,
    blockSizeBytes: config.blockSizeBytes,
    restartInterval: config.restartInterval,
    bloomBitsPerKey: config.bloomBitsPerKey,
    compressionByLevel: [...config.compressionByLevel],
  };
}
