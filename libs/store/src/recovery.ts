import { StrataError, invariant, isStrataError } from '@strata/core';
import type { FileSystem } from '@strata/core';
import { Tree } from '@strata/engine';
import { Wal, visitEntries } from '@strata/wal';
import { RecordApplier } from './apply/record-applier.js';
import type { BackgroundJobs } from './background-jobs.js';
import type { CommitNotifier } from './commit-notifier.js';
import { checkOrCreateFormat, dataDirectory } from './data-directory.js';
import type { DataDirectory } from './data-directory.js';
import { DirectoryLock } from './directory-lock.js';
import type { ResolvedStoreOptions } from './options.js';

/** What {@link openParts} opened: a store's directory, held, with its tree and its log. */
export interface OpenedParts {
  readonly directory: DataDirectory;
  readonly lock: DirectoryLock;
  readonly tree: Tree;
  readonly wal: Wal;
  /** The highest seqno in the tree's segments (0 when none): the log is replayed above it. */
  readonly flushedSeqno: number;
}

/**
 * The first half of opening a store: takes the directory lock, checks (or writes) the format
 * marker, opens the tree, then the log, which continues after the tree's flushed seqno when it
 * is empty (a new store, or one restored from a checkpoint with nothing unflushed). Whatever was
 * opened is closed again when a later step fails.
 *
 * @throws StrataError `NOT_FOUND` (no store and `createIfMissing` false), `INVALID_ARGUMENT` (a
 * store and `errorIfExists`), `LOCKED`, `UNSUPPORTED_FORMAT`, `CORRUPTION` (naming file and
 * offset), `IO_ERROR`.
 */
export async function openParts(path: string, options: ResolvedStoreOptions): Promise<OpenedParts> {
  const fs = options.fileSystem;
  const directory = dataDirectory(path);
  await checkExistence(fs, directory, options);
  await fs.mkdir(directory.root);
  const lock = await DirectoryLock.acquire(fs, directory.lockFile);
  let tree: Tree | undefined;
  let wal: Wal | undefined;
  try {
    await checkOrCreateFormat(fs, directory);
    tree = await Tree.open(directory.treeDirectory, {
      fileSystem: fs,
      memoryBudgetBytes: options.memoryBudgetBytes,
      maxValueSizeBytes: options.maxValueBytes,
      jobExecution: options.jobExecution,
      clock: options.clock,
    });
    const flushedSeqno = tree.getHighestPersistedSeqno() ?? 0;
    wal = await Wal.open(directory.walDirectory, {
      fileSystem: fs,
      sync: options.sync,
      syncIntervalMs: options.syncIntervalMs,
      segmentSizeBytes: options.walSegmentSizeBytes,
      maxKeyBytes: options.maxKeyBytes,
      maxValueBytes: options.maxValueBytes,
      retention: options.retention,
      recovery: options.pointInTimeRecovery ? 'point-in-time' : 'strict',
      // An empty log (new store, or restored from a checkpoint with nothing unflushed)
      // continues after the tree.
      firstSeqno: flushedSeqno + 1,
    });
    return { directory, lock, tree, wal, flushedSeqno };
  } catch (error) {
    await abandonParts({ lock, tree, wal });
    throw error;
  }
}

/**
 * Applies `createIfMissing` and `errorIfExists` before anything is created: a directory holds a
 * store when it has a format marker (every store writes one when it is created).
 */
async function checkExistence(
  fs: FileSystem,
  directory: DataDirectory,
  options: ResolvedStoreOptions,
): Promise<void> {
  if (options.createIfMissing && !options.errorIfExists) return;
  const exists = await fs.exists(directory.formatFile);
  if (!exists && !options.createIfMissing) {
    throw new StrataError(
      'NOT_FOUND',
      `data directory ${directory.root} does not exist or holds no store (no ${directory.formatFile}), and createIfMissing is false`,
      { details: { file: directory.formatFile } },
    );
  }
  if (exists && options.errorIfExists) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `data directory ${directory.root} already holds a store (it exists), and errorIfExists is true`,
      { details: { file: directory.formatFile } },
    );
  }
}

/** Closes what opening got to, ignoring failures: opening failed already, and that error counts. */
export async function abandonParts(parts: {
  readonly lock: DirectoryLock;
  readonly tree?: Tree | undefined;
  readonly wal?: Wal | undefined;
}): Promise<void> {
  await parts.wal?.close().catch(() => undefined);
  await parts.tree?.close().catch(() => undefined);
  await parts.lock.release().catch(() => undefined);
}

/**
 * The second half of opening a store: replays the log records above the tree's flushed seqno
 * into the memtable (flushing as it fills), straight from their bytes, and advances the applied
 * seqno to the end of the log.
 *
 * @throws StrataError `CORRUPTION` when the log ends below the tree, starts above what recovery
 * needs, or holds a record that cannot be decoded (with file and offset).
 */
export async function replayLog(
  parts: OpenedParts,
  notifier: CommitNotifier,
  jobs: BackgroundJobs,
  memtableSizeBytes: number,
): Promise<void> {
  const { tree, wal, flushedSeqno } = parts;
  const walDirectory = parts.directory.walDirectory;
  if (wal.lastSeqno <= flushedSeqno) {
    if (wal.lastSeqno < flushedSeqno) {
      throw new StrataError(
        'CORRUPTION',
        `the log ends at seqno ${wal.lastSeqno} but the tree holds data up to ${flushedSeqno}`,
        { details: { file: walDirectory, offset: 0 } },
      );
    }
    return;
  }
  const fromSeqno = flushedSeqno + 1;
  if (fromSeqno < wal.firstSeqno) {
    throw new StrataError(
      'CORRUPTION',
      `the log starts at ${wal.firstSeqno}; recovery needs it from ${fromSeqno}`,
      {
        details: { file: walDirectory, offset: 0 },
      },
    );
  }
  const applier = new RecordApplier(tree, flushedSeqno);
  // Entries are copied into the memtable: the reader may refill one buffer (reuseBuffer).
  for await (const record of wal.readRecords({ fromSeqno, reuseBuffer: true })) {
    applier.firstSeqno = record.firstSeqno;
    try {
      // The record as its source: a decoding failure then names the segment file and offset.
      visitEntries(record.bytes, applier, record);
    } catch (error) {
      if (isStrataError(error)) throw error;
      throw new StrataError(
        'CORRUPTION',
        `record at seqno ${record.firstSeqno} cannot be decoded: ${String(error)}`,
        {
          details: { file: record.file, offset: record.offset, seqno: record.firstSeqno },
          cause: error,
        },
      );
    }
    notifier.advance(record.lastSeqno);
    if (tree.activeMemtableSize() >= memtableSizeBytes) {
      void jobs.scheduleFlush();
      await jobs.waitForCapacity();
    }
  }
  invariant(notifier.applied === wal.lastSeqno, 'replay did not reach the end of the log');
  // A close leaves the memtable in the log: one replayed at some size is flushed now, in the
  // background, so that the next open is quick again instead of replaying it once more.
  if (tree.activeMemtableSize() >= memtableSizeBytes / REPLAYED_FLUSH_FRACTION) {
    void jobs.scheduleFlush();
  }
}

/** A replayed memtable over this fraction of the memtable size is flushed after the open. */
const REPLAYED_FLUSH_FRACTION = 8;
