import { join } from 'node:path';
import type { SeekIndexFile } from './seek-index-content.js';

/**
 * One segment of the log: a file named by the seqno of its first record, holding whole records
 * back to back. Only the last segment is ever appended to; the others are sealed (fsynced).
 */
export interface SegmentFile {
  /** Seqno of the first record (from the file name). */
  readonly firstSeqno: number;
  readonly path: string;
  sizeBytes: number;
  /** Seqno of the last record, once known (scanned, or derived from the next segment). */
  lastSeqno: number | undefined;
  /** Sparse seek index: record start offsets and their first seqnos, ascending. */
  indexSeqnos: number[];
  indexOffsets: number[];
  /** True once the whole segment was verified and indexed. */
  indexed: boolean;
  /**
   * While `indexed` is false: the seek index read from the segment's sidecar file, a hint that is
   * checked against the record it points to at every use. `undefined` until looked for; `'none'`
   * when there is no usable sidecar (or it was wrong once), so seeking verifies the segment in full.
   */
  seekHint: SeekIndexFile | 'none' | undefined;
  /** Chain and checksum of the last record, once known: the next record chains from them. */
  lastChain: number | undefined;
  lastChecksum: number | undefined;
  /** Epoch of the last record, once known. */
  lastEpoch: number | undefined;
  /** Offset of the last record, once known. */
  lastRecordOffset: number | undefined;
  /** Modification time, for age-based retention. */
  modifiedAtMs: number;
}

const SEQNO_DIGITS = /^\d{20}$/;

/**
 * `<firstSeqno as 20 digits>.<extension>`: how a segment (`log`) and its sidecars are named, so
 * that names sort in seqno order.
 */
export function seqnoFileName(firstSeqno: number, extension: string): string {
  return `${String(firstSeqno).padStart(20, '0')}.${extension}`;
}

/** The first seqno in a {@link seqnoFileName} with `extension`, or undefined for other names. */
export function parseSeqnoFileName(name: string, extension: string): number | undefined {
  if (name.length !== 21 + extension.length || !name.endsWith(`.${extension}`)) return undefined;
  const digits = name.slice(0, 20);
  if (!SEQNO_DIGITS.test(digits)) return undefined;
  const seqno = Number(digits);
  return Number.isSafeInteger(seqno) && seqno > 0 ? seqno : undefined;
}

/** The file name of the segment whose first record has `firstSeqno`, e.g. `00000000000000000001.log`. */
export function segmentFileName(firstSeqno: number): string {
  return seqnoFileName(firstSeqno, 'log');
}

/** The first seqno encoded in a segment file name, or undefined if `name` is not a segment. */
export function parseSegmentFileName(name: string): number | undefined {
  return parseSeqnoFileName(name, 'log');
}

/** A segment description for a file that has not been scanned yet. */
export function newSegmentFile(
  directory: string,
  firstSeqno: number,
  sizeBytes: number,
  modifiedAtMs: number,
): SegmentFile {
  return {
    firstSeqno,
    path: join(directory, segmentFileName(firstSeqno)),
    sizeBytes,
    lastSeqno: undefined,
    indexSeqnos: [],
    indexOffsets: [],
    indexed: false,
    seekHint: undefined,
    lastChain: undefined,
    lastChecksum: undefined,
    lastEpoch: undefined,
    lastRecordOffset: undefined,
    modifiedAtMs,
  };
}

/** Adds a seek-index entry when `offset` is at least `intervalBytes` past the previous one. */
export function maybeIndex(
  segment: SegmentFile,
  seqno: number,
  offset: number,
  intervalBytes: number,
): void {
  const count = segment.indexOffsets.length;
  const lastOffset = count === 0 ? -Infinity : (segment.indexOffsets[count - 1] as number);
  if (offset >= lastOffset + intervalBytes) {
    segment.indexSeqnos.push(seqno);
    segment.indexOffsets.push(offset);
  }
}

/** A sparse seek index: record start offsets and their first seqnos, both ascending. */
export interface SeekIndex {
  readonly indexSeqnos: readonly number[];
  readonly indexOffsets: readonly number[];
}

/**
 * The last entry of `index` whose seqno is at most `seqno`, or the segment's start (offset 0,
 * `firstSeqno`) if there is none: where a scan for `seqno` starts, and the first seqno of the record
 * found there.
 */
export function seekEntry(
  index: SeekIndex,
  firstSeqno: number,
  seqno: number,
): { offset: number; seqno: number } {
  const seqnos = index.indexSeqnos;
  let low = 0;
  let high = seqnos.length - 1;
  let found = -1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    if ((seqnos[middle] as number) <= seqno) {
      found = middle;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  if (found < 0) return { offset: 0, seqno: firstSeqno };
  return { offset: index.indexOffsets[found] as number, seqno: seqnos[found] as number };
}
