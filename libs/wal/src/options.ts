import { MAX_KEY_BYTES, StrataError, nodeFileSystem } from '@strata/core';
import type { FileSystem } from '@strata/core';

/**
 * When an append resolves:
 * - `always`: after the group's write and fdatasync (the default; nothing acknowledged is lost).
 * - `interval`: after the write; an fdatasync runs every `syncIntervalMs`, bounding what a power
 *   loss can take to that window.
 * - `none`: after the write; flushing is left to the OS (a process crash loses nothing, a power
 *   loss may).
 */
export type SyncMode = 'always' | 'interval' | 'none';

/**
 * Which segments below the seqno that recovery needs may be deleted.
 * - `keep-all`: none; the log is the event history (the default).
 * - `max-bytes`: the oldest, until the log is at most `maxBytes`.
 * - `max-age`: those last written more than `maxAgeMs` ago.
 */
export type RetentionPolicy =
  | { readonly kind: 'keep-all' }
  | { readonly kind: 'max-bytes'; readonly maxBytes: number }
  | { readonly kind: 'max-age'; readonly maxAgeMs: number };

/**
 * How `open` treats damage.
 * - `strict` (default): a torn tail (what a crash during an append leaves: an incomplete last
 *   record, maybe followed by zeros, or zeros after the last record) is cut and reported; any other
 *   checksum, structure, chain or sequence problem, including a complete last record whose
 *   checksum fails, fails open with CORRUPTION naming file and offset.
 * - `point-in-time`: every segment is verified; at the first damage the log is cut there, later
 *   segments are moved into `dropped-<time>/`, and the report says what was dropped.
 */
export type RecoveryMode = 'strict' | 'point-in-time';

/** Options of {@link Wal.open}. Every field has a default. */
export interface WalOptions {
  /** Default `always`. */
  readonly sync?: SyncMode;
  /**
   * How `always` makes a group durable: `dsync` opens segments with O_DSYNC (one system call per
   * group), `fdatasync` writes and then calls fdatasync. Default `dsync`: on ext4 here it cut
   * the latency per group by about a third (medians of alternating runs, 1 to 64 writers).
   */
  readonly syncMethod?: 'dsync' | 'fdatasync';
  /** Period of the background fdatasync under `interval`. Default 100 ms. */
  readonly syncIntervalMs?: number;
  /**
   * Under `none` and `interval`: a background fdatasync starts whenever this many bytes were
   * written since the last one started, so the dirty part of the log stays bounded and the
   * fdatasync a close (or a flush's `syncThrough`) must wait for has little left to write. Writes
   * never wait for it; a failure is fail-stop like any fdatasync. 0 turns it off. Default 4 MiB.
   */
  readonly syncEveryBytes?: number;
  /** A new segment starts once the active one reaches this size. Default 64 MiB. */
  readonly segmentSizeBytes?: number;
  /** Most bytes written by one group commit (one write, one fdatasync). Default 4 MiB. */
  readonly maxGroupBytes?: number;
  /**
   * Most encoded bytes waiting to be written; further appends wait (in order) until the writer
   * catches up. Default 64 MiB.
   */
  readonly maxPendingBytes?: number;
  /** Default and ceiling: `MAX_KEY_BYTES` of @strata/core (64 KiB). */
  readonly maxKeyBytes?: number;
  /** Default 64 MiB. */
  readonly maxValueBytes?: number;
  /** Largest framed record. Default 256 MiB. */
  readonly maxRecordBytes?: number;
  /** Default `keep-all`. */
  readonly retention?: RetentionPolicy;
  /** Default `strict`. */
  readonly recovery?: RecoveryMode;
  /**
   * `tail` (default) verifies the segments a restart can have damaged (the last one, and any
   * empty ones before it); older segments are verified as they are read and by {@link Wal.verify}.
   * `full` verifies every segment on open.
   */
  readonly verifyOnOpen?: 'tail' | 'full';
  /**
   * Open without ever writing: a torn tail is treated as the end of the log instead of being cut,
   * nothing is created, truncated or removed, and appends fail with READ_ONLY. Safe next to a
   * process that has the log open for writing. Default false.
   */
  readonly readOnly?: boolean;
  /** Seqno of the first append when the log is empty. Default 1. */
  readonly firstSeqno?: number;
  /** The file-system seam. Default: the real one. */
  readonly fileSystem?: FileSystem;
  /** Distance between entries of the in-memory seek index. Default 64 KiB. */
  readonly indexIntervalBytes?: number;
  /** Size of the buffer that readers fill per read call. Default 1 MiB. */
  readonly readChunkBytes?: number;
  /** Clock for segment ages (age-based retention). Default `Date.now`. */
  readonly now?: () => number;
  /**
   * The creation of the log's directory, still being made durable by the caller: settles once
   * the directory's name (and whatever else the caller created with it, a new store's other
   * files) is on stable storage. The first segment's creation waits for it as for its own
   * directory fsync, so no append is acknowledged before it; a rejection fails that creation
   * (the log fail-stops). Default: nothing to wait for.
   *
   * @example
   * ```ts
   * await fs.mkdir('/data/wal');
   * const wal = await Wal.open('/data/wal', { directoryCreation: fs.syncDirectory('/data') });
   * ```
   */
  readonly directoryCreation?: Promise<void>;
}

