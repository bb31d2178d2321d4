import { invariant, ioError } from '@strata/core';
import type { FileSystem } from '@strata/core';
import type { SegmentReader } from '../read/segment-reader.js';
import { removeCleanCloseMarker } from '../segments/clean-close-marker.js';
import { makeSegmentPrivate } from '../segments/private-segment.js';
import { removeSeekIndexFile } from '../segments/seek-index-file.js';
import type { SegmentFile } from '../segments/segment-file.js';
import type { ActiveSegment, FailStop } from '../write/active-segment.js';
import type { Admission } from '../write/admission.js';
import type { LogObservers } from '../write/log-observers.js';
import { findRecordStart } from './find-record-start.js';

/** What {@link truncateAfter} works on: the parts of an open, writable log with nothing in flight. */
export interface TruncateTarget {
  readonly fs: FileSystem;
  readonly directory: string;
  /** The log's segment list, changed in place. */
  readonly segmentList: SegmentFile[];
  readonly reader: SegmentReader;
  readonly active: ActiveSegment;
  readonly admission: Admission;
  readonly failStop: FailStop;
  readonly observers: LogObservers;
}

/** What `Wal.truncateAfter` removed. */
export interface TruncateResult {
  /** The first seqno removed (the seqno the log continues from). */
  readonly droppedFromSeqno: number;
  readonly droppedEntries: number;
}

/**
 * Removes every record after `lastKeptSeqno`, which lies in `[firstSeqno - 1, lastSeqno)` of the
 * log, and continues the log after it: see `Wal.truncateAfter`. Failures once files change are
 * fail-stop.
 */
export async function truncateAfter(
  log: TruncateTarget,
  lastKeptSeqno: number,
  lastSeqno: number,
): Promise<TruncateResult> {
  const { fs, directory, segmentList, reader, active } = log;
  const cutSeqno = lastKeptSeqno + 1;
  const segment = reader.segmentAt(cutSeqno);
  invariant(segment, 'no segment holds a retained seqno');
  const index = segmentList.indexOf(segment);
  const { offset, previous } = await findRecordStart(reader, segmentList, segment, cutSeqno);
  await removeCleanCloseMarker(fs, directory).catch((error: unknown) => {
    throw log.failStop(
      ioError('remove clean-close marker', directory, error),
      'truncating the log failed',
    );
  });
  const dropWhole = offset === 0 && index > 0;
  // The segment that becomes the last one (cut, or active again) and those dropped lose their
  // sidecars before anything is cut, durably: a cut segment can grow back to the same size
  // with other records, and its old sidecar must not come back after a power loss.
  try {
    let removedAny = false;
    for (const stale of segmentList.slice(dropWhole ? index - 1 : index)) {
      stale.seekHint = undefined;
      if (await removeSeekIndexFile(fs, stale)) removedAny = true;
    }
    if (removedAny) await fs.syncDirectory(directory);
  } catch (error) {
    throw log.failStop(ioError('remove seek index', directory, error), 'truncating the log failed');
  }
  await active.handle?.close();
  active.handle = undefined;
  const removed = segmentList.splice(dropWhole ? index : index + 1);
  try {
    for (const dropped of removed) await fs.unlink(dropped.path);
    // The unlinks are durable before anything is cut: a power loss after a durable cut but before
    // the directory's fsync would bring the dropped segments back behind the cut, a log with a
    // hole in it. In this order a power loss leaves the log whole, or a longer prefix of it.
    if (removed.length > 0) await fs.syncDirectory(directory);
    const newLast = segmentList[segmentList.length - 1] as SegmentFile;
    // A segment shared with a checkpoint is copied (up to the cut) instead of cut in place.
    const copied = await makeSegmentPrivate(fs, newLast.path, dropWhole ? undefined : offset);
    active.handle = await fs.open(newLast.path, 'read-write', active.openOptions());
    if (!dropWhole) {
      if (!copied) {
        await active.handle.truncate(offset);
        await log.observers.datasync(active.handle, 'truncate', newLast.path);
      }
      newLast.sizeBytes = offset;
    }
    await fs.syncDirectory(directory);
    active.writtenBytes = newLast.sizeBytes;
    newLast.indexed = true;
    const keptIndex = newLast.indexOffsets.findIndex(
      (indexOffset) => indexOffset >= newLast.sizeBytes,
    );
    if (keptIndex >= 0) {
      newLast.indexOffsets.length = keptIndex;
      newLast.indexSeqnos.length = keptIndex;
    }
    newLast.lastSeqno = previous?.lastSeqno;
    newLast.lastChain = previous?.chain;
    newLast.lastChecksum = previous?.checksum;
    newLast.lastEpoch = previous?.epoch;
    newLast.lastRecordOffset = previous?.offset;
  } catch (error) {
    throw log.failStop(ioError('truncate', segment.path, error), 'truncating the log failed');
  }
  active.committed = previous
    ? {
        lastSeqno: previous.lastSeqno,
        chain: previous.chain,
        checksum: previous.checksum,
        epoch: previous.epoch,
      }
    : undefined;
  active.durableSeqno = Math.min(active.durableSeqno, lastKeptSeqno);
  // With no record left the log continues at the cut, whatever its last segment is named.
  log.admission.rewind(active.committed, cutSeqno);
  return { droppedFromSeqno: cutSeqno, droppedEntries: lastSeqno - lastKeptSeqno };
}
