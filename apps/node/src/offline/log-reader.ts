import { corruptionError } from '@strata/core';
import { Wal, decodeRecord, describeDamage } from '@strata/wal';
import type { LogBatch } from '@strata/wal';

/**
 * A read-only view of a data directory's log (`<data>/wal/*.log`) for `replay`, `inspect` and
 * `verify`: a thin adapter over `Wal.open(dir, { readOnly: true })`, which never writes, checks
 * every record it reads (framing, CRC-32C, payload, seqno continuity, chain, epoch order) and
 * treats a torn tail at the end of the last segment as the end of the log (a running node may be
 * writing it). Opening throws CORRUPTION (file and offset) when the last segment of a directory
 * that was not closed cleanly holds a damaged record. Safe next to a live node.
 */

/** One log segment file. */
export interface LogFile {
  readonly path: string;
  readonly firstSeqno: number;
  readonly sizeBytes: number;
}

/** A record read from the log. */
export interface LogReadRecord {
  readonly file: string;
  readonly offset: number;
  /** The framed record (a view; copy it to keep it). */
  readonly bytes: Buffer;
  readonly checksum: number;
  readonly batch: LogBatch;
}

/** Options of {@link LogReader.records}. */
export interface LogReadOptions {
  /** First seqno wanted; a batch holding it is yielded whole. */
  readonly fromSeqno?: number;
  /** Last seqno wanted (inclusive): reading stops at the first record starting after it. */
  readonly toSeqno?: number;
  /** Called with the bytes consumed, for progress bars. */
  readonly onBytes?: (bytes: number) => void;
}

/**
 * Where a torn tail was found: what a crash during an append leaves at the end of the last
 * segment (an incomplete record, maybe followed by zeros, or zeros). Damage to complete records is
 * never a torn tail: opening the log throws CORRUPTION instead.
 */
export interface TornTail {
  readonly file: string;
  readonly offset: number;
  readonly reason: string;
  /** Bytes from `offset` to the end of the file (a writable open cuts them). */
  readonly droppedBytes: number;
}

/** Lists the log segments of `walDirectory`, oldest first (empty when there is no log yet). */
export async function listLogFiles(walDirectory: string): Promise<LogFile[]> {
  const reader = await LogReader.open(walDirectory);
  try {
    return [...reader.files];
  } finally {
    await reader.close();
  }
}

/** Reads a log directory without ever writing to it. */
export class LogReader {
  /** The incomplete tail the log ends with, if any (found when the log was opened). */
  readonly tornTail: TornTail | undefined;
  /** Records read (checked), yielded or not. */
  recordCount = 0;
  /** The last record read: its seqno range and epoch. */
  last: { firstSeqno: number; lastSeqno: number; epoch: number; timestampMs: number } | undefined;

  private constructor(
    readonly walDirectory: string,
    private readonly wal: Wal,
    readonly files: readonly LogFile[],
  ) {
    const torn = wal.recovery.tornTail;
    this.tornTail = torn && {
      file: torn.file,
      offset: torn.offset,
      reason: describeDamage(torn.damage),
      droppedBytes: torn.droppedBytes,
    };
  }

  /** Opens the log of `walDirectory` read-only (its segment list is taken now). */
  static async open(walDirectory: string): Promise<LogReader> {
    const wal = await Wal.open(walDirectory, { readOnly: true });
    const files = wal.segments().map((segment) => ({
      path: segment.path,
      firstSeqno: segment.firstSeqno,
      sizeBytes: segment.sizeBytes,
    }));
    return new LogReader(walDirectory, wal, files);
  }

  /** The first seqno the log holds (undefined for an empty log). */
  get firstSeqno(): number | undefined {
    return this.files[0]?.firstSeqno;
  }

  /** Total bytes of the segments a read from `fromSeqno` goes through. */
  bytesFrom(fromSeqno = 0): number {
    let start = 0;
    while (
      start + 1 < this.files.length &&
      (this.files[start + 1] as LogFile).firstSeqno <= fromSeqno
    )
      start++;
    return this.files.slice(start).reduce((total, file) => total + file.sizeBytes, 0);
  }

  /**
   * The records from `fromSeqno` to `toSeqno`, checked as they are read. Throws CORRUPTION
   * naming the file and offset of the first damage.
   */
  async *records(options: LogReadOptions = {}): AsyncGenerator<LogReadRecord, void, undefined> {
    const first = this.firstSeqno;
    if (first === undefined) return;
    const fromSeqno = Math.max(options.fromSeqno ?? first, first);
    const toSeqno =
      options.toSeqno !== undefined && Number.isFinite(options.toSeqno)
        ? options.toSeqno
        : undefined;
    for await (const record of this.wal.readRecords({ fromSeqno, toSeqno })) {
      let batch: LogBatch;
      try {
        batch = decodeRecord(record.bytes);
      } catch (error) {
        throw corruptionError(
          record.file,
          record.offset,
          `undecodable record: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
      this.recordCount++;
      this.last = {
        firstSeqno: record.firstSeqno,
        lastSeqno: record.lastSeqno,
        epoch: record.epoch,
        timestampMs: record.timestampMs,
      };
      options.onBytes?.(record.bytes.length);
      yield {
        file: record.file,
        offset: record.offset,
        bytes: record.bytes,
        checksum: record.checksum,
        batch,
      };
    }
  }

  /** Releases the reader (it holds no file open between reads). */
  close(): Promise<void> {
    return this.wal.close();
  }
}
