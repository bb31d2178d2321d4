import { dirname, join } from 'node:path';
import { StrataError, writeFileAtomically } from '@strata/core';
import type { FileSystem } from '@strata/core';

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
  const upgrade = await fs.exists(directory.formatFile);
  if (upgrade) {
    const version = parseFormatMarker((await fs.readFile(directory.formatFile)).toString());
    if (version === DATA_FORMAT_VERSION) return;
    if (version !== 1) throw unsupportedFormat(directory, version);
  }
  await writeFileAtomically(
    fs,
    directory.formatFile,
    Buffer.from(`strata-data ${DATA_FORMAT_VERSION}\n`),
  );
  // A new data directory: its own entry in the folder holding it must be durable too, or a power
  // loss could take the whole directory, acknowledged writes and all.
  if (!upgrade) await fs.syncDirectory(dirname(directory.root));
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
