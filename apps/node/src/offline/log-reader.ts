import { open, readdir, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { StrataError, corruptionError, crc32c, errnoOf } from '@strata/core';
import { RECORD_HEADER_BYTES, decodeRecord, nextChain, parseSegmentFileName } from '@strata/wal';
import type { LogBatch } from '@strata/wal';

/**
 * A read-only reader of a data directory's log (`<data>/wal/*.log`). `Wal.open` may cut a torn
 * tail and opens the last segment for writing, so it must not run next to a live node; this
 * reader only opens files for reading. It checks what `Wal.verify` checks (framing, CRC-32C,
 * payload, seqno continuity, chain, epoch order) and treats an incomplete record at the very end
 * of the last segment as the end of the log (a node may be writing it), not as damage.
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
  /** First seqno wanted: records ending before it are read (and checked) but not yielded. */
  readonly fromSeqno?: number;
  /** Last seqno wanted (inclusive): reading stops at the first record starting after it. */
  readonly toSeqno?: number;
  /** Called with the bytes consumed, for progress bars. */
  readonly onBytes?: (bytes: number) => void;
}

/** Where a torn (incomplete) tail was found. */
export interface TornTail {
  readonly file: string;
  readonly offset: number;
  readonly reason: string;
}

const CHUNK_BYTES = 1024 * 1024;

/** Lists the log segments of `walDirectory`, oldest first (empty when there is no log yet). */
export async function listLogFiles(walDirectory: string): Promise<LogFile[]> {
  let names: string[];
  try {
    names = await readdir(walDirectory);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return [];
    throw new StrataError('IO_ERROR', `cannot list ${walDirectory}: ${String(error)}`, {
      cause: error,
    });
  }
  const files: LogFile[] = [];
  for (const name of names) {
    const firstSeqno = parseSegmentFileName(name);
    if (firstSeqno === undefined) continue;
    const path = join(walDirectory, name);
    const info = await stat(path);
    files.push({ path, firstSeqno, sizeBytes: info.size });
  }
  return files.sort((a, b) => a.firstSeqno - b.firstSeqno);
}

/** Reads a log directory without ever writing to it. */
export class LogReader {
  /** Set after a read that ended at an incomplete last record. */
  tornTail: TornTail | undefined;
  /** Records read (checked), yielded or not. */
  recordCount = 0;
  /** The last record read: its seqno range and epoch. */
  last: { firstSeqno: number; lastSeqno: number; epoch: number; timestampMs: number } | undefined;

  private constructor(
    readonly walDirectory: string,
    readonly files: readonly LogFile[],
  ) {}

  /** Snapshots the list of segments of `walDirectory`. */
  static async open(walDirectory: string): Promise<LogReader> {
    return new LogReader(walDirectory, await listLogFiles(walDirectory));
  }

  /** The first seqno the log holds (undefined for an empty log). */
  get firstSeqno(): number | undefined {
    return this.files[0]?.firstSeqno;
  }

  /** Total bytes of the segments a read from `fromSeqno` goes through. */
  bytesFrom(fromSeqno = 0): number {
    let total = 0;
    const start = this.startIndex(fromSeqno);
    for (let index = start; index < this.files.length; index++) {
      total += (this.files[index] as LogFile).sizeBytes;
    }
    return total;
  }

  /**
   * The records from `fromSeqno` to `toSeqno`, checked as they are read. Throws CORRUPTION
   * naming the file and offset of the first damage.
   */
  async *records(options: LogReadOptions = {}): AsyncGenerator<LogReadRecord, void, undefined> {
    const from = options.fromSeqno ?? 0;
    const to = options.toSeqno ?? Number.POSITIVE_INFINITY;
    this.tornTail = undefined;
    let previous: { lastSeqno: number; chain: number; checksum: number; epoch: number } | undefined;
    for (let index = this.startIndex(from); index < this.files.length; index++) {
      const file = this.files[index] as LogFile;
      const isLast = index === this.files.length - 1;
      const scanner = await FileScanner.open(file);
      try {
        let first = true;
        while (true) {
          const outcome = await scanner.next();
          if (outcome.kind === 'end') break;
          if (outcome.kind === 'damaged') {
            if (isLast && outcome.tail) {
              this.tornTail = { file: file.path, offset: outcome.offset, reason: outcome.reason };
              break;
            }
            throw corruptionError(file.path, outcome.offset, outcome.reason);
          }
          const { offset, bytes, checksum } = outcome;
          let batch: LogBatch;
          try {
            batch = decodeRecord(bytes);
          } catch (error) {
            throw corruptionError(file.path, offset, `undecodable record: ${String(error)}`);
          }
          if (first && batch.firstSeqno !== file.firstSeqno) {
            throw corruptionError(
              file.path,
              offset,
              `first record starts at seqno ${batch.firstSeqno}, but the file name says ${file.firstSeqno}`,
            );
          }
          first = false;
          if (previous) {
            if (batch.firstSeqno !== previous.lastSeqno + 1) {
              throw corruptionError(
                file.path,
                offset,
                `seqno gap: record starts at ${batch.firstSeqno} after ${previous.lastSeqno}`,
              );
            }
            if (batch.chain !== nextChain(previous.chain, previous.checksum)) {
              throw corruptionError(file.path, offset, 'chain mismatch: the history diverges here');
            }
            if (batch.epoch < previous.epoch) {
              throw corruptionError(
                file.path,
                offset,
                `epoch ${batch.epoch} after ${previous.epoch}`,
              );
            }
          }
          previous = {
            lastSeqno: batch.lastSeqno,
            chain: batch.chain,
            checksum,
            epoch: batch.epoch,
          };
          this.recordCount++;
          this.last = {
            firstSeqno: batch.firstSeqno,
            lastSeqno: batch.lastSeqno,
            epoch: batch.epoch,
            timestampMs: batch.timestampMs,
          };
          options.onBytes?.(bytes.length);
          if (batch.firstSeqno > to) return;
          if (batch.lastSeqno >= from) {
            yield { file: file.path, offset, bytes, checksum, batch };
          }
        }
      } finally {
        await scanner.close();
      }
    }
  }

