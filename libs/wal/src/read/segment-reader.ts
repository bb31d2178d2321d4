import { StrataError, corruptionError, errnoOf, ioError } from '@strata/core';
import type { FileHandle, FileSystem } from '@strata/core';
import { ShortReadError } from '../format/record-scanner.js';
import type { RecordScanner } from '../format/record-scanner.js';
import type { ResolvedWalOptions } from '../options.js';
import { verifySegment } from '../recovery/recovery.js';
import { seekEntry } from '../segments/segment-file.js';
import type { SegmentFile } from '../segments/segment-file.js';
import { readSeekIndexFile } from '../segments/seek-index-file.js';

/**
 * Finds records in the log's segments for readers and for the cut of `truncateAfter`: which
 * segment holds a seqno, where in it a read starts (full index, sidecar hint, or a verification
 * that builds the index), and one verified record step at a time. It shares the log's segment
 * array (mutated in place by the writer, retention and truncation), so it always sees the current
 * list.
 */
export class SegmentReader {
  private readonly indexing = new Map<SegmentFile, Promise<void>>();

  constructor(
    private readonly fs: FileSystem,
    /** The log's options (read chunk size, record limit). */
    readonly options: ResolvedWalOptions,
    private readonly segmentList: readonly SegmentFile[],
  ) {}

  /** The first seqno still retained (equal to the next seqno when the log is empty). */
  get firstSeqno(): number {
    // An empty log starts where it was opened to start, also while its first append is in flight.
    return this.segmentList[0]?.firstSeqno ?? this.options.firstSeqno;
  }

  /** True for the last segment, the one appends go to. */
  isActive(segment: SegmentFile): boolean {
    return this.segmentList[this.segmentList.length - 1] === segment;
  }

  /** The segment whose seqno range would hold `seqno` (the last one starting at or below it). */
  segmentAt(seqno: number): SegmentFile | undefined {
    let found: SegmentFile | undefined;
    let low = 0;
    let high = this.segmentList.length - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const segment = this.segmentList[middle] as SegmentFile;
      if (segment.firstSeqno <= seqno) {
        found = segment;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found;
  }

  /** The segment after `segment`, also when `segment` was dropped from the list meanwhile. */
  segmentAfter(segment: SegmentFile): SegmentFile | undefined {
    const index = this.segmentList.indexOf(segment);
    if (index >= 0) return this.segmentList[index + 1];
    return this.segmentList.find((candidate) => candidate.firstSeqno > segment.firstSeqno);
  }

  /** HISTORY_TRUNCATED for a seqno below the retained history. */
  truncatedError(seqno: number): StrataError {
    return new StrataError(
      'HISTORY_TRUNCATED',
      `seqno ${seqno} is below the retained history, which starts at ${this.firstSeqno}`,
      {
        details: { requestedSeqno: seqno, firstSeqno: this.firstSeqno },
      },
    );
  }

  /** Opens a segment for reading; a segment unlinked meanwhile (retention) is HISTORY_TRUNCATED. */
  async openForRead(segment: SegmentFile, fromSeqno: number): Promise<FileHandle> {
    try {
      return await this.fs.open(segment.path, 'read');
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') throw this.truncatedError(fromSeqno);
      throw ioError('open', segment.path, error);
    }
  }

  /** One verified record step of `scanner`; damage is CORRUPTION with file and offset. */
  async scanNext(scanner: RecordScanner, segment: SegmentFile): Promise<'record' | 'end'> {
    let outcome;
    try {
      outcome = await scanner.next();
    } catch (error) {
      if (error instanceof ShortReadError)
        throw corruptionError(
          segment.path,
          error.endOffset,
          'file is shorter than its recorded size',
        );
      throw ioError('read', segment.path, error);
    }
    if (outcome === 'damaged') {
      throw corruptionError(segment.path, scanner.offset, `damaged record (${scanner.damage})`, {
        damage: scanner.damage,
      });
    }
    return outcome;
  }

  /**
   * Where a read of `seqno` starts in `segment`: from the full index if the segment is indexed,
   * else from its sidecar's seek index if there is a usable one (`hinted`: the record found there
   * must be checked), else after verifying and indexing the segment in full.
   */
  async seekStart(
    segment: SegmentFile,
    seqno: number,
  ): Promise<{ offset: number; seqno: number; hinted: boolean }> {
    if (!segment.indexed && !this.isActive(segment)) {
      if (segment.seekHint === undefined) {
        const loaded = await readSeekIndexFile(this.fs, segment);
        // Another reader may have settled it meanwhile (or found the hint wrong): keep that.
        if (segment.seekHint === undefined) segment.seekHint = loaded ?? 'none';
      }
      const hint = segment.seekHint;
      if (!segment.indexed && hint !== 'none' && hint !== undefined)
        return { ...seekEntry(hint, segment.firstSeqno, seqno), hinted: true };
    }
    if (!segment.indexed) await this.indexSegment(segment);
    return { ...seekEntry(segment, segment.firstSeqno, seqno), hinted: false };
  }

  /**
   * Reads the record at a seek offset that came from a sidecar. `wrong` (never CORRUPTION) when it
   * is not an intact record starting at `expectedSeqno`: the hint was stale or damaged, and only a
   * full verification may call the segment corrupt. I/O errors are real and thrown.
   */
  async scanHintedRecord(
    scanner: RecordScanner,
    segment: SegmentFile,
    expectedSeqno: number,
  ): Promise<'record' | 'wrong'> {
    let outcome: 'record' | 'end';
    try {
      outcome = await this.scanNext(scanner, segment);
    } catch (error) {
      if (error instanceof StrataError && error.code === 'CORRUPTION') return 'wrong';
      throw error;
    }
    return outcome === 'record' && scanner.header.firstSeqno === expectedSeqno ? 'record' : 'wrong';
  }

  /** Verifies and indexes a sealed segment that open did not scan (once per process). */
  indexSegment(segment: SegmentFile): Promise<void> {
    let running = this.indexing.get(segment);
    if (!running) {
      running = verifySegment(this.fs, segment, undefined, this.options).then((outcome) => {
        if (outcome.damage)
          throw corruptionError(segment.path, outcome.damage.offset, outcome.damage.reason);
      });
      this.indexing.set(segment, running);
      running.catch(() => this.indexing.delete(segment));
    }
    return running;
  }
}
