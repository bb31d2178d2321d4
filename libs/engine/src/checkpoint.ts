import { posix } from 'node:path';
import { StrataError, ioError } from '@strata/core';
import type { TreeConfig } from './config.js';
import { SEGMENTS_FOLDER, segmentPath } from './file-names.js';
import { highestPersistedSeqno } from './levels/version-set.js';
import type { VersionSet } from './levels/version-set.js';
import { treeExists, writeTreeFiles } from './recovery.js';

/**
 * Writes a consistent copy of the tree's current segments to `targetPath` (a new or empty folder
 * on the same file system), openable with `Tree.open`: hard links of the current version's
 * segment files (no data is copied; the files are immutable), the persisted config, and a
 * manifest listing exactly those segments, all written durably as a new tree is (config and
 * manifest fdatasynced with the segments' folder fsynced, then the marker, the commit point,
 * renamed into place and the folders fsynced: see writeTreeFiles). The version is pinned while linking, so a
 * concurrent compaction cannot delete a file before it is linked.
 *
 * Returns the copy's flushed seqno, or `undefined` when it is empty.
 *
 * @throws StrataError `INVALID_ARGUMENT` when `targetPath` already holds a tree, `IO_ERROR`.
 *
 * @example
 * ```ts
 * const flushedSeqno = await writeCheckpoint(config, versions, '/backups/tree-1');
 * ```
 */
export async function writeCheckpoint(
  config: TreeConfig,
  versions: VersionSet,
  targetPath: string,
): Promise<number | undefined> {
  const fs = config.fileSystem;
  // Taken together, synchronously: the version, its flushed seqno and the id counter agree.
  const version = versions.current;
  const flushedSeqno = versions.flushedSeqno;
  const nextSegmentId = versions.nextSegmentId;
  version.acquire();
  try {
    if (await treeExists(fs, targetPath)) {
      throw new StrataError('INVALID_ARGUMENT', `${targetPath} already holds a tree`, {
        details: { path: targetPath },
      });
    }
    const folder = posix.join(targetPath, SEGMENTS_FOLDER);
    try {
      await fs.mkdir(folder);
    } catch (error) {
      throw ioError('mkdir', folder, error);
    }
    for (const segment of version.allSegments()) {
      const target = segmentPath(targetPath, segment.id);
      try {
        await fs.link(segment.path, target);
      } catch (error) {
        throw ioError('link', target, error);
      }
    }
    // writeTreeFiles fsyncs the segments folder (making the links durable) before it writes the
    // marker, and the marker last: a crash before it leaves no openable (half) copy.
    await writeTreeFiles(fs, targetPath, config, {
      nextSegmentId,
      flushedSeqno,
      levels: version.levels.map((level) => level.map((s) => s.meta)),
    });
    return highestPersistedSeqno(version, flushedSeqno);
  } finally {
    version.release();
  }
}
