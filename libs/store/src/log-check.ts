import { isStrataError } from '@strata/core';
import type { SegmentInfo, Wal } from '@strata/wal';

/** One damaged place in the log, as {@link checkUnverifiedLog} found it. */
export interface LogDamage {
  /** The segment file. */
  readonly file: string;
  /** Byte offset of the damaged record (or of the file's start, for a misplaced segment). */
  readonly offset: number;
  readonly reason: string;
}

/** What {@link checkUnverifiedLog} read and found. */
export interface LogCheckReport {
  /** Sealed segments it read (those opening the log did not read). */
  readonly checkedSegmentCount: number;
  readonly checkedBytes: number;
  readonly damage: readonly LogDamage[];
  /** True when the signal (or the store closing) stopped it before the end. */
  readonly stopped: boolean;
}

/** Options of {@link checkUnverifiedLog}. */
export interface LogCheckOptions {
  /** Stops the check between records; it then resolves with what it found so far. */
  readonly signal?: AbortSignal;
  /** Called for each damage as soon as it is found (to log it at once). */
  readonly onDamage?: (damage: LogDamage) => void;
  /**
   * Awaited before each record is taken, with its size in bytes (a scrub paces itself to a rate
   * with it); a rejection stops the check with that error.
   */
  readonly pace?: (bytes: number) => Promise<void>;
}

/** Records checked between two yields to the event loop (reads in between are async anyway). */
const RECORDS_PER_TURN = 512;

/**
 * The first seqno of the segments that opening `wal` verified record by record (the last one or
 * few, or all of them under `verifyOnOpen: 'full'` or point-in-time recovery). Segments starting
 * below it were trusted, not read: damage there surfaces only when something reads them. Call it
 * right after open, before anything is appended (later segments were written by this process).
 */
export function firstVerifiedSeqno(wal: Wal): number {
  const report = wal.recovery;
  // Point-in-time recovery reads every segment it keeps.
  if (report.pointInTime !== undefined) return 0;
  const segments = wal.segments();
  // The verified ones are the last `verifiedSegmentCount` (the scan runs from one near the end).
  return segments[segments.length - report.verifiedSegmentCount]?.firstSeqno ?? Infinity;
}

/**
 * Reads every record of the sealed segments that start below `verifiedFromSeqno` (see
 * {@link firstVerifiedSeqno}), checking checksums, structure, seqno continuity and the chain
 * across segments, and reports each damaged segment with file and offset instead of failing at
 * the first: after damage it goes on with the next segment. Reads are the log's own: async, in
 * bounded chunks (`readChunkBytes`), and it yields to the event loop every few hundred records,
 * so it can run next to a serving node. The caller keeps retention from dropping segments
 * meanwhile.
 *
 * @throws StrataError `IO_ERROR` when a read fails (damage is reported, not thrown).
 */
export async function checkUnverifiedLog(
  wal: Wal,
  verifiedFromSeqno: number,
  options: LogCheckOptions = {},
): Promise<LogCheckReport> {
  const segments = wal
    .segments()
    .filter(
      (segment): segment is SegmentInfo & { lastSeqno: number } =>
        !segment.active &&
        segment.lastSeqno !== undefined &&
        segment.firstSeqno < verifiedFromSeqno,
    );
  return checkLogSegments(wal, segments, options);
}

/**
 * Reads every record of `segments` (sealed, consecutive, oldest first) as
 * {@link checkUnverifiedLog} does, reporting damage with file and offset. The caller keeps
 * retention from dropping them meanwhile.
 *
 * @throws StrataError `IO_ERROR` when a read fails (damage is reported, not thrown).
 */
export async function checkLogSegments(
  wal: Wal,
  segments: readonly (SegmentInfo & { lastSeqno: number })[],
  options: LogCheckOptions = {},
): Promise<LogCheckReport> {
  const damage: LogDamage[] = [];
  const report = (stopped: boolean): LogCheckReport => ({
    checkedSegmentCount: segments.length,
    checkedBytes: segments.reduce((sum, segment) => sum + segment.sizeBytes, 0),
    damage,
    stopped,
  });
  const last = segments[segments.length - 1];
  if (last === undefined) return report(false);
  const toSeqno = last.lastSeqno;
  let startIndex = 0;
  let fromSeqno: number | undefined = segments[0]?.firstSeqno;
  let records = 0;
  while (fromSeqno !== undefined && fromSeqno <= toSeqno) {
    try {
      // One read across the segments, so the chain is checked from one segment into the next.
      for await (const record of wal.readRecords({ fromSeqno, toSeqno })) {
        if (options.pace !== undefined) await options.pace(record.bytes.byteLength);
        fromSeqno = record.lastSeqno + 1;
        if (++records % RECORDS_PER_TURN === 0) await nextTurn();
        // A closing store closes its log: stop rather than read on.
        if (options.signal?.aborted || wal.status === 'closing' || wal.status === 'closed')
          return report(true);
      }
      return report(false);
    } catch (error) {
      if (isStrataError(error, 'CLOSED')) return report(true);
      if (!isStrataError(error, 'CORRUPTION')) throw error;
      const file = typeof error.details.file === 'string' ? error.details.file : undefined;
      const index = segments.findIndex((segment) => segment.path === file);
      if (file === undefined || index < 0) throw error;
      const found = { file, offset: error.details.offset ?? 0, reason: reasonOf(error.message) };
      const previous = damage[damage.length - 1];
      if (previous?.file !== found.file || previous.offset !== found.offset) {
        damage.push(found);
        options.onDamage?.(found);
      }
      // Past damage inside a segment nothing can be placed: go on with the next segment. A later
      // segment that does not continue the one before (offset 0) is read from its own start.
      startIndex = index > startIndex && found.offset === 0 ? index : index + 1;
      fromSeqno = segments[startIndex]?.firstSeqno;
    }
  }
  return report(false);
}

/** The reason part of a corruption message (`corruption in <file> at offset <n>: <reason>`). */
function reasonOf(message: string): string {
  const match = /^corruption in .* at offset \d+: (.*)$/s.exec(message);
  return match?.[1] ?? message;
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
