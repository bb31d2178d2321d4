import { dirname, join } from 'node:path';
import { crc32c, invariant, removeIfPresent } from '@strata/core';
import type { FileSystem } from '@strata/core';
import { RECORD_HEADER_BYTES } from '../format/record-format.js';
import type { SegmentFile } from './segment-file.js';
import { parseSeqnoFileName, seqnoFileName } from './segment-file.js';
import type { SeekIndexFile } from './seek-index-content.js';

export type { SeekIndexFile } from './seek-index-content.js';

/** Format version written; files of any other version are ignored. */
export const SEEK_INDEX_FORMAT_VERSION = 1;

/** "SIDX" read as a little-endian u32. */
const MAGIC = 0x58444953;
const CRC_OFFSET = 8;
const FIXED_BYTES = 64;
const ENTRY_BYTES = 16;

/** The sidecar's file name for the segment whose first record has `firstSeqno`. */
export function seekIndexFileName(firstSeqno: number): string {
  return seqnoFileName(firstSeqno, 'idx');
}

/** The first seqno in a sidecar's file name, or undefined if `name` is not one. */
export function parseSeekIndexFileName(name: string): number | undefined {
  return parseSeqnoFileName(name, 'idx');
}

/** Path of the sidecar of `segment` (in the segment's directory). */
export function seekIndexFilePath(segment: Pick<SegmentFile, 'path' | 'firstSeqno'>): string {
  return join(dirname(segment.path), seekIndexFileName(segment.firstSeqno));
}

/** What a sealed segment's sidecar holds, or undefined while its last record is not known. */
export function seekIndexOf(segment: SegmentFile): SeekIndexFile | undefined {
  if (
    segment.sizeBytes === 0 ||
    segment.lastSeqno === undefined ||
    segment.lastRecordOffset === undefined ||
    segment.lastChain === undefined ||
    segment.lastChecksum === undefined ||
    segment.lastEpoch === undefined
  )
    return undefined;
  return {
    firstSeqno: segment.firstSeqno,
    sizeBytes: segment.sizeBytes,
    lastSeqno: segment.lastSeqno,
    lastRecordOffset: segment.lastRecordOffset,
    lastChain: segment.lastChain,
    lastChecksum: segment.lastChecksum,
    lastEpoch: segment.lastEpoch,
    indexSeqnos: segment.indexSeqnos,
    indexOffsets: segment.indexOffsets,
  };
}

/** Encodes a sidecar (see {@link SeekIndexFile} for the layout). */
export function encodeSeekIndexFile(content: SeekIndexFile): Buffer {
  const count = content.indexSeqnos.length;
  invariant(count === content.indexOffsets.length, 'seek index arrays differ in length');
  invariant(isWellFormed(content), 'seek index to write is not well formed');
  const bytes = Buffer.alloc(FIXED_BYTES + count * ENTRY_BYTES);
  bytes.writeUInt32LE(MAGIC, 0);
  bytes.writeUInt32LE(SEEK_INDEX_FORMAT_VERSION, 4);
  bytes.writeUInt32LE(count, 12);
  bytes.writeDoubleLE(content.firstSeqno, 16);
  bytes.writeDoubleLE(content.sizeBytes, 24);
  bytes.writeDoubleLE(content.lastSeqno, 32);
  bytes.writeDoubleLE(content.lastRecordOffset, 40);
  bytes.writeDoubleLE(content.lastEpoch, 48);
  bytes.writeUInt32LE(content.lastChain, 56);
  bytes.writeUInt32LE(content.lastChecksum, 60);
  let at = FIXED_BYTES;
  for (let index = 0; index < count; index++) {
    bytes.writeDoubleLE(content.indexSeqnos[index] as number, at);
    bytes.writeDoubleLE(content.indexOffsets[index] as number, at + 8);
    at += ENTRY_BYTES;
  }
  bytes.writeUInt32LE(checksumOf(bytes), CRC_OFFSET);
  return bytes;
}

/**
 * Decodes a sidecar; undefined unless the magic, version, length and CRC are right and the content
 * is well formed (safe integers, ascending entries inside the segment). A torn write, a zero-filled
 * tail or a flipped bit all land here as undefined.
 */
export function decodeSeekIndexFile(bytes: Buffer): SeekIndexFile | undefined {
  if (bytes.length < FIXED_BYTES) return undefined;
  if (bytes.readUInt32LE(0) !== MAGIC || bytes.readUInt32LE(4) !== SEEK_INDEX_FORMAT_VERSION)
    return undefined;
  const count = bytes.readUInt32LE(12);
  if (bytes.length !== FIXED_BYTES + count * ENTRY_BYTES) return undefined;
  if (bytes.readUInt32LE(CRC_OFFSET) !== checksumOf(bytes)) return undefined;
  const indexSeqnos = new Array<number>(count);
  const indexOffsets = new Array<number>(count);
  let at = FIXED_BYTES;
  for (let index = 0; index < count; index++) {
    indexSeqnos[index] = bytes.readDoubleLE(at);
    indexOffsets[index] = bytes.readDoubleLE(at + 8);
    at += ENTRY_BYTES;
  }
  const content: SeekIndexFile = {
    firstSeqno: bytes.readDoubleLE(16),
    sizeBytes: bytes.readDoubleLE(24),
    lastSeqno: bytes.readDoubleLE(32),
    lastRecordOffset: bytes.readDoubleLE(40),
    lastEpoch: bytes.readDoubleLE(48),
    lastChain: bytes.readUInt32LE(56),
    lastChecksum: bytes.readUInt32LE(60),
    indexSeqnos,
    indexOffsets,
  };
  return isWellFormed(content) ? content : undefined;
}

