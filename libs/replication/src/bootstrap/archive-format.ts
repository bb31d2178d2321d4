/**
 * The checkpoint archive: one byte stream that carries a leader's checkpoint (a data directory's
 * `FORMAT`, `tree/` and `wal/`) to a follower over HTTP. Version 1, all integers little-endian
 * and fixed width, strings length-prefixed UTF-8:
 *
 * ```
 * archive header (40 bytes)
 *   [8]  magic "STRATACP"
 *   u32  format version (1)
 *   u64  seqno             the checkpoint holds every write up to here
 *   u64  treeSeqno         writes up to here are in tree segments, the rest in the WAL tail
 *   u32  entryCount        entries that follow (files and directories)
 *   u32  chunkSizeBytes    content chunk size, 1 .. 1 MiB
 *   u32  crc32c of the 36 bytes above (magic included)
 * entry header, entryCount times, in an order where a directory precedes what it holds
 *   u8   kind              'F' (0x46) regular file, 'D' (0x44) directory
 *   u16  pathLengthBytes   1 .. 4096
 *   [n]  path              UTF-8, relative, '/'-separated: `FORMAT`, `tree[/...]`, `wal[/...]`
 *   u64  sizeBytes         0 for a directory
 *   u32  crc32c of this entry header's bytes above
 * file content, after a file's entry header: ceil(sizeBytes / chunkSizeBytes) chunks
 *   [k]  content           k = min(chunkSizeBytes, bytes of the file still to come)
 *   u32  crc32c of those k bytes
 * end frame (21 bytes)
 *   u8   kind 'E' (0x45)
 *   u32  entryCount        again, as a check on the count in the archive header
 *   u64  totalSizeBytes    sum of all file sizes
 *   u32  headersCrc32c     crc32c over every header byte (archive header and all entry headers,
 *                          their crc fields included), chained in stream order
 *   u32  crc32c of the end frame's 17 bytes above
 * ```
 *
 * Why this shape: a chunk checksum per at most 1 MiB finds damage close to where it happens and
 * lets both sides work with one chunk in memory; the chunk size sits in the checksummed archive
 * header instead of a length prefix per chunk, so no unprotected length is ever trusted; each
 * header carries its own checksum so a damaged path or size is caught before it is acted on; the
 * end frame proves the stream is complete (a truncated archive never verifies) and that no header
 * was dropped or reordered. The stream ends right after the end frame.
 *
 * @module
 */
import { StrataError, crc32c, invariant } from '@strata/core';
import { DATA_DIRECTORY_NAMES } from '@strata/store';

/** First 8 bytes of every archive. */
export const ARCHIVE_MAGIC = Buffer.from('STRATACP', 'ascii');
/** The archive format this code writes and reads. */
export const ARCHIVE_FORMAT_VERSION = 1;
/** Largest content chunk: bounds the memory of writer and reader alike. */
export const MAX_ARCHIVE_CHUNK_BYTES = 1024 * 1024;
/** Largest path in an entry header, in UTF-8 bytes. */
export const MAX_ARCHIVE_PATH_BYTES = 4096;

/** Bytes of the archive header, magic and checksum included. */
export const ARCHIVE_HEADER_BYTES = 40;
/** Bytes of the archive header read before the version is known (magic + version). */
export const ARCHIVE_PREAMBLE_BYTES = 12;
/** Bytes of an entry header before the path (kind, path length). */
export const ENTRY_PREFIX_BYTES = 3;
/** Bytes of an entry header after the path (size, checksum). */
export const ENTRY_SUFFIX_BYTES = 12;
/** Bytes of the end frame. */
export const END_FRAME_BYTES = 21;
/** Bytes of the checksum after each content chunk. */
export const CHUNK_CHECKSUM_BYTES = 4;

