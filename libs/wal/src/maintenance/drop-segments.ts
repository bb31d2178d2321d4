import { errnoOf, ioError } from '@strata/core';
import type { FileSystem } from '@strata/core';
import type { ResolvedWalOptions } from '../options.js';
import { removeSeekIndexFile } from '../segments/seek-index-file.js';
import type { SegmentFile } from '../segments/segment-file.js';
import type { FailStop } from '../write/active-segment.js';
import { segmentsToDrop } from './retention.js';

/** What `Wal.dropBefore` removed. */
export interface RetentionResult {
  readonly droppedFiles: readonly string[];
  readonly droppedBytes: number;
  /** The first seqno still in the log afterwards. */
  readonly firstSeqno: number;
}

/**
 * Removes the oldest segments of `segmentList` (changed in place) that the retention policy lets
 * go below `neededFromSeqno` (see `Wal.dropBefore`), each with its sidecar, then fsyncs the
 * directory (a failure of that fsync is fail-stop). Returns the dropped segments.
 */
export async function dropSegments(
  fs: FileSystem,
  directory: string,
  segmentList: SegmentFile[],
  neededFromSeqno: number,
  options: ResolvedWalOptions,
  failStop: FailStop,
): Promise<SegmentFile[]> {
  const count = segmentsToDrop(segmentList, neededFromSeqno, options.retention, options.now());
  const dropped = segmentList.splice(0, count);
  for (const segment of dropped) {
    // The sidecar goes first, so none outlives its segment; one left behind by a failure here
    // matches no segment, so no reader uses it, and the next writable open removes it.
    await removeSeekIndexFile(fs, segment).catch(() => undefined);
    try {
      await fs.unlink(segment.path);
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT') throw ioError('unlink', segment.path, error);
    }
  }
  if (dropped.length > 0) {
    try {
      await fs.syncDirectory(directory);
    } catch (error) {
      throw failStop(
        ioError('fsync directory', directory, error),
        'syncing the log directory after dropping segments failed',
      );
    }
  }
  return dropped;
}
