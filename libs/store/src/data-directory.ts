import { dirname, join } from 'node:path';
import { StrataError, createFileWith, errnoOf, settleAll, writeFileAtomically } from '@strata/core';
import type { FileHandle, FileSystem } from '@strata/core';

/**
 * Format version of a Strata data directory; bumped when the layout or what it may hold changes
 * incompatibly. Version 2: the empty key is an ordinary key, so the log and the tree may hold it
 * (builds that read only version 1 refuse it as corruption; the version makes them refuse the
 * directory up front, with their clear `UNSUPPORTED_FORMAT` error, instead).
 */
export const DATA_FORMAT_VERSION = 2;

/**
 * The versions this build opens: {@link DATA_FORMAT_VERSION}, and 1, which cannot hold an empty
 * key and so is version 2's content as it is: its format marker is rewritten to 2 on open.
 */
export const SUPPORTED_DATA_FORMAT_VERSIONS: readonly number[] = [1, DATA_FORMAT_VERSION];

/**
 * The names inside a data directory, relative to its root: the one place they are spelled out.
 * Everything that builds a path into a data directory (the store, bootstrap's staging and swap,
 * the CLI's offline commands, backups) asks {@link dataDirectory} or these names.
 */
export const DATA_DIRECTORY_NAMES = {
  /** Held by the process that has the directory open (an advisory lock with its pid). */
  lock: 'LOCK',
  /** The directory's format version: `strata-data <version>`. */
  format: 'FORMAT',
  /** Cluster metadata (SQLite), written by the replication layer; absent on a standalone node. */
  meta: 'meta.sqlite',
  /** The write-ahead log's segments. */
  wal: 'wal',
  /** The LSM tree's segments and manifest. */
  tree: 'tree',
} as const;

/**
 * The layout of a data directory: `LOCK`, `FORMAT` (this file's version), `meta.sqlite`
 * (replication), `wal/`, `tree/`.
 */
export interface DataDirectory {
  readonly root: string;
  readonly lockFile: string;
  readonly formatFile: string;
  /** Cluster metadata; only a clustered node creates it. */
  readonly metaFile: string;
  readonly walDirectory: string;
  readonly treeDirectory: string;
}

/**
 * The paths of the data directory at `root`.
 *
 * @example
 * ```ts
 * import { dataDirectory } from '@strata/store';
 * const { walDirectory, metaFile } = dataDirectory('/var/lib/strata');
 * ```
 */
export function dataDirectory(root: string): DataDirectory {
  return {
    root,
    lockFile: join(root, DATA_DIRECTORY_NAMES.lock),
    formatFile: join(root, DATA_DIRECTORY_NAMES.format),
    metaFile: join(root, DATA_DIRECTORY_NAMES.meta),
    walDirectory: join(root, DATA_DIRECTORY_NAMES.wal),
    treeDirectory: join(root, DATA_DIRECTORY_NAMES.tree),
  };
}

/**
 * Creates the directory's format marker if it is new, or checks it. A version-1 directory (which
 * cannot hold an empty key) is upgraded in place: its marker is rewritten to
 * {@link DATA_FORMAT_VERSION} atomically and durably (temporary file, fsync, rename, fsync of the
 * directory), so that older builds refuse it from then on; nothing else changes. Call it with the
 * directory's lock held.
 *
 * @throws StrataError `UNSUPPORTED_FORMAT` for any other marker (another version, or text that is
 * not `strata-data <version>`), before anything is touched, with `details.file`, `details.version`
 * (the number found, or the text when it is not one) and `details.supportedVersions`; `IO_ERROR`.
 */
export async function checkOrCreateFormat(fs: FileSystem, directory: DataDirectory): Promise<void> {
  await fs.mkdir(directory.root);
  const marker = await readFormatMarker(fs, directory);
  if (marker !== undefined) {
    await checkExistingFormat(fs, directory, marker);
    return;
  }
  await writeFileAtomically(fs, directory.formatFile, formatMarkerBytes());
  // A new data directory: its own entry in the folder holding it must be durable too, or a power
  // loss could take the whole directory, acknowledged writes and all.
  await fs.syncDirectory(dirname(directory.root));
}