/** Kind byte of a regular-file entry ('F'). */
export const ENTRY_KIND_FILE = 0x46;
/** Kind byte of a directory entry ('D'). */
export const ENTRY_KIND_DIRECTORY = 0x44;
/** Kind byte of the end frame ('E'). */
export const END_FRAME_KIND = 0x45;

/** How errors name the archive (it has no file name of its own). */
export const ARCHIVE_NAME = 'checkpoint archive';

/** What an archive is a copy of. */
export interface ArchiveHeader {
  /** The checkpoint holds every write up to this seqno. */
  readonly seqno: number;
  /** Writes up to this seqno are in the tree's segments; the rest is in the WAL tail. */
  readonly treeSeqno: number;
  /** Entries (files and directories) in the archive. */
  readonly entryCount: number;
  /** Content chunk size, 1 .. {@link MAX_ARCHIVE_CHUNK_BYTES}. */
  readonly chunkSizeBytes: number;
}

/** One file or directory of an archive. */
export interface ArchiveEntry {
  readonly kind: 'file' | 'directory';
  /** Relative to the data directory, '/'-separated; see {@link checkArchivePath}. */
  readonly path: string;
  /** Content length; 0 for a directory. */
  readonly sizeBytes: number;
}

/** The top-level names an archive may hold: the parts of a data directory a checkpoint copies. */
export const ARCHIVE_ROOT_DIRECTORIES: readonly string[] = [
  DATA_DIRECTORY_NAMES.tree,
  DATA_DIRECTORY_NAMES.wal,
];
/** The one top-level file an archive may hold. */
export const ARCHIVE_ROOT_FILE = DATA_DIRECTORY_NAMES.format;

/**
 * Why `path` may not appear in an archive as an entry of `kind`, or `undefined` when it may.
 * Allowed: the file `FORMAT`, the directories `tree` and `wal`, and anything below those two.
 * Refused: absolute paths, empty, `.` or `..` components, backslashes, NUL bytes: a follower must
 * never write outside its `bootstrap.tmp/`, nor over `LOCK` or `meta.sqlite`.
 */
export function archivePathProblem(path: string, kind: ArchiveEntry['kind']): string | undefined {
  if (path.length === 0) return 'the path is empty';
  if (path.startsWith('/')) return 'the path is absolute';
  if (path.includes('\\')) return 'the path contains a backslash';
  if (path.includes('\0')) return 'the path contains a NUL byte';
  const parts = path.split('/');
  for (const part of parts) {
    if (part === '') return 'the path has an empty component';
    if (part === '.' || part === '..') return `the path has a '${part}' component`;
  }
  const top = parts[0];
  if (top === ARCHIVE_ROOT_FILE) {
    return parts.length === 1 && kind === 'file'
      ? undefined
      : `${ARCHIVE_ROOT_FILE} must be a file`;
  }
  if (top !== undefined && ARCHIVE_ROOT_DIRECTORIES.includes(top)) {
    return parts.length === 1 && kind === 'file' ? `${top} must be a directory` : undefined;
  }
  return `only ${ARCHIVE_ROOT_FILE}, tree/ and wal/ may be in a checkpoint archive`;
}

/**
 * Throws `INVALID_ARGUMENT` unless `path` may be an archive entry of `kind` (see
 * {@link archivePathProblem}); `offset` is where its entry header starts in the archive.
 */
export function checkArchivePath(path: string, kind: ArchiveEntry['kind'], offset: number): void {
  const problem = archivePathProblem(path, kind);
  if (problem !== undefined) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `checkpoint archive entry at offset ${offset} has a refused path ${JSON.stringify(path)}: ${problem}`,
      { details: { file: ARCHIVE_NAME, offset, entryPath: path } },
    );
  }
}

/**
 * Encodes an archive frame by frame, keeping the running checksum over the headers and the totals
 * that the end frame carries. The writer uses it; tests use it to build damaged archives whose
 * checksums are nevertheless right.
 *
 * @example
 * ```ts
 * const encoder = new ArchiveEncoder();
 * const parts = [
 *   encoder.header({ seqno: 9, treeSeqno: 5, entryCount: 1, chunkSizeBytes: 4 }),
 *   encoder.entry({ kind: 'file', path: 'FORMAT', sizeBytes: 6 }),
 *   encoder.chunk(Buffer.from('strata')),
 *   encoder.end(),
 * ];
 * ```
 */
