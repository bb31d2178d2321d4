import { StrataError, corruptionError } from '@strata/core';
import type { LogTail } from '../format/log-tail.js';
import type { LogBatch, LogRecord } from '../format/log-batch.js';
import { RecordScanner } from '../format/record-scanner.js';
import { decodeRecord } from '../format/batch-codec.js';
import { checkOrder } from '../recovery/recovery.js';
import type { SegmentReader } from './segment-reader.js';

/** Bounds of a read: `fromSeqno` and `toSeqno` inclusive. */
export interface ReadOptions {
  /** Default: the first retained seqno. A batch that contains it is yielded whole. */
  readonly fromSeqno?: number;
  /** Default: the last visible seqno at the time the reader reaches the end. */
  readonly toSeqno?: number;
  /**
   * True when the caller keeps nothing of a record once it asks for the next one (it copies what
   * it needs, as replay into a memtable does): each record's `bytes` is then a view of one buffer
   * the reader refills, valid only until the next record is requested. Fresh memory costs a page
   * fault per page on first touch, so this reads a long log several times faster. Default false:
   * every record's bytes stay valid.
   */
  readonly reuseBuffer?: boolean;
}

/**
 * The records from `fromSeqno` to `toSeqno` as stored (framing included), verified against their
 * checksums and chain as they are read; `checkReadable` runs when iteration starts, as it did when
 * this was a method of the log. See `Wal.readRecords`.
 */
export async function* readRecords(
  reader: SegmentReader,
  options: ReadOptions,
  checkReadable: () => void,
): AsyncGenerator<LogRecord, void, undefined> {
  checkReadable();
  const fromSeqno = options.fromSeqno ?? reader.firstSeqno;
  const toSeqno = options.toSeqno ?? Number.MAX_SAFE_INTEGER;
  if (!Number.isSafeInteger(fromSeqno) || fromSeqno < 1 || !Number.isSafeInteger(toSeqno)) {
    throw new StrataError('INVALID_ARGUMENT', 'fromSeqno and toSeqno must be positive integers');
  }
  if (fromSeqno < reader.firstSeqno) throw reader.truncatedError(fromSeqno);
  if (fromSeqno > toSeqno) return;
  let segment = reader.segmentAt(fromSeqno);
  let previous: LogTail | undefined;
  let expectedSeqno: number | undefined;
  while (segment) {
    if (segment.firstSeqno > toSeqno) return;
    // Only a read that starts inside a segment needs its seek index; one that starts at the
    // segment's first record checks every record as it reads them, so it needs no pre-scan.
    const start =
      expectedSeqno === undefined && fromSeqno > segment.firstSeqno
        ? await reader.seekStart(segment, fromSeqno)
        : { offset: 0, seqno: segment.firstSeqno, hinted: false };
    let hintRejected = false;
    const handle = await reader.openForRead(segment, fromSeqno);
    try {
      const scanner = new RecordScanner(
        handle,
        start.offset,
        segment.sizeBytes,
        reader.options.readChunkBytes,
        reader.options.maxRecordBytes,
        options.reuseBuffer === true,
      );
      let checkHint = start.hinted;
      while (true) {
        let outcome: 'record' | 'end';
        if (checkHint) {
          checkHint = false;
          const checked = await reader.scanHintedRecord(scanner, segment, start.seqno);
          if (checked === 'wrong') {
            hintRejected = true;
            break;
          }
          outcome = checked;
        } else {
          outcome = await reader.scanNext(scanner, segment);
        }
        if (outcome === 'end') {
          // The active segment may have grown while we were reading it.
          if (reader.isActive(segment) && segment.sizeBytes > scanner.position) {
            scanner.extendTo(segment.sizeBytes);
            continue;
          }
          break;
        }
        const header = scanner.header;
        const lastSeqno = header.firstSeqno + header.entryCount - 1;
        if (expectedSeqno !== undefined) {
          const problem = checkOrder(
            header.firstSeqno,
            expectedSeqno,
            header.chain,
            header.epoch,
            previous,
          );
          if (problem) throw corruptionError(segment.path, scanner.offset, problem.reason);
        } else if (header.firstSeqno > fromSeqno) {
          throw corruptionError(
            segment.path,
            scanner.offset,
            `expected a record holding seqno ${fromSeqno}, found ${header.firstSeqno}`,
          );
        }
        previous = {
          lastSeqno,
          chain: header.chain,
          checksum: scanner.checksum,
          epoch: header.epoch,
        };
        expectedSeqno = lastSeqno + 1;
        if (lastSeqno < fromSeqno) continue;
        if (header.firstSeqno > toSeqno) return;
        yield {
          epoch: header.epoch,
          firstSeqno: header.firstSeqno,
          lastSeqno,
          timestampMs: header.timestampMs,
          chain: header.chain,
          checksum: scanner.checksum,
          bytes: scanner.record,
          file: segment.path,
          offset: scanner.offset,
        };
        if (lastSeqno >= toSeqno) return;
      }
    } finally {
      await handle.close();
    }
    if (hintRejected) {
      // Nothing was yielded from this segment: seek again, now through a full verification,
      // which reports real damage with its file and offset.
      segment.seekHint = 'none';
      continue;
    }
    segment = reader.segmentAfter(segment);
    if (segment && expectedSeqno !== undefined && segment.firstSeqno !== expectedSeqno) {
      throw corruptionError(
        segment.path,
        0,
        `segment starts at ${segment.firstSeqno}, expected ${expectedSeqno}`,
      );
    }
  }
}

/** Decodes a stored record; malformed content is CORRUPTION. */
export function decodeStored(record: LogRecord): LogBatch {
  try {
    return decodeRecord(record.bytes);
  } catch (error) {
    throw new StrataError(
      'CORRUPTION',
      `record at seqno ${record.firstSeqno} in ${record.file} at offset ${record.offset} cannot be decoded: ${error instanceof Error ? error.message : String(error)}`,
      {
        cause: error,
        details: { file: record.file, offset: record.offset, seqno: record.firstSeqno },
      },
    );
  }
}
