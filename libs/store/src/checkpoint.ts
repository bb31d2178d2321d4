import { StrataError } from '@strata/core';
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
  /** Log entries copied. */
  readonly logEntries: number;
}

/** Options of {@link Store.checkpoint}. */
export interface CheckpointOptions {
  /**
   * Which part of the log the copy holds: `tail` (default) from the tree's flushed seqno on, what
   * opening the copy needs; `retained`, every record the log still holds (from
   * {@link Store.firstRetainedSeqno}), so the copy keeps the event history too (a backup).
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
    if (seqno > 0) {
      const fromSeqno =
        options.log === 'retained'
          ? wal.firstSeqno
          : Math.max(wal.firstSeqno, Math.min(treeSeqno + 1, seqno));
      let copy: Wal | undefined;
      try {
        for await (const record of wal.readRecords({ fromSeqno, toSeqno: seqno })) {
          copy ??= await Wal.open(target.walDirectory, {
            fileSystem: fs,
            sync: 'none',
            firstSeqno: record.firstSeqno,
          });
          await copy.appendRecord(record.bytes);
          logEntries += record.lastSeqno - record.firstSeqno + 1;
        }
        await copy?.sync();
      } finally {
        await copy?.close();
      }
    }
    await fs.syncDirectory(target.root);
    return { directory: targetDirectory, seqno, treeSeqno, logEntries };
  } finally {
    unpin();
  }
}