/**
 * The bytes of the directory's format marker, or undefined when it has none. Opened and read
 * with one small synchronous read (the marker is a line; the page cache holds it): two threadpool
 * round trips instead of the four of a whole-file read.
 *
 * @throws the file system's error for anything but a missing marker.
 */
export async function readFormatMarker(
  fs: FileSystem,
  directory: DataDirectory,
): Promise<Buffer | undefined> {
  let handle: FileHandle;
  try {
    handle = await fs.open(directory.formatFile, 'read');
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const buffer = Buffer.alloc(FORMAT_MARKER_READ_BYTES);
    let length = 0;
    // A marker longer than this is not one this build reads: its start is enough to say so.
    while (length < buffer.length) {
      const read = handle.readSync(buffer, length, buffer.length - length, length);
      if (read === 0) break;
      length += read;
    }
    return buffer.subarray(0, length);
  } finally {
    await handle.close();
  }
}

/** Bytes of a format marker read: any marker this build reads is a dozen. */
const FORMAT_MARKER_READ_BYTES = 256;

/**
 * Checks the format marker `marker` (its bytes, from {@link readFormatMarker}), upgrading a
 * version-1 marker as {@link checkOrCreateFormat} does. Call it with the directory's lock held.
 *
 * @throws StrataError `UNSUPPORTED_FORMAT` (before anything is touched), `IO_ERROR`.
 */
export async function checkExistingFormat(
  fs: FileSystem,
  directory: DataDirectory,
  marker: Buffer,
): Promise<void> {
  const version = parseFormatMarker(marker.toString());
  if (version === DATA_FORMAT_VERSION) return;
  if (version !== 1) throw unsupportedFormat(directory, version);
  await writeFileAtomically(fs, directory.formatFile, formatMarkerBytes());
}

/**
 * Writes the format marker of a new data directory: a temporary file, fdatasynced, renamed into
 * place. The name is not made durable here: the caller creates the rest of the directory at the
 * same time and then fsyncs the directory (and the folder holding it) once for every new name.
 * The marker's bytes are durable before its name can be, so a power loss never leaves a torn
 * marker (which would refuse to open as `UNSUPPORTED_FORMAT`), only a missing one.
 */
export async function writeNewFormatMarker(
  fs: FileSystem,
  directory: DataDirectory,
): Promise<void> {
  const temporary = join(directory.root, `.${DATA_DIRECTORY_NAMES.format}.tmp`);
  // A leftover of a creation cut short is replaced.
  const handle = await createFileWith(fs, temporary, [formatMarkerBytes()]);
  try {
    await handle.datasync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw error;
  }
  // Its bytes are durable: the rename need not wait for the close (a round trip fewer).
  await settleAll([handle.close(), fs.rename(temporary, directory.formatFile)]);
}

function formatMarkerBytes(): Buffer {
  return Buffer.from(`strata-data ${DATA_FORMAT_VERSION}\n`);
}

/** The version a format marker names: a number, or the marker's text when it names none. */
function parseFormatMarker(marker: string): number | string {
  const text = marker.trim();
  const match = /^strata-data (\d{1,15})$/.exec(text);
  return match ? Number(match[1]) : text.length > 64 ? `${text.slice(0, 64)}...` : text;
}

function unsupportedFormat(directory: DataDirectory, version: number | string): StrataError {
  const found =
    typeof version === 'number'
      ? `format version ${version}`
      : `no format version (${JSON.stringify(version)})`;
  return new StrataError(
    'UNSUPPORTED_FORMAT',
    `data directory ${directory.root}: ${directory.formatFile} holds ${found}; this Strata reads versions ${SUPPORTED_DATA_FORMAT_VERSIONS.join(' and ')} (1 is upgraded to ${DATA_FORMAT_VERSION} on open)`,
    {
      details: {
        file: directory.formatFile,
        version,
        supportedVersions: SUPPORTED_DATA_FORMAT_VERSIONS,
        supportedVersion: DATA_FORMAT_VERSION,
      },
    },
  );
}
