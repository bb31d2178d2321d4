import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { StrataError, invariant, ioError, nodeFileSystem } from '@strata/core';
import type { FileHandle, FileSystem } from '@strata/core';
import type { CheckpointOptions, Store } from '@strata/store';
import {
  ARCHIVE_ROOT_DIRECTORIES,
  ARCHIVE_ROOT_FILE,
  ArchiveEncoder,
  CHUNK_CHECKSUM_BYTES,
  MAX_ARCHIVE_CHUNK_BYTES,
  archivePathProblem,
  sealChunk,
} from './archive-format.js';
import type { ArchiveEntry } from './archive-format.js';

/** Options of {@link archiveDirectory}. */
export interface ArchiveDirectoryOptions {
  /** The file system holding the directory. Default: the real one. */
  readonly fileSystem?: FileSystem;
  /** Content chunk size, 1 .. 1 MiB. Default 1 MiB. */
  readonly chunkSizeBytes?: number;
  /** Stops the stream (the generator throws the signal's reason) and closes the open file. */
  readonly signal?: AbortSignal;
}

/** Options of {@link checkpointArchive}. */
export interface CheckpointArchiveOptions extends ArchiveDirectoryOptions {
  /**
   * Where the checkpoint copy is made (in a fresh, uniquely named folder below it) and removed
   * again. Must be on the same file system as the store's data: the copy hard-links segments.
   */
  readonly scratchDirectory: string;
  /** Default: the store's own file system (the checkpoint is made through it). */
  readonly fileSystem?: FileSystem;
  /** Passed to `store.checkpoint()` (a backup asks for the whole retained log). */
  readonly checkpoint?: CheckpointOptions;
}

/** What the seqnos of an archive are; see {@link ArchiveHeader}. */
export interface ArchiveSeqnos {
  readonly seqno: number;
  readonly treeSeqno: number;
}

interface ListedEntry extends ArchiveEntry {
  readonly absolutePath: string;
}

/**
 * Streams a checkpoint archive of the leader's store (format: archive-format.ts): makes
 * `store.checkpoint()` into a fresh folder below `scratchDirectory`, streams that folder with
 * {@link archiveDirectory}, and removes the folder when the stream ends, fails, is aborted or the
 * consumer stops early (`return()` on the generator, as `for await ... break` and
 * `Readable.from(...).destroy()` do). Memory stays at about one chunk: files are read piece by
 * piece, and nothing is made before the first `next()`.
 *
 * @example
 * ```ts
 * // In the leader's HTTP route GET /v1/internal/checkpoint:
 * const archive = checkpointArchive(store, { scratchDirectory: './data/checkpoints', signal });
 * reply.type('application/octet-stream').send(Readable.from(archive));
 * ```
 */
export async function* checkpointArchive(
  store: Store,
  options: CheckpointArchiveOptions,
): AsyncGenerator<Buffer, void, undefined> {
  const fs = options.fileSystem ?? store.fileSystem;
  options.signal?.throwIfAborted();
  const directory = join(options.scratchDirectory, `checkpoint-${Date.now()}-${randomUUID()}`);
  let removeError: unknown;
  try {
    try {
      await fs.mkdir(options.scratchDirectory);
    } catch (error) {
      throw ioError('mkdir', options.scratchDirectory, error);
    }
    const result = await store.checkpoint(directory, options.checkpoint);
    yield* archiveDirectory(
      directory,
      { seqno: result.seqno, treeSeqno: result.treeSeqno },
      { ...options, fileSystem: fs },
    );
  } finally {
    // A copy left behind pins the hard-linked segments' disk space: always remove it.
    await fs.removeTree(directory).catch((error: unknown) => {
      removeError = error;
    });
  }
  // Reached only when the stream completed: a failed removal must not hide an earlier error.
  if (removeError !== undefined) throw ioError('remove', directory, removeError);
}

/**
 * Streams `directory` (a checkpoint copy, or a closed data directory) as a checkpoint archive
 * (format: archive-format.ts) carrying `seqnos`. Only `FORMAT`, `tree/` and `wal/` are archived;
 * anything else at the top (`LOCK`, `meta.sqlite`) is node-local and skipped. Directories come
 * before what they hold, names in sorted order, so the same directory gives the same bytes.
 *
 * The directory must not change while it is streamed (checkpoint files are immutable); a file that
 * shrinks meanwhile fails the stream with `IO_ERROR`.
 *
 * Each yielded Buffer is fresh: the consumer may keep it (a socket's write queue does).
 */