export class ArchiveEncoder {
  private headersCrc = 0;
  private entries = 0;
  private totalSizeBytes = 0;

  /** The archive header (magic, version, checkpoint seqnos, counts). */
  header(header: ArchiveHeader, formatVersion = ARCHIVE_FORMAT_VERSION): Buffer {
    const bytes = Buffer.alloc(ARCHIVE_HEADER_BYTES);
    ARCHIVE_MAGIC.copy(bytes, 0);
    bytes.writeUInt32LE(formatVersion, 8);
    bytes.writeBigUInt64LE(BigInt(header.seqno), 12);
    bytes.writeBigUInt64LE(BigInt(header.treeSeqno), 20);
    bytes.writeUInt32LE(header.entryCount, 28);
    bytes.writeUInt32LE(header.chunkSizeBytes, 32);
    bytes.writeUInt32LE(crc32c(bytes.subarray(0, 36)), 36);
    this.headersCrc = crc32c(bytes, this.headersCrc);
    return bytes;
  }

  /** An entry header; for a file, its content chunks must follow. */
  entry(entry: ArchiveEntry): Buffer {
    const path = Buffer.from(entry.path, 'utf8');
    invariant(path.length <= MAX_ARCHIVE_PATH_BYTES, 'archive path too long');
    const bytes = Buffer.alloc(ENTRY_PREFIX_BYTES + path.length + ENTRY_SUFFIX_BYTES);
    bytes.writeUInt8(entry.kind === 'file' ? ENTRY_KIND_FILE : ENTRY_KIND_DIRECTORY, 0);
    bytes.writeUInt16LE(path.length, 1);
    path.copy(bytes, ENTRY_PREFIX_BYTES);
    const sizeAt = ENTRY_PREFIX_BYTES + path.length;
    bytes.writeBigUInt64LE(BigInt(entry.sizeBytes), sizeAt);
    bytes.writeUInt32LE(crc32c(bytes.subarray(0, sizeAt + 8)), sizeAt + 8);
    this.headersCrc = crc32c(bytes, this.headersCrc);
    this.entries++;
    this.totalSizeBytes += entry.sizeBytes;
    return bytes;
  }

  /** A content chunk followed by its checksum (a copy of `content`). */
  chunk(content: Uint8Array): Buffer {
    const frame = Buffer.allocUnsafe(content.byteLength + CHUNK_CHECKSUM_BYTES);
    frame.set(content, 0);
    sealChunk(frame, content.byteLength);
    return frame;
  }

  /** The end frame: totals and the checksum over all headers so far. */
  end(): Buffer {
    const bytes = Buffer.alloc(END_FRAME_BYTES);
    bytes.writeUInt8(END_FRAME_KIND, 0);
    bytes.writeUInt32LE(this.entries, 1);
    bytes.writeBigUInt64LE(BigInt(this.totalSizeBytes), 5);
    bytes.writeUInt32LE(this.headersCrc, 13);
    bytes.writeUInt32LE(crc32c(bytes.subarray(0, 17)), 17);
    return bytes;
  }
}

/**
 * Writes the checksum of `frame[0, contentBytes)` into `frame[contentBytes, contentBytes + 4)`:
 * the writer reads a file piece straight into a frame and seals it in place, with no extra copy.
 */
export function sealChunk(frame: Buffer, contentBytes: number): void {
  invariant(
    frame.length === contentBytes + CHUNK_CHECKSUM_BYTES,
    'a chunk frame is its content plus a checksum',
  );
  frame.writeUInt32LE(crc32c(frame.subarray(0, contentBytes)), contentBytes);
}
