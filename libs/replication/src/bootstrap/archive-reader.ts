import { StrataError, corruptionError, crc32c, isStrataError } from '@strata/core';
import {
  ARCHIVE_FORMAT_VERSION,
  ARCHIVE_HEADER_BYTES,
  ARCHIVE_MAGIC,
  ARCHIVE_NAME,
  ARCHIVE_PREAMBLE_BYTES,
  CHUNK_CHECKSUM_BYTES,
  END_FRAME_BYTES,
  END_FRAME_KIND,
  ENTRY_KIND_DIRECTORY,
  ENTRY_KIND_FILE,
  ENTRY_PREFIX_BYTES,
  ENTRY_SUFFIX_BYTES,
  MAX_ARCHIVE_CHUNK_BYTES,
  MAX_ARCHIVE_PATH_BYTES,
  checkArchivePath,
} from './archive-format.js';

/**
 * Receives an archive's entries as {@link readCheckpointArchive} verifies them. Calls come one at a
 * time, in stream order: `directory`, or `beginFile`, its `chunk`s, `endFile`. A chunk is handed
 * over only after its checksum matched; the whole archive is verified only when
 * `readCheckpointArchive` resolves, so a sink must stage what it gets until then.
 */
export interface ArchiveSink {
  /** A directory (it precedes everything below it). */
  directory(path: string): Promise<void>;
  /** A file of `sizeBytes` starts; its chunks follow. */
  beginFile(path: string, sizeBytes: number): Promise<void>;
  /**
   * The next verified piece of the current file. `content` is valid only until the returned
   * promise settles: the reader reuses its buffer for the next chunk.
   */
  chunk(content: Buffer): Promise<void>;
  /** The current file is complete. */
  endFile(): Promise<void>;
}

/** What a fully verified archive held. */
export interface ArchiveSummary {
  readonly seqno: number;
  readonly treeSeqno: number;
  /** Entries: files and directories. */
  readonly entries: number;
  /** Regular files. */
  readonly files: number;
  /** Sum of the files' sizes. */
  readonly sizeBytes: number;
  /** Bytes of the archive stream itself. */
  readonly archiveSizeBytes: number;
}

/** Options of {@link readCheckpointArchive}. */
export interface ReadArchiveOptions {
  /**
   * An archive whose files add up to more than this is refused (`CORRUPTION`) as soon as an entry
   * header says so, before its bytes are written. Default: no limit.
   */
  readonly maxTotalBytes?: number;
}

// A fatal decoder: a path that is not valid UTF-8 is refused instead of being silently repaired.
const utf8 = new TextDecoder('utf-8', { fatal: true });
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Parses and verifies a checkpoint archive (format: archive-format.ts) from `source`, whose pieces
 * may be split at any byte, handing each entry to `sink`. Memory stays at one content chunk plus a
 * header buffer, whatever the archive's size. Resolves only after the end frame verified (counts,
 * totals, the checksum over all headers) and the stream ended right after it.
 *
 * The source is closed (`return()`) when reading stops early. Errors name the archive offset:
 * `CORRUPTION` (bad magic, a checksum mismatch, truncation, trailing bytes, a duplicate entry,
 * more than `maxTotalBytes`), `UNSUPPORTED_FORMAT` (an unknown version), `INVALID_ARGUMENT` (a
 * refused path); errors of the sink and `StrataError`s of the source pass through, other source
 * errors become `IO_ERROR`.
 *
 * @example
 * ```ts
 * const summary = await readCheckpointArchive(archiveBytes, {
 *   directory: async (path) => console.log('dir', path),
 *   beginFile: async (path, sizeBytes) => console.log('file', path, sizeBytes),
 *   chunk: async (content) => hash.update(content),
 *   endFile: async () => undefined,
 * });
 * ```
 */
