import type { LogTail } from '../format/log-tail.js';
import type { SegmentFile } from './segment-file.js';

/** A public view of one segment. */
export interface SegmentInfo {
  readonly path: string;
  readonly firstSeqno: number;
  /** Undefined for an empty segment. */
  readonly lastSeqno: number | undefined;
  readonly sizeBytes: number;
  readonly active: boolean;
}

/**
 * The public views of `segmentList`, oldest first; the last one is active, and its last seqno is
 * that of `committed` (the last record written) when that record is in it.
 */
export function segmentInfos(
  segmentList: readonly SegmentFile[],
  committed: LogTail | undefined,
): SegmentInfo[] {
  return segmentList.map((segment, index) => ({
    path: segment.path,
    firstSeqno: segment.firstSeqno,
    lastSeqno:
      index === segmentList.length - 1
        ? committed && committed.lastSeqno >= segment.firstSeqno
          ? committed.lastSeqno
          : undefined
        : segment.lastSeqno,
    sizeBytes: segment.sizeBytes,
    active: index === segmentList.length - 1,
  }));
}
