import { crc32c } from '@strata/core';
import type { FileHandle } from '@strata/core';
import { RECORD_HEADER_BYTES, newRecordHeader, scanPayload } from './record-format.js';

/**
 * What is wrong at a damaged offset:
 * - `incomplete`: the record runs past the end of the file;
 * - `zeros`: only zero bytes remain;
 * - `checksum`: the payload does not match its CRC-32C;
 * - `malformed`: the header or payload is not a valid record.
 */
export type DamageKind = 'incomplete' | 'zeros' | 'checksum' | 'malformed';

/** A short human description of a {@link DamageKind}. */
export function describeDamage(kind: DamageKind): string {
  switch (kind) {
    case 'incomplete':
      return 'record runs past the end of the file';
    case 'zeros':
      return 'zero bytes where a record should start';
    case 'checksum':
      return 'record checksum mismatch';
    case 'malformed':
      return 'malformed record';
  }
}

/** Result of {@link RecordScanner.next}. */
export type ScanOutcome = 'record' | 'end' | 'damaged';

/**
 * Reads the records of one segment file in order, checking framing, checksum and payload structure.
 * By default buffers are freshly allocated per refill (never reused), so a yielded `record` view
 * stays valid after the scanner moves on. With `reuseBuffer`, one buffer is refilled instead and
 * `record` is valid only until the next call of {@link next}: for callers that keep nothing of a
 * record (recovery's verification, replay into the memtable). Memory that a process has never
 * written is expensive to touch (a page fault per page, about 5 ms per MiB on the benchmark
 * machine, more than reading the file from the page cache), so a scan of a segment into fresh
 * chunks cost several times one into a reused chunk.
 */
export class RecordScanner {
  /** Header fields of the current record (valid after `record`). Reused between records. */
  readonly header = newRecordHeader();
  /** Start offset of the current record, or of the damage. */
  offset = 0;
  /** The current record's framed bytes (a view). */
  record: Buffer = Buffer.alloc(0);
  /** The current record's payload checksum. */
  checksum = 0;
  /** What is wrong, after `damaged`. */
  damage: DamageKind = 'malformed';

  private buffer: Buffer = Buffer.alloc(0);
  private bufferFileOffset = 0;
  private nextOffset: number;
  /** With `reuseBuffer`: the one allocation every refill reads into (`buffer` is a view of it). */
  private storage: Buffer | undefined;

  constructor(
    private readonly handle: FileHandle,
    startOffset: number,
    private endOffset: number,
    private readonly chunkBytes: number,
    private readonly maxRecordBytes: number,
    private readonly reuseBuffer = false,
  ) {
    this.nextOffset = startOffset;
    this.bufferFileOffset = startOffset;
  }

  /** Offset just past the last record returned. */
  get position(): number {
    return this.nextOffset;
  }

  /** Lets a reader of the active segment continue into bytes written since it started. */
  extendTo(endOffset: number): void {
    if (endOffset > this.endOffset) this.endOffset = endOffset;
  }

  async next(): Promise<ScanOutcome> {
    const start = this.nextOffset;
    this.offset = start;
    if (start >= this.endOffset) return 'end';
    const remaining = this.endOffset - start;
    if (remaining < RECORD_HEADER_BYTES) {
      return this.damaged((await this.onlyZerosFrom(start)) ? 'zeros' : 'incomplete');
    }
    await this.ensure(start, RECORD_HEADER_BYTES);
    const at = start - this.bufferFileOffset;
    const length = this.buffer.readUInt32LE(at);
    const checksum = this.buffer.readUInt32LE(at + 4);
    if (length === 0) {
      if (checksum === 0 && (await this.onlyZerosFrom(start))) return this.damaged('zeros');
      return this.damaged('malformed');
    }
    if (length + RECORD_HEADER_BYTES > this.maxRecordBytes) {
      return this.damaged(length + RECORD_HEADER_BYTES > remaining ? 'incomplete' : 'malformed');
    }
    const total = RECORD_HEADER_BYTES + length;
    if (total > remaining) return this.damaged('incomplete');
    await this.ensure(start, total);
    const recordStart = start - this.bufferFileOffset;
    const record = this.buffer.subarray(recordStart, recordStart + total);
    if (crc32c(record.subarray(RECORD_HEADER_BYTES)) !== checksum) return this.damaged('checksum');
    if (!scanPayload(record, RECORD_HEADER_BYTES, total, this.header))
      return this.damaged('malformed');
    this.record = record;
    this.checksum = checksum;
    this.nextOffset = start + total;
    return 'record';
  }

