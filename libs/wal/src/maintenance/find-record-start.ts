import { StrataError } from '@strata/core';
import type { LogTail } from '../format/log-tail.js';
import { RecordScanner } from '../format/record-scanner.js';
import type { SegmentReader } from '../read/segment-reader.js';
import type { SegmentFile } from '../segments/segment-file.js';

/** The record before a cut: where the log continues from, and its offset in its segment. */
export type RecordBeforeCut = LogTail & { offset: number | undefined };

/**
 * Finds the offset of the record that starts at `seqno` in `segment`, and the record before it
 * (possibly in the previous segment of `segmentList`): where `truncateAfter` cuts. Refuses a seqno
 * in the middle of a batch (INVALID_ARGUMENT).
 */
export async function findRecordStart(
  reader: SegmentReader,
  segmentList: readonly SegmentFile[],
  segment: SegmentFile,
  seqno: number,
): Promise<{ offset: number; previous: RecordBeforeCut | undefined }> {
  if (!segment.indexed) await reader.indexSegment(segment);
  const handle = await reader.openForRead(segment, seqno);
  try {
    const scanner = new RecordScanner(
      handle,
      0,
      segment.sizeBytes,
      reader.options.readChunkBytes,
      reader.options.maxRecordBytes,
    );
    let previous: RecordBeforeCut | undefined;
    const index = segmentList.indexOf(segment);
    const before = index > 0 ? segmentList[index - 1] : undefined;
    if (before) {
      if (!before.indexed) await reader.indexSegment(before);
      if (
        before.lastSeqno !== undefined &&
        before.lastChain !== undefined &&
        before.lastChecksum !== undefined
      ) {
        previous = {
          lastSeqno: before.lastSeqno,
          chain: before.lastChain,
          checksum: before.lastChecksum,
          epoch: before.lastEpoch ?? 0,
          offset: before.lastRecordOffset,
        };
      }
    }
    while ((await reader.scanNext(scanner, segment)) === 'record') {
      const header = scanner.header;
      if (header.firstSeqno === seqno) return { offset: scanner.offset, previous };
      const lastSeqno = header.firstSeqno + header.entryCount - 1;
      if (lastSeqno >= seqno) {
        throw new StrataError(
          'INVALID_ARGUMENT',
          `seqno ${seqno} is inside the batch ${header.firstSeqno}..${lastSeqno}; cut between batches`,
        );
      }
      previous = {
        lastSeqno,
        chain: header.chain,
        checksum: scanner.checksum,
        epoch: header.epoch,
        offset: scanner.offset,
      };
    }
    throw new StrataError('INTERNAL', `seqno ${seqno} not found in ${segment.path}`);
  } finally {
    await handle.close();
  }
}