/**
 * Writes the sidecar of a just-sealed segment, without fsync (it is a hint; after a power loss a
 * torn one fails its CRC). Throws on failure, after trying to remove what it wrote.
 */
export async function writeSeekIndexFile(
  fs: FileSystem,
  segmentPath: string,
  content: SeekIndexFile,
): Promise<void> {
  const path = seekIndexFilePath({ path: segmentPath, firstSeqno: content.firstSeqno });
  const bytes = encodeSeekIndexFile(content);
  // A leftover from an earlier life of this segment name is replaced, never appended to.
  await removeIfPresent(fs, path);
  const handle = await fs.open(path, 'create-exclusive');
  try {
    await handle.writev([bytes], 0);
  } catch (error) {
    await handle.close().catch(() => undefined);
    await removeIfPresent(fs, path).catch(() => undefined);
    throw error;
  }
  await handle.close();
}

/**
 * Reads the sidecar of `segment` and returns it only if it describes this segment as listed: same
 * first seqno and size, and the same last seqno when that is known from the next segment's name.
 * Undefined when absent, unreadable, damaged or stale: the caller then verifies the segment.
 */
export async function readSeekIndexFile(
  fs: FileSystem,
  segment: SegmentFile,
): Promise<SeekIndexFile | undefined> {
  const path = seekIndexFilePath(segment);
  let bytes: Buffer;
  try {
    // No file larger than a sidecar of this segment can be: one entry per smallest record.
    const stat = await fs.stat(path);
    const maxEntries = Math.floor(segment.sizeBytes / (RECORD_HEADER_BYTES + 2)) + 1;
    if (stat.isDirectory || stat.sizeBytes > FIXED_BYTES + maxEntries * ENTRY_BYTES)
      return undefined;
    bytes = await fs.readFile(path);
  } catch {
    return undefined;
  }
  const content = decodeSeekIndexFile(bytes);
  if (
    !content ||
    content.firstSeqno !== segment.firstSeqno ||
    content.sizeBytes !== segment.sizeBytes ||
    (segment.lastSeqno !== undefined && content.lastSeqno !== segment.lastSeqno)
  )
    return undefined;
  return content;
}

/** Removes the sidecar of `segment`, if any; true when there was one. */
export function removeSeekIndexFile(
  fs: FileSystem,
  segment: Pick<SegmentFile, 'path' | 'firstSeqno'>,
): Promise<boolean> {
  return removeIfPresent(fs, seekIndexFilePath(segment));
}

/**
 * Removes every sidecar that no sealed segment in `segments` (the log's, oldest first) can use:
 * those of vanished segments and the active segment's (it grows, so its sidecar is stale; sealing
 * it writes a new one). `names`: the directory's entries, as listed by the caller. Best effort: an
 * orphan that stays is ignored by readers anyway.
 */
export async function removeUnusableSeekIndexFiles(
  fs: FileSystem,
  directory: string,
  segments: readonly SegmentFile[],
  names: readonly string[],
): Promise<void> {
  const sealed = new Set(segments.slice(0, -1).map((segment) => segment.firstSeqno));
  for (const name of names) {
    const firstSeqno = parseSeekIndexFileName(name);
    if (firstSeqno === undefined || sealed.has(firstSeqno)) continue;
    await removeIfPresent(fs, join(directory, name)).catch(() => undefined);
  }
}

function checksumOf(bytes: Buffer): number {
  return crc32c(bytes.subarray(CRC_OFFSET + 4), crc32c(bytes.subarray(0, CRC_OFFSET)));
}

function isWellFormed(content: SeekIndexFile): boolean {
  const { firstSeqno, sizeBytes, lastSeqno, lastRecordOffset, lastEpoch } = content;
  if (
    !isSafeNatural(firstSeqno) ||
    firstSeqno < 1 ||
    !isSafeNatural(sizeBytes) ||
    sizeBytes === 0 ||
    !isSafeNatural(lastSeqno) ||
    lastSeqno < firstSeqno ||
    !isSafeNatural(lastRecordOffset) ||
    lastRecordOffset >= sizeBytes ||
    !isSafeNatural(lastEpoch) ||
    content.indexSeqnos.length !== content.indexOffsets.length
  )
    return false;
  let previousSeqno = firstSeqno - 1;
  let previousOffset = -1;
  for (let index = 0; index < content.indexSeqnos.length; index++) {
    const seqno = content.indexSeqnos[index] as number;
    const offset = content.indexOffsets[index] as number;
    if (!isSafeNatural(seqno) || seqno <= previousSeqno || seqno > lastSeqno) return false;
    if (!isSafeNatural(offset) || offset <= previousOffset || offset > lastRecordOffset)
      return false;
    previousSeqno = seqno;
    previousOffset = offset;
  }
  return true;
}

function isSafeNatural(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}
