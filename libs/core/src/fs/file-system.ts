/**
 * The file-system seam. Every byte Strata stores goes through these two interfaces, so tests can
 * substitute a {@link SimulatedFileSystem} that loses unsynced data or fails with EIO/ENOSPC.
 * Errors are thrown as Node does: an `Error` with a string `code` (`ENOENT`, `EIO`, `ENOSPC`, ...).
 */

/** How a file is opened. */
export type OpenMode =
  /** Read only; the file must exist. */
  | 'read'
  /** Read and write; the file must exist. */
  | 'read-write'
  /** Create a new file for read and write; fails with EEXIST if it exists. */
  | 'create-exclusive';

/** Options of {@link FileSystem.open}. */
export interface OpenOptions {
  /**
   * Open with O_DSYNC: every write returns only once its data (and the size change) is on stable
   * storage, as if followed by fdatasync, in one system call.
   */
  readonly dsync?: boolean;
}

/** An open file. Positions are explicit: there is no shared file cursor. */
export interface FileHandle {
  /** Reads up to `length` bytes at `position` into `buffer[offset..]`; resolves with the count read. */
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  /**
   * The same read, synchronously. For small reads that usually hit the page cache (a segment
   * block): a threadpool round trip costs far more than the copy. Blocks the event loop on a
   * real disk read, so use it only for bounded, small reads.
   */
  readSync(buffer: Uint8Array, offset: number, length: number, position: number): number;
  /** Writes all of `buffers`, back to back, starting at `position`. */
  writev(buffers: readonly Uint8Array[], position: number): Promise<void>;
  /**
   * The same write, synchronously. For writes into the page cache (no O_DSYNC): a few
   * microseconds, far less than a threadpool round trip. Do not use it on an O_DSYNC handle.
   */
  writevSync(buffers: readonly Uint8Array[], position: number): void;
  /** Flushes the file's data (and the size, if it changed) to stable storage. */
  datasync(): Promise<void>;
  /** Sets the file's length. */
  truncate(lengthBytes: number): Promise<void>;
  /** The file's current length. */
  sizeBytes(): Promise<number>;
  close(): Promise<void>;
}

/** What {@link FileSystem.stat} reports. */
export interface FileStat {
  readonly sizeBytes: number;
  readonly modifiedAtMs: number;
  readonly isDirectory: boolean;
  /**
   * Directory entries naming this file (hard links). A log file shared with a checkpoint
   * (more than 1) is copied before it is written or cut, never changed in place.
   */
  readonly linkCount: number;
}

/** Directory and file operations. Paths are absolute or relative to the process's cwd. */
export interface FileSystem {
  open(path: string, mode: OpenMode, options?: OpenOptions): Promise<FileHandle>;
  /** Names (not paths) of the entries in a directory, in no particular order. */
  readdir(path: string): Promise<string[]>;
  /** Creates a directory and any missing parents; no error if it exists. */
  mkdir(path: string): Promise<void>;
  /** Atomically replaces `to` with `from` (POSIX rename). Durable only after {@link syncDirectory}. */
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** Removes a directory tree; no error if it does not exist. */
  removeTree(path: string): Promise<void>;
  /** Creates a hard link `to` that shares `from`'s data. */
  link(from: string, to: string): Promise<void>;
  stat(path: string): Promise<FileStat>;
  /** True when `path` exists. */
  exists(path: string): Promise<boolean>;
  /** Makes the directory's entries (created, renamed, removed files) durable. */
  syncDirectory(path: string): Promise<void>;
  /** Reads a whole file. */
  readFile(path: string): Promise<Buffer>;
}

/** The `code` of an error thrown by a file system, if any (`ENOENT`, `EIO`, ...). */
export function errnoOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
