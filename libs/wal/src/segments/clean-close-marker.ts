import { join } from 'node:path';
import { crc32c, createFileWith, removeIfPresent, settleAll } from '@strata/core';
import type { FileSystem } from '@strata/core';
import type { LogTail } from '../format/log-tail.js';
import type { SegmentFile } from './segment-file.js';

/**
 * Name of the file a clean close leaves in the log directory. It describes the last segment (size,
 * last record, seek index) so the next open can skip re-reading it. It is only a hint: open trusts
 * it only if the segment still has that size and its last record matches; otherwise it scans.
 */
export const CLEAN_CLOSE_FILE = 'CLEAN-CLOSE';

/** What a clean close records about the last segment. */
export interface CleanCloseMarker {
  readonly formatVersion: 1;
  readonly segmentFirstSeqno: number;
  readonly sizeBytes: number;
  readonly lastRecordOffset: number;
  readonly tail: LogTail;
  readonly indexSeqnos: readonly number[];
  readonly indexOffsets: readonly number[];
}

/**
 * Writes the marker atomically (temporary file, rename) but not durably: no fdatasync, no
 * directory fsync, so a close pays no sync for it. Why that is safe: the marker is written only
 * after the log's last fdatasync, so any marker that survives a power loss (this one, or an older
 * one whose replacement was lost) describes a segment that was durable at that size, and open
 * checks it against the segment before trusting it; a torn or zeroed marker fails its checksum.
 * A lost marker only costs the next open a scan of the last segment.
 */
export async function writeCleanCloseMarker(
  fs: FileSystem,
  directory: string,
  marker: CleanCloseMarker,
): Promise<void> {
  const json = JSON.stringify(marker);
  const body = Buffer.from(json);
  const path = join(directory, CLEAN_CLOSE_FILE);
  const temporary = join(directory, `.${CLEAN_CLOSE_FILE}.tmp`);
  // A leftover of a close cut short is replaced.
  const handle = await createFileWith(fs, temporary, [Buffer.from(`${crc32c(body)}\n`), body]);
  // Renaming an open file is fine (POSIX; libuv opens files with FILE_SHARE_DELETE on Windows):
  // both at once save a close its round trip. A failed close is reported like a failed rename.
  await settleAll([fs.rename(temporary, path), handle.close()]);
}

/**
 * Leaves the marker for `last`, the last segment of a log that closes cleanly with `tail` as its
 * last record; nothing when that segment holds no record. A failure is ignored: the marker is only
 * a hint for a faster open, and without it the next open scans the last segment.
 */
export async function markCleanClose(
  fs: FileSystem,
  directory: string,
  last: SegmentFile | undefined,
  tail: LogTail | undefined,
): Promise<void> {
  if (!last || !tail || last.sizeBytes === 0 || last.lastRecordOffset === undefined) return;
  try {
    await writeCleanCloseMarker(fs, directory, {
      formatVersion: 1,
      segmentFirstSeqno: last.firstSeqno,
      sizeBytes: last.sizeBytes,
      lastRecordOffset: last.lastRecordOffset,
      tail,
      indexSeqnos: last.indexSeqnos,
      indexOffsets: last.indexOffsets,
    });
  } catch (error) {
    void error;
  }
}

/** Reads the marker; undefined when absent, damaged or of another format (the caller then scans). */
export async function readCleanCloseMarker(
  fs: FileSystem,
  directory: string,
): Promise<CleanCloseMarker | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readSmallFile(fs, join(directory, CLEAN_CLOSE_FILE));
  } catch {
    return undefined;
  }
  const newline = bytes.indexOf(0x0a);
  if (newline < 0) return undefined;
  const body = bytes.subarray(newline + 1);
  if (Number(bytes.subarray(0, newline).toString()) !== crc32c(body)) return undefined;
  try {
    const marker = JSON.parse(body.toString()) as CleanCloseMarker;
    return marker.formatVersion === 1 ? marker : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads a whole file that is usually small: the first {@link SMALL_READ_BYTES} with one
 * synchronous read (two threadpool round trips in all, open and close, instead of a whole-file
 * read's four); a larger file is read again the usual way.
 */
async function readSmallFile(fs: FileSystem, path: string): Promise<Buffer> {
  const handle = await fs.open(path, 'read');
  let length = 0;
  const buffer = Buffer.allocUnsafe(SMALL_READ_BYTES);
  try {
    for (;;) {
      const read = handle.readSync(buffer, length, buffer.length - length, length);
      if (read === 0) return buffer.subarray(0, length);
      length += read;
      if (length === buffer.length) break;
    }
  } finally {
    await handle.close();
  }
  return fs.readFile(path);
}

/** A marker's usual size is well under this (its seek index grows with the segment). */
const SMALL_READ_BYTES = 64 * 1024;

/** Removes the marker (before the log is cut back, which would make it stale). */
export async function removeCleanCloseMarker(fs: FileSystem, directory: string): Promise<void> {
  if (await removeIfPresent(fs, join(directory, CLEAN_CLOSE_FILE)))
    await fs.syncDirectory(directory);
}