export async function* archiveDirectory(
  directory: string,
  seqnos: ArchiveSeqnos,
  options: ArchiveDirectoryOptions = {},
): AsyncGenerator<Buffer, void, undefined> {
  const fs = options.fileSystem ?? nodeFileSystem;
  const chunkSizeBytes = options.chunkSizeBytes ?? MAX_ARCHIVE_CHUNK_BYTES;
  if (
    !Number.isSafeInteger(chunkSizeBytes) ||
    chunkSizeBytes < 1 ||
    chunkSizeBytes > MAX_ARCHIVE_CHUNK_BYTES
  ) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `chunkSizeBytes must be an integer in 1..${MAX_ARCHIVE_CHUNK_BYTES}, got ${chunkSizeBytes}`,
    );
  }
  const { seqno, treeSeqno } = seqnos;
  if (!Number.isSafeInteger(seqno) || !Number.isSafeInteger(treeSeqno) || treeSeqno < 0) {
    throw new StrataError('INVALID_ARGUMENT', 'seqno and treeSeqno must be non-negative integers');
  }
  if (treeSeqno > seqno) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `treeSeqno ${treeSeqno} cannot be above the checkpoint's seqno ${seqno}`,
    );
  }
  const signal = options.signal;
  signal?.throwIfAborted();
  const entries = await listEntries(fs, directory);
  const encoder = new ArchiveEncoder();
  yield encoder.header({ seqno, treeSeqno, entryCount: entries.length, chunkSizeBytes });
  for (const entry of entries) {
    signal?.throwIfAborted();
    yield encoder.entry(entry);
    if (entry.kind === 'file') yield* fileChunks(fs, entry, chunkSizeBytes, signal);
  }
  yield encoder.end();
}

async function* fileChunks(
  fs: FileSystem,
  entry: ListedEntry,
  chunkSizeBytes: number,
  signal: AbortSignal | undefined,
): AsyncGenerator<Buffer, void, undefined> {
  if (entry.sizeBytes === 0) return;
  let handle: FileHandle;
  try {
    handle = await fs.open(entry.absolutePath, 'read');
  } catch (error) {
    throw ioError('open', entry.absolutePath, error);
  }
  try {
    for (let position = 0; position < entry.sizeBytes;) {
      signal?.throwIfAborted();
      const lengthBytes = Math.min(chunkSizeBytes, entry.sizeBytes - position);
      // Read straight into the frame and seal it in place: one allocation per chunk, no copy.
      const frame = Buffer.allocUnsafe(lengthBytes + CHUNK_CHECKSUM_BYTES);
      await readFully(handle, frame, lengthBytes, position, entry);
      sealChunk(frame, lengthBytes);
      position += lengthBytes;
      yield frame;
    }
  } finally {
    await handle.close().catch(() => undefined);
  }
}

async function readFully(
  handle: FileHandle,
  target: Buffer,
  lengthBytes: number,
  position: number,
  entry: ListedEntry,
): Promise<void> {
  let filled = 0;
  while (filled < lengthBytes) {
    let read: number;
    try {
      read = await handle.read(target, filled, lengthBytes - filled, position + filled);
    } catch (error) {
      throw ioError('read', entry.absolutePath, error);
    }
    if (read === 0) {
      throw new StrataError(
        'IO_ERROR',
        `${entry.absolutePath} ended at ${position + filled} bytes, before the ${entry.sizeBytes} it had when listed: it changed while being archived`,
        { details: { file: entry.absolutePath, offset: position + filled } },
      );
    }
    filled += read;
  }
}

/** The entries to archive, in stream order: directories before their contents, names sorted. */
async function listEntries(fs: FileSystem, directory: string): Promise<ListedEntry[]> {
  const entries: ListedEntry[] = [];
  const add = (entry: ListedEntry): void => {
    // The writer only ever lists what a checkpoint holds; a refused path here is a bug, and the
    // follower would refuse it anyway.
    const problem = archivePathProblem(entry.path, entry.kind);
    invariant(problem === undefined, `cannot archive ${entry.path}: ${problem}`);
    entries.push(entry);
  };
  const formatPath = join(directory, ARCHIVE_ROOT_FILE);
  const format = await statIfPresent(fs, formatPath);
  if (format && !format.isDirectory) {
    add({
      kind: 'file',
      path: ARCHIVE_ROOT_FILE,
      sizeBytes: format.sizeBytes,
      absolutePath: formatPath,
    });
  }
  const walk = async (relative: string, absolute: string): Promise<void> => {
    add({ kind: 'directory', path: relative, sizeBytes: 0, absolutePath: absolute });
    let names: string[];
    try {
      names = await fs.readdir(absolute);
    } catch (error) {
      throw ioError('readdir', absolute, error);
    }
    for (const name of names.sort()) {
      const childAbsolute = join(absolute, name);
      const childRelative = `${relative}/${name}`;
      const stat = await statIfPresent(fs, childAbsolute);
      if (!stat) continue;
      if (stat.isDirectory) await walk(childRelative, childAbsolute);
      else
        add({
          kind: 'file',
          path: childRelative,
          sizeBytes: stat.sizeBytes,
          absolutePath: childAbsolute,
        });
    }
  };
  for (const name of ARCHIVE_ROOT_DIRECTORIES) {
    const absolute = join(directory, name);
    const stat = await statIfPresent(fs, absolute);
    if (stat?.isDirectory) await walk(name, absolute);
  }
  invariant(entries.length <= 0xffff_ffff, 'too many entries for one archive');
  return entries;
}

async function statIfPresent(
  fs: FileSystem,
  path: string,
): Promise<{ isDirectory: boolean; sizeBytes: number } | undefined> {
  try {
    if (!(await fs.exists(path))) return undefined;
    return await fs.stat(path);
  } catch (error) {
    throw ioError('stat', path, error);
  }
}