  private damaged(kind: DamageKind): ScanOutcome {
    this.damage = kind;
    return 'damaged';
  }

  /** Makes `buffer` hold file bytes [offset, offset + length). */
  private async ensure(offset: number, length: number): Promise<void> {
    const bufferEnd = this.bufferFileOffset + this.buffer.length;
    if (offset >= this.bufferFileOffset && offset + length <= bufferEnd) return;
    const size = Math.max(this.chunkBytes, length);
    const readable = Math.min(size, this.endOffset - offset);
    const carried =
      offset >= this.bufferFileOffset && offset < bufferEnd
        ? Math.min(bufferEnd - offset, readable)
        : 0;
    const carriedFrom = offset - this.bufferFileOffset;
    let fresh: Buffer;
    let filled = 0;
    // Carry over what the old buffer already holds, then read the rest from the file.
    if (this.reuseBuffer && this.storage !== undefined && this.storage.length >= readable) {
      fresh = this.storage;
      if (carried > 0) fresh.copyWithin(0, carriedFrom, carriedFrom + carried);
      filled = carried;
    } else {
      fresh = Buffer.allocUnsafe(readable);
      if (carried > 0) filled = this.buffer.copy(fresh, 0, carriedFrom, carriedFrom + carried);
      // A record larger than the chunk grows the reused buffer to its size.
      if (this.reuseBuffer) this.storage = fresh;
    }
    while (filled < readable) {
      const count = await this.handle.read(fresh, filled, readable - filled, offset + filled);
      if (count === 0) break;
      filled += count;
    }
    this.buffer = filled === fresh.length ? fresh : fresh.subarray(0, filled);
    this.bufferFileOffset = offset;
    if (filled < length) {
      // The file is shorter than its recorded size: it shrank under us. Treat the rest as missing.
      this.endOffset = offset + filled;
      throw new ShortReadError(offset + filled);
    }
  }

  private async onlyZerosFrom(offset: number): Promise<boolean> {
    const chunk = Buffer.allocUnsafe(Math.min(this.chunkBytes, 1024 * 1024));
    let position = offset;
    while (position < this.endOffset) {
      const count = await this.handle.read(
        chunk,
        0,
        Math.min(chunk.length, this.endOffset - position),
        position,
      );
      if (count === 0) return true;
      for (let index = 0; index < count; index++) if (chunk[index] !== 0) return false;
      position += count;
    }
    return true;
  }
}

/** The file ended before its expected size (it was truncated while being read). */
export class ShortReadError extends Error {
  constructor(readonly endOffset: number) {
    super(`file ended at ${endOffset}, before its expected size`);
  }
}

/**
 * True when a valid record (good length, checksum and structure, seqno above `afterSeqno`) starts
 * anywhere in `bytes`. Recovery uses it to tell a torn tail (nothing valid follows the damage) from
 * damage in the middle of the log (valid records follow).
 */
export function containsValidRecord(
  bytes: Buffer,
  afterSeqno: number,
  maxRecordBytes: number,
): boolean {
  const header = newRecordHeader();
  for (let position = 0; position + RECORD_HEADER_BYTES < bytes.length; position++) {
    const firstPayloadByte = bytes[position + RECORD_HEADER_BYTES];
    // A LogBatch payload starts with the epoch (tag 0x08) or, for epoch 0, the first seqno (0x10).
    if (firstPayloadByte !== 0x08 && firstPayloadByte !== 0x10) continue;
    const length = bytes.readUInt32LE(position);
    if (length < 2 || length + RECORD_HEADER_BYTES > maxRecordBytes) continue;
    const end = position + RECORD_HEADER_BYTES + length;
    if (end > bytes.length) continue;
    if (!scanPayload(bytes, position + RECORD_HEADER_BYTES, end, header)) continue;
    if (header.firstSeqno <= afterSeqno) continue;
    if (
      crc32c(bytes.subarray(position + RECORD_HEADER_BYTES, end)) ===
      bytes.readUInt32LE(position + 4)
    )
      return true;
  }
  return false;
}