export async function readCheckpointArchive(
  source: AsyncIterable<Uint8Array>,
  sink: ArchiveSink,
  options: ReadArchiveOptions = {},
): Promise<ArchiveSummary> {
  const maxTotalBytes = options.maxTotalBytes ?? Number.POSITIVE_INFINITY;
  if (!(maxTotalBytes >= 0)) {
    throw new StrataError('INVALID_ARGUMENT', 'maxTotalBytes must be a non-negative number');
  }
  const input = new ByteSource(source);
  try {
    // One buffer for every header: the largest is an entry header with a maximal path.
    const header = Buffer.allocUnsafe(
      ENTRY_PREFIX_BYTES + MAX_ARCHIVE_PATH_BYTES + ENTRY_SUFFIX_BYTES,
    );
    await input.read(header, 0, ARCHIVE_PREAMBLE_BYTES, 'the archive header');
    if (!header.subarray(0, ARCHIVE_MAGIC.length).equals(ARCHIVE_MAGIC)) {
      throw corrupt(0, 'not a checkpoint archive (bad magic)');
    }
    const version = header.readUInt32LE(8);
    if (version !== ARCHIVE_FORMAT_VERSION) {
      throw new StrataError(
        'UNSUPPORTED_FORMAT',
        `checkpoint archive at offset 8: format version ${version} is not supported (this Strata reads version ${ARCHIVE_FORMAT_VERSION}); upgrade the follower or the leader`,
        {
          details: {
            file: ARCHIVE_NAME,
            offset: 8,
            version,
            supportedVersion: ARCHIVE_FORMAT_VERSION,
          },
        },
      );
    }
    await input.read(
      header,
      ARCHIVE_PREAMBLE_BYTES,
      ARCHIVE_HEADER_BYTES - ARCHIVE_PREAMBLE_BYTES,
      'the archive header',
    );
    const headerChecked = ARCHIVE_HEADER_BYTES - 4;
    if (crc32c(header.subarray(0, headerChecked)) !== header.readUInt32LE(headerChecked)) {
      throw corrupt(0, 'archive header checksum mismatch');
    }
    const seqno = readU64(header, 12, 0, 'seqno');
    const treeSeqno = readU64(header, 20, 0, 'treeSeqno');
    const entryCount = header.readUInt32LE(28);
    const chunkSizeBytes = header.readUInt32LE(32);
    if (chunkSizeBytes < 1 || chunkSizeBytes > MAX_ARCHIVE_CHUNK_BYTES) {
      throw corrupt(32, `chunk size ${chunkSizeBytes} is outside 1..${MAX_ARCHIVE_CHUNK_BYTES}`);
    }
    if (treeSeqno > seqno) {
      throw corrupt(20, `treeSeqno ${treeSeqno} is above the checkpoint's seqno ${seqno}`);
    }
    let headersCrc = crc32c(header.subarray(0, ARCHIVE_HEADER_BYTES));

    // Allocated at the first non-empty file, at most one chunk: the only content buffer.
    let content: Buffer | undefined;
    const checksum = Buffer.allocUnsafe(CHUNK_CHECKSUM_BYTES);
    const seen = new Set<string>();
    let files = 0;
    let sizeBytes = 0;
    for (let index = 0; index < entryCount; index++) {
      const entryOffset = input.offset;
      await input.read(header, 0, ENTRY_PREFIX_BYTES, `the header of entry ${index}`);
      const kindByte = header.readUInt8(0);
      const pathBytes = header.readUInt16LE(1);
      if (pathBytes < 1 || pathBytes > MAX_ARCHIVE_PATH_BYTES) {
        throw corrupt(entryOffset, `entry ${index} has a path length of ${pathBytes} bytes`);
      }
      await input.read(
        header,
        ENTRY_PREFIX_BYTES,
        pathBytes + ENTRY_SUFFIX_BYTES,
        `the header of entry ${index}`,
      );
      const sizeAt = ENTRY_PREFIX_BYTES + pathBytes;
      if (crc32c(header.subarray(0, sizeAt + 8)) !== header.readUInt32LE(sizeAt + 8)) {
        throw corrupt(entryOffset, `entry ${index} header checksum mismatch`);
      }
      headersCrc = crc32c(header.subarray(0, sizeAt + ENTRY_SUFFIX_BYTES), headersCrc);
      if (kindByte !== ENTRY_KIND_FILE && kindByte !== ENTRY_KIND_DIRECTORY) {
        throw corrupt(entryOffset, `entry ${index} has an unknown kind 0x${kindByte.toString(16)}`);
      }
      const kind = kindByte === ENTRY_KIND_FILE ? 'file' : 'directory';
      let path: string;
      try {
        path = utf8.decode(header.subarray(ENTRY_PREFIX_BYTES, sizeAt));
      } catch (error) {
        throw new StrataError(
          'INVALID_ARGUMENT',
          `checkpoint archive entry at offset ${entryOffset} has a path that is not UTF-8`,
          { cause: error, details: { file: ARCHIVE_NAME, offset: entryOffset } },
        );
      }
      checkArchivePath(path, kind, entryOffset);
      const entrySizeBytes = readU64(header, sizeAt, entryOffset, `size of ${path}`);
      if (kind === 'directory' && entrySizeBytes !== 0) {
        throw corrupt(entryOffset, `directory ${path} has a size of ${entrySizeBytes} bytes`);
      }
      if (seen.has(path)) throw corrupt(entryOffset, `${path} appears twice`, path);
      seen.add(path);
      if (sizeBytes + entrySizeBytes > maxTotalBytes) {
        throw corrupt(
          entryOffset,
          `the archive's files exceed the limit of ${maxTotalBytes} bytes (at ${path}, ${entrySizeBytes} bytes)`,
          path,
        );
      }
      sizeBytes += entrySizeBytes;
      if (kind === 'directory') {
        await sink.directory(path);
        continue;
      }
      files++;
      await sink.beginFile(path, entrySizeBytes);
      for (let position = 0, chunkIndex = 0; position < entrySizeBytes; chunkIndex++) {
        const chunkOffset = input.offset;
        const lengthBytes = Math.min(chunkSizeBytes, entrySizeBytes - position);
        content ??= Buffer.allocUnsafe(chunkSizeBytes);
        await input.read(content, 0, lengthBytes, `chunk ${chunkIndex} of ${path}`);
        await input.read(checksum, 0, CHUNK_CHECKSUM_BYTES, `chunk ${chunkIndex} of ${path}`);
        const piece = content.subarray(0, lengthBytes);
        if (crc32c(piece) !== checksum.readUInt32LE(0)) {
          throw corrupt(
            chunkOffset,
            `checksum mismatch in chunk ${chunkIndex} of ${path} (file bytes ${position}..${position + lengthBytes})`,
            path,
          );
        }
        await sink.chunk(piece);
        position += lengthBytes;
      }
      await sink.endFile();
    }

    const endOffset = input.offset;
    await input.read(header, 0, END_FRAME_BYTES, 'the end frame');
    if (header.readUInt8(0) !== END_FRAME_KIND) {
      throw corrupt(endOffset, 'expected the end frame after the last entry');
    }
    if (crc32c(header.subarray(0, END_FRAME_BYTES - 4)) !== header.readUInt32LE(17)) {
      throw corrupt(endOffset, 'end frame checksum mismatch');
    }
    const endEntries = header.readUInt32LE(1);
    const endSizeBytes = readU64(header, 5, endOffset, 'total size');
    if (endEntries !== entryCount || endSizeBytes !== sizeBytes) {
      throw corrupt(
        endOffset,
        `the end frame counts ${endEntries} entries and ${endSizeBytes} bytes, the archive held ${entryCount} and ${sizeBytes}`,
      );
    }
    if (header.readUInt32LE(13) !== headersCrc) {
      throw corrupt(endOffset, 'the checksum over all headers does not match');
    }
    if (!(await input.atEnd())) {
      throw corrupt(input.offset, 'bytes follow the end frame');
    }
    return {
      seqno,
      treeSeqno,
      entries: entryCount,
      files,
      sizeBytes,
      archiveSizeBytes: input.offset,
    };
  } finally {
    await input.close();
  }
}

