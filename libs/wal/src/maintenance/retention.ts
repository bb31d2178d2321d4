import type { RetentionPolicy } from '../options.js';
import type { SegmentFile } from '../segments/segment-file.js';

/**
 * How many segments, from the oldest, the policy lets go, given that records at or above
 * `neededFromSeqno` must stay (recovery needs them). The last segment that holds records and every
 * segment after it always stay, so the log keeps its chain and its position.
 */
export function segmentsToDrop(
  segments: readonly SegmentFile[],
  neededFromSeqno: number,
  policy: RetentionPolicy,
  nowMs: number,
): number {
  if (policy.kind === 'keep-all') return 0;
  let lastWithRecords = segments.length - 1;
  while (lastWithRecords > 0 && segments[lastWithRecords]?.sizeBytes === 0) lastWithRecords--;
  let totalBytes = segments.reduce((sum, segment) => sum + segment.sizeBytes, 0);
  let count = 0;
  for (let index = 0; index < lastWithRecords; index++) {
    const segment = segments[index] as SegmentFile;
    const next = segments[index + 1] as SegmentFile;
    // A sealed segment ends just before the next one starts.
    if (next.firstSeqno > neededFromSeqno) break;
    const expired =
      policy.kind === 'max-bytes'
        ? totalBytes > policy.maxBytes
        : segment.modifiedAtMs < nowMs - policy.maxAgeMs;
    if (!expired) break;
    totalBytes -= segment.sizeBytes;
    count++;
  }
  return count;
}
