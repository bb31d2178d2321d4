import { StrataError, crc32c } from '@strata/core';
import { RECORD_HEADER_BYTES } from '@strata/wal';

/**
 * One framed log record inside a replication message: the bytes exactly as in the leader's WAL,
 * `[u32 length][u32 crc32c][LogBatch]`, and where it sat in the message.
 */
export interface FramedRecord {
  /** A view into the message data. */
  readonly bytes: Buffer;
  /** Byte offset of the record in the message. */
  readonly offset: number;
}

/**
 * Splits a replication message into its framed records, checking each record's length and
 * CRC-32C before anything is decoded. A message that does not consist of whole, intact records is
 * refused as a whole with `CORRUPTION` (details: offset in the message).
 *
 * @example
 * ```ts
 * for (const record of splitLogMessage(message.data, 1 << 20)) await store.appendReplicated(record.bytes);
 * ```
 */
export function splitLogMessage(data: Uint8Array, maxRecordBytes: number): FramedRecord[] {
  const buffer = Buffer.isBuffer(data)
    ? data
    : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const records: FramedRecord[] = [];
  let offset = 0;
  if (buffer.length === 0) throw corrupt('an empty message', 0);
  while (offset < buffer.length) {
    if (buffer.length - offset < RECORD_HEADER_BYTES)
      throw corrupt('a record header is cut short', offset);
    const payloadBytes = buffer.readUInt32LE(offset);
    const recordBytes = RECORD_HEADER_BYTES + payloadBytes;
    if (payloadBytes === 0 || recordBytes > maxRecordBytes)
      throw corrupt(`a record claims ${payloadBytes} payload bytes`, offset);
    if (offset + recordBytes > buffer.length)
      throw corrupt('a record runs past the end of the message', offset);
    const payload = buffer.subarray(offset + RECORD_HEADER_BYTES, offset + recordBytes);
    if (crc32c(payload) !== buffer.readUInt32LE(offset + 4))
      throw corrupt('a record fails its checksum', offset);
    records.push({ bytes: buffer.subarray(offset, offset + recordBytes), offset });
    offset += recordBytes;
  }
  return records;
}

function corrupt(what: string, offset: number): StrataError {
  return new StrataError('CORRUPTION', `replication message refused: ${what} at offset ${offset}`, {
    details: { offset },
  });
}