function corrupt(offset: number, reason: string, entryPath?: string): StrataError {
  return corruptionError(
    ARCHIVE_NAME,
    offset,
    reason,
    entryPath === undefined ? {} : { entryPath },
  );
}

function readU64(buffer: Buffer, at: number, offset: number, what: string): number {
  const value = buffer.readBigUInt64LE(at);
  if (value > MAX_SAFE) throw corrupt(offset, `${what} ${value} is beyond 2^53`);
  return Number(value);
}

/**
 * Exact-length reads over an async iterable of byte pieces split at arbitrary points. Pieces are
 * viewed, not copied, until `read` copies into the caller's buffer: no allocation per byte.
 */
class ByteSource {
  /** Bytes of the archive consumed so far: the offset errors report. */
  offset = 0;
  private readonly iterator: AsyncIterator<Uint8Array>;
  private piece: Buffer = Buffer.alloc(0);
  private at = 0;
  private finished = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  /** Copies exactly `lengthBytes` into `target[targetStart..]`; CORRUPTION if the stream ends. */
  async read(
    target: Buffer,
    targetStart: number,
    lengthBytes: number,
    what: string,
  ): Promise<void> {
    let filled = 0;
    while (filled < lengthBytes) {
      if (this.at >= this.piece.length && !(await this.nextPiece())) {
        throw corrupt(this.offset, `the archive is truncated: it ends inside ${what}`);
      }
      const count = Math.min(lengthBytes - filled, this.piece.length - this.at);
      this.piece.copy(target, targetStart + filled, this.at, this.at + count);
      this.at += count;
      this.offset += count;
      filled += count;
    }
  }

  /** True when no byte is left. */
  async atEnd(): Promise<boolean> {
    return this.at >= this.piece.length && !(await this.nextPiece());
  }

  /** Closes the source unless it ended by itself (an HTTP body is cancelled, say). */
  async close(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    try {
      await this.iterator.return?.();
    } catch {
      // Closing is a courtesy to the source; the outcome of the read is already decided.
    }
  }

  private async nextPiece(): Promise<boolean> {
    while (!this.finished) {
      let result: IteratorResult<Uint8Array>;
      try {
        result = await this.iterator.next();
      } catch (error) {
        // The source failed by itself: it needs no return().
        this.finished = true;
        if (isStrataError(error)) throw error;
        throw new StrataError(
          'IO_ERROR',
          `reading the checkpoint archive failed: ${String(error)}`,
          {
            cause: error,
            details: { file: ARCHIVE_NAME, offset: this.offset },
          },
        );
      }
      if (result.done) {
        this.finished = true;
        return false;
      }
      const value = result.value;
      if (value.byteLength === 0) continue;
      this.piece = Buffer.isBuffer(value)
        ? value
        : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      this.at = 0;
      return true;
    }
    return false;
  }
}
