import { basename, join } from 'node:path';
import { StrataError, ioError } from '@strata/core';
import type { FileSystem } from '@strata/core';
import type { Tree } from '@strata/engine';
import { Wal } from '@strata/wal';
import type { BackgroundJobs } from './background-jobs.js';
import type { CommitNotifier } from './commit-notifier.js';
import { checkOrCreateFormat, dataDirectory } from './data-directory.js';

/** What {@link Store.checkpoint} made. */
export interface CheckpointResult {
  readonly directory: string;
  /** The copy holds every write up to this seqno. */
  readonly seqno: number;
  /** Writes up to this seqno are in the copied segments; the rest is in the copied log. */
  readonly treeSeqno: number;
  /** Log entries the copy holds (linked and copied). */
  readonly logEntries: number;
  /** Sealed log segments shared with the store by hard links (`log: 'retained'`), not copied. */
  readonly linkedLogSegments: number;
}

/** Options of {@link Store.checkpoint}. */
export interface CheckpointOptions {
  /**
   * Which part of the log the copy holds: `tail` (default) from the tree's flushed seqno on, what
   * opening the copy needs; `retained`, every record the log still holds (from
   * {@link Store.firstRetainedSeqno}), so the copy keeps the event history too (a backup). Its
   * sealed segments are hard links to the store's (on the same file system), not copies: a log
   * copies a segment it shares before it writes into it or cuts it, so neither side changes the
   * other's.
   */
  readonly log?: 'tail' | 'retained';
}

/** The parts of an open store a checkpoint copies from. */
export interface CheckpointSource {
  readonly fileSystem: FileSystem;
  readonly tree: Tree;
  readonly wal: Wal;
  readonly jobs: BackgroundJobs;
  readonly notifier: CommitNotifier;
}

/**
 * Writes a consistent copy of an open store into `targetDirectory` (new or empty), as
 * {@link Store.checkpoint} describes: the tree's checkpoint (hard links of its segments and its
 * manifest), then the log from the segments' flushed seqno (or, with `log: 'retained'`, from its
 * first retained record) to the applied head, with log retention held off meanwhile.
 *
 * @throws StrataError `INVALID_ARGUMENT` when the target is not empty, `IO_ERROR`.
 */
export async function writeCheckpoint(
  source: CheckpointSource,
  targetDirectory: string,
  options: CheckpointOptions = {},
): Promise<CheckpointResult> {
  const { fileSystem: fs, tree, wal, jobs, notifier } = source;
  if ((await fs.exists(targetDirectory)) && (await fs.readdir(targetDirectory)).length > 0) {
    throw new StrataError('INVALID_ARGUMENT', `checkpoint target ${targetDirectory} is not empty`);
  }
  const target = dataDirectory(targetDirectory);
  await checkOrCreateFormat(fs, target);
  const unpin = jobs.pinLog();
  try {
    const treeSeqno = (await tree.checkpoint(target.treeDirectory)) ?? 0;
    const seqno = notifier.applied;
    let logEntries = 0;
    let linkedLogSegments = 0;
    if (seqno > 0) {
      const fromSeqno =
        options.log === 'retained'
          ? wal.firstSeqno
          : Math.max(wal.firstSeqno, Math.min(treeSeqno + 1, seqno));
      // Whole sealed segments are linked (a backup of a long history costs no copy of it); the
      // rest is copied record by record from where they end.
      const linked =
        options.log === 'retained'
          ? await linkSealedSegments(fs, wal, target.walDirectory, fromSeqno, seqno)
          : { segments: 0, lastSeqno: fromSeqno - 1 };
      linkedLogSegments = linked.segments;
      logEntries = linked.lastSeqno - fromSeqno + 1;
      let copy: Wal | undefined;
      try {
        if (linked.lastSeqno < seqno) {
          const records = wal.readRecords({ fromSeqno: linked.lastSeqno + 1, toSeqno: seqno });
          for await (const record of records) {
            // Over linked segments the copy continues the last one, which opening the copy's log
            // turns into a copy of its own (makeSegmentPrivate in @strata/wal): at most one
            // segment is copied whole. Alone, the copy starts at the first record copied.
            if (copy === undefined) {
              copy = await Wal.open(target.walDirectory, {
                fileSystem: fs,
                sync: 'none',
                ...(linked.segments > 0 ? {} : { firstSeqno: record.firstSeqno }),
              });
              if (linked.segments > 0) linkedLogSegments--;
            }
            await copy.appendRecord(record.bytes);
            logEntries += record.lastSeqno - record.firstSeqno + 1;
          }
        }
        await copy?.sync();
      } finally {
        await copy?.close();
      }
    }
    await fs.syncDirectory(target.root);
    return { directory: targetDirectory, seqno, treeSeqno, logEntries, linkedLogSegments };
  } finally {
    unpin();
  }
}

/**
 * Hard-links the store's sealed log segments that run on without a gap from `fromSeqno` and end
 * at or below `toSeqno` into `walDirectory`, then fsyncs that directory. Each is fdatasynced
 * first: the log syncs a segment when it seals it, so this costs nothing then, and the copy's
 * durability does not rest on that detail. The log is pinned, so retention drops none meanwhile,
 * and a cut-back needs the store closed (under its lock), so none can run either; a size that
 * changed since the listing would still end the run, and what follows be copied.
 */
async function linkSealedSegments(
  fs: FileSystem,
  wal: Wal,
  walDirectory: string,
  fromSeqno: number,
  toSeqno: number,
): Promise<{ segments: number; lastSeqno: number }> {
  let lastSeqno = fromSeqno - 1;
  let segments = 0;
  for (const segment of wal.segments()) {
    if (segment.active || segment.lastSeqno === undefined) break;
    if (segment.firstSeqno !== lastSeqno + 1 || segment.lastSeqno > toSeqno) break;
    try {
      const handle = await fs.open(segment.path, 'read');
      try {
        await handle.datasync();
      } finally {
        await handle.close();
      }
      if ((await fs.stat(segment.path)).sizeBytes !== segment.sizeBytes) break;
      if (segments === 0) await fs.mkdir(walDirectory);
      await fs.link(segment.path, join(walDirectory, basename(segment.path)));
    } catch (error) {
      throw ioError('link log segment', segment.path, error);
    }
    lastSeqno = segment.lastSeqno;
    segments++;
  }
  if (segments > 0) {
    try {
      await fs.syncDirectory(walDirectory);
    } catch (error) {
      throw ioError('fsync directory', walDirectory, error);
    }
  }
  return { segments, lastSeqno };
}
