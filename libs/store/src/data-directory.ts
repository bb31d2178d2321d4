import { join } from 'node:path';
import { StrataError, writeFileAtomically } from '@strata/core';
import type { FileSystem } from '@strata/core';

/** Format version of a Strata data directory; bumped when the layout changes incompatibly. */
export const DATA_FORMAT_VERSION = 1;

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
 * Creates the directory's format marker if it is new, or checks it: a directory written by an
 * unknown format version is refused with `UNSUPPORTED_FORMAT` before anything is touched.
 */
export async function checkOrCreateFormat(fs: FileSystem, directory: DataDirectory): Promise<void> {
  await fs.mkdir(directory.root);
  if (await fs.exists(directory.formatFile)) {
    const text = (await fs.readFile(directory.formatFile)).toString().trim();
    const match = /^strata-data (\d+)$/.exec(text);
    if (!match) {
      throw new StrataError('CORRUPTION', `unreadable format marker ${directory.formatFile}`, {
        details: { file: directory.formatFile, offset: 0 },
      });
    }
    const version = Number(match[1]);
    if (version !== DATA_FORMAT_VERSION) {
      throw new StrataError(
        'UNSUPPORTED_FORMAT',
        `data directory ${directory.root} has format version ${version}; this Strata reads version ${DATA_FORMAT_VERSION}`,
        { details: { file: directory.formatFile, version, supportedVersion: DATA_FORMAT_VERSION } },
      );
    }
    return;
  }
  await writeFileAtomically(
    fs,
    directory.formatFile,
    Buffer.from(`strata-data ${DATA_FORMAT_VERSION}\n`),
  );
}
