import { corruptionError } from '@strata/core';
import type { FileSystem } from '@strata/core';
import type { LogTail } from '../format/log-tail.js';
import type { ResolvedWalOptions } from '../options.js';
import { verifySegment } from '../recovery/recovery.js';
import type { SegmentFile } from '../segments/segment-file.js';

/** What `Wal.verify` checked. */
export interface VerifyReport {
  readonly segmentCount: number;
  readonly recordCount: number;
  readonly firstSeqno: number;
  readonly lastSeqno: number;
  readonly sizeBytes: number;
}

/**
 * Verifies every record of `segments` in order (checksums, structure, seqno continuity, chain,
 * epoch order), throwing CORRUPTION with file and offset at the first problem. Stops before the
 * first segment for which `unwritten` holds (the active segment of a log that holds no record yet;
 * asked as it is reached, since appends go on meanwhile). Returns the records and bytes checked.
 */
export async function verifySegments(
  fs: FileSystem,
  segments: readonly SegmentFile[],
  unwritten: (segment: SegmentFile) => boolean,
  options: ResolvedWalOptions,
): Promise<{ recordCount: number; sizeBytes: number }> {
  let previous: LogTail | undefined;
  let recordCount = 0;
  let sizeBytes = 0;
  for (const segment of segments) {
    if (unwritten(segment)) break;
    // A copy: verification rebuilds the seek index, and the log's own stays as it is.
    const copy = { ...segment, indexSeqnos: [], indexOffsets: [] };
    const outcome = await verifySegment(fs, copy, previous, options);
    if (outcome.damage)
      throw corruptionError(segment.path, outcome.damage.offset, outcome.damage.reason);
    recordCount += outcome.recordCount;
    previous = outcome.tail ?? previous;
    sizeBytes += segment.sizeBytes;
  }
  return { recordCount, sizeBytes };
}
