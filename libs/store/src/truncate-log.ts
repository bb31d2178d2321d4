import { StrataError } from '@strata/core';
import { inspectTree } from '@strata/engine';
import { Wal } from '@strata/wal';
import { checkOrCreateFormat, dataDirectory } from './data-directory.js';
import { DirectoryLock } from './directory-lock.js';
import { resolveStoreOptions } from './options.js';
import type { StoreOptions } from './options.js';

/**
 * Cuts the log of the closed store in `path` back to `lastKeptSeqno`, as
 * {@link Store.truncateLog} describes: under the directory lock, only when the tree has flushed
 * nothing above the cut.
 *
 * @throws StrataError `DIVERGED` (details.flushedSeqno) when the tree holds seqnos above the cut,
 * `LOCKED`, `UNSUPPORTED_FORMAT`, `CORRUPTION`, `IO_ERROR`.
 */
export async function truncateStoreLog(
  path: string,
  lastKeptSeqno: number,
  options: Pick<StoreOptions, 'fileSystem'> = {},
): Promise<{ droppedFromSeqno: number; droppedEntries: number }> {
  const fs = options.fileSystem ?? resolveStoreOptions().fileSystem;
  const directory = dataDirectory(path);
  const lock = await DirectoryLock.acquire(fs, directory.lockFile);
  try {
    await checkOrCreateFormat(fs, directory);
    const flushedSeqno = (await fs.exists(directory.treeDirectory))
      ? Math.max(0, (await inspectTree(directory.treeDirectory, { fileSystem: fs })).flushedSeqno)
      : 0;
    if (flushedSeqno > lastKeptSeqno) {
      throw new StrataError(
        'DIVERGED',
        `the tree already holds seqnos up to ${flushedSeqno}, beyond the cut at ${lastKeptSeqno}; bootstrap from a checkpoint`,
        { details: { flushedSeqno, lastKeptSeqno } },
      );
    }
    const wal = await Wal.open(directory.walDirectory, {
      fileSystem: fs,
      firstSeqno: flushedSeqno + 1,
    });
    try {
      return await wal.truncateAfter(lastKeptSeqno);
    } finally {
      await wal.close();
    }
  } finally {
    await lock.release();
  }
}