  private startIndex(fromSeqno: number): number {
    let start = 0;
    for (let index = 0; index < this.files.length; index++) {
      if ((this.files[index] as LogFile).firstSeqno <= fromSeqno) start = index;
    }
    return start;
  }
}

type ScanOutcome =
  | { kind: 'end' }
  | { kind: 'record'; offset: number; bytes: Buffer; checksum: number }
  | { kind: 'damaged'; offset: number; reason: string; tail: boolean };

/** Sequential reading of one segment file up to the size it had when listed. */
class FileScanner {
  private buffer = Buffer.alloc(0);
  private bufferOffset = 0;
  private position = 0;

  private constructor(
    private readonly handle: FileHandle,
    private readonly sizeBytes: number,
  ) {}

  static async open(file: LogFile): Promise<FileScanner> {
    try {
      return new FileScanner(await open(file.path, 'r'), file.sizeBytes);
    } catch (error) {
      throw new StrataError('IO_ERROR', `cannot open ${file.path}: ${String(error)}`, {
        cause: error,
      });
    }
  }

  async next(): Promise<ScanOutcome> {
    const offset = this.position;
    const remaining = this.sizeBytes - offset;
    if (remaining <= 0) return { kind: 'end' };
    if (remaining < RECORD_HEADER_BYTES) {
      return this.damaged(offset, 'incomplete record header at the end of the file', true);
    }
    const header = await this.bytes(offset, RECORD_HEADER_BYTES);
    const length = header.readUInt32LE(0);
    const checksum = header.readUInt32LE(4);
    if (length === 0) {
      const zeros = checksum === 0 && (await this.onlyZerosFrom(offset));
      return this.damaged(offset, zeros ? 'zero bytes up to the end' : 'zero-length record', zeros);
    }
    const total = RECORD_HEADER_BYTES + length;
    if (total > remaining) {
      return this.damaged(offset, `record of ${total} bytes runs past the end of the file`, true);
    }
    const bytes = await this.bytes(offset, total);
    if (crc32c(bytes.subarray(RECORD_HEADER_BYTES)) !== checksum) {
      // The last record of the last file may still be in flight.
      return this.damaged(offset, 'checksum mismatch', offset + total === this.sizeBytes);
    }
    this.position = offset + total;
    return { kind: 'record', offset, bytes, checksum };
  }

  close(): Promise<void> {
    return this.handle.close();
  }

  private damaged(offset: number, reason: string, tail: boolean): ScanOutcome {
    return { kind: 'damaged', offset, reason, tail };
  }

  /** `length` bytes at `offset` (a view of a buffer never reused). */
  private async bytes(offset: number, length: number): Promise<Buffer> {
    const end = this.bufferOffset + this.buffer.length;
    if (offset >= this.bufferOffset && offset + length <= end) {
      return this.buffer.subarray(offset - this.bufferOffset, offset - this.bufferOffset + length);
    }
    const size = Math.min(Math.max(CHUNK_BYTES, length), this.sizeBytes - offset);
    const fresh = Buffer.allocUnsafe(size);
    let filled = 0;
    while (filled < size) {
      const { bytesRead } = await this.handle.read(fresh, filled, size - filled, offset + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    if (filled < length) {
      throw corruptionError(this.describe(), offset, 'file is shorter than its listed size');
    }
    this.buffer = fresh.subarray(0, filled);
    this.bufferOffset = offset;
    return this.buffer.subarray(0, length);
  }

  private describe(): string {
    return `log segment (fd ${this.handle.fd})`;
  }

  private async onlyZerosFrom(offset: number): Promise<boolean> {
    let position = offset;
    while (position < this.sizeBytes) {
      const length = Math.min(CHUNK_BYTES, this.sizeBytes - position);
      const chunk = await this.bytes(position, length);
      for (const byte of chunk) if (byte !== 0) return false;
      position += length;
    }
    return true;
  }
}
