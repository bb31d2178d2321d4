import { StrataError, crc32c } from '@strata/core';
import { validateRecordEntries } from '../format/batch-codec.js';
import type { BatchLimits } from '../format/batch-codec.js';
import { RECORD_HEADER_BYTES, readRecordHeader } from '../format/record-format.js';
import type { RecordHeader } from '../format/record-format.js';

/** What `Wal.appendRecord`'s check sees of a verified record before admitting it. */
export interface ReplicatedRecordSummary {
  readonly epoch: number;
  readonly firstSeqno: number;
  readonly lastSeqno: number;
  /** Entries that delete a key range. */
  readonly rangeDeletes: number;
}

/**
 * Checks a record produced by another log before `Wal.appendRecord` admits it: length header,
 * size limit (BATCH_TOO_LARGE), checksum and structure (CORRUPTION), entries against the limits
 * (their own codes). Fills `header` (a reused scratch object: nothing is allocated per record) and
 * returns the number of range deletes. Position, epoch and chain are the log's to check.
 */
export function checkReplicatedRecord(
  bytes: Buffer,
  limits: BatchLimits,
  header: RecordHeader,
): number {
  if (
    bytes.length < RECORD_HEADER_BYTES + 2 ||
    bytes.readUInt32LE(0) !== bytes.length - RECORD_HEADER_BYTES
  ) {
    throw new StrataError('CORRUPTION', 'replicated record has a bad length header');
  }
  if (bytes.length > limits.maxRecordBytes) {
    throw new StrataError(
      'BATCH_TOO_LARGE',
      `replicated record of ${bytes.length} bytes exceeds the limit`,
    );
  }
  if (crc32c(bytes.subarray(RECORD_HEADER_BYTES)) !== bytes.readUInt32LE(4)) {
    throw new StrataError('CORRUPTION', 'replicated record fails its checksum');
  }
  try {
    if (readRecordHeader(bytes, header) === undefined)
      throw new StrataError('CORRUPTION', 'not a well-formed batch');
    return validateRecordEntries(bytes, limits);
  } catch (error) {
    // Limits and entry rules keep their own codes; malformed bytes are CORRUPTION.
    if (error instanceof StrataError && error.code !== 'INTERNAL' && error.code !== 'CORRUPTION')
      throw error;
    throw new StrataError(
      'CORRUPTION',
      `replicated record has invalid content: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}