/** {@link WalOptions} with every default applied. */
export type ResolvedWalOptions = Required<WalOptions>;

const MIB = 1024 * 1024;

/** Applies defaults and checks ranges; throws INVALID_ARGUMENT on a bad option. */
export function resolveWalOptions(options: WalOptions = {}): ResolvedWalOptions {
  const resolved: ResolvedWalOptions = {
    sync: options.sync ?? 'always',
    syncMethod: options.syncMethod ?? 'dsync',
    syncIntervalMs: options.syncIntervalMs ?? 100,
    syncEveryBytes: options.syncEveryBytes ?? 4 * MIB,
    segmentSizeBytes: options.segmentSizeBytes ?? 64 * MIB,
    maxGroupBytes: options.maxGroupBytes ?? 4 * MIB,
    maxPendingBytes: options.maxPendingBytes ?? 64 * MIB,
    maxKeyBytes: options.maxKeyBytes ?? MAX_KEY_BYTES,
    maxValueBytes: options.maxValueBytes ?? 64 * MIB,
    maxRecordBytes: options.maxRecordBytes ?? 256 * MIB,
    retention: options.retention ?? { kind: 'keep-all' },
    recovery: options.recovery ?? 'strict',
    verifyOnOpen: options.verifyOnOpen ?? 'tail',
    firstSeqno: options.firstSeqno ?? 1,
    readOnly: options.readOnly ?? false,
    fileSystem: options.fileSystem ?? nodeFileSystem,
    indexIntervalBytes: options.indexIntervalBytes ?? 64 * 1024,
    readChunkBytes: options.readChunkBytes ?? MIB,
    now: options.now ?? Date.now,
    directoryCreation: options.directoryCreation ?? Promise.resolve(),
  };
  if (!['always', 'interval', 'none'].includes(resolved.sync)) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `sync must be always, interval or none, got ${String(resolved.sync)}`,
    );
  }
  if (!['dsync', 'fdatasync'].includes(resolved.syncMethod)) {
    throw new StrataError('INVALID_ARGUMENT', `syncMethod must be dsync or fdatasync`);
  }
  if (resolved.readOnly && resolved.recovery === 'point-in-time') {
    throw new StrataError(
      'INVALID_ARGUMENT',
      'point-in-time recovery rewrites the log; it cannot run read-only',
    );
  }
  if (!['strict', 'point-in-time'].includes(resolved.recovery)) {
    throw new StrataError('INVALID_ARGUMENT', `recovery must be strict or point-in-time`);
  }
  requireInteger('syncIntervalMs', resolved.syncIntervalMs, 1, 60_000);
  requireInteger('syncEveryBytes', resolved.syncEveryBytes, 0, 1024 * 1024 * MIB);
  requireInteger('segmentSizeBytes', resolved.segmentSizeBytes, 4096, 1024 * MIB);
  requireInteger('maxGroupBytes', resolved.maxGroupBytes, 4096, 1024 * MIB);
  requireInteger('maxPendingBytes', resolved.maxPendingBytes, resolved.maxGroupBytes, 4096 * MIB);
  requireInteger('maxKeyBytes', resolved.maxKeyBytes, 1, MAX_KEY_BYTES);
  requireInteger('maxValueBytes', resolved.maxValueBytes, 0, 1024 * MIB);
  requireInteger('maxRecordBytes', resolved.maxRecordBytes, 64, 2047 * MIB);
  requireInteger('firstSeqno', resolved.firstSeqno, 1, Number.MAX_SAFE_INTEGER);
  requireInteger('indexIntervalBytes', resolved.indexIntervalBytes, 1, 64 * MIB);
  requireInteger('readChunkBytes', resolved.readChunkBytes, 64, 256 * MIB);
  const retention = resolved.retention;
  if (retention.kind === 'max-bytes')
    requireInteger('retention.maxBytes', retention.maxBytes, 0, Number.MAX_SAFE_INTEGER);
  else if (retention.kind === 'max-age')
    requireInteger('retention.maxAgeMs', retention.maxAgeMs, 0, Number.MAX_SAFE_INTEGER);
  else if (retention.kind !== 'keep-all')
    throw new StrataError('INVALID_ARGUMENT', 'unknown retention policy');
  return resolved;
}

function requireInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `${name} must be an integer in [${min}, ${max}], got ${value}`,
    );
  }
}
