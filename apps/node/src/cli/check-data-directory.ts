import { readdir, stat } from 'node:fs/promises';
import { StrataError, errnoOf } from '@strata/core';
import { DATA_DIRECTORY_NAMES } from '@strata/store';

/** What a fresh file system's root holds; a data directory on its own disk starts with it. */
const IGNORED_ENTRIES = new Set(['lost+found']);
/** Entries only a Strata data directory has (its format marker, log, tree, cluster metadata). */
const STRATA_ENTRIES: ReadonlySet<string> = new Set([
  DATA_DIRECTORY_NAMES.format,
  DATA_DIRECTORY_NAMES.wal,
  DATA_DIRECTORY_NAMES.tree,
  DATA_DIRECTORY_NAMES.meta,
]);

/**
 * Checks `--data` before a node starts: a path that does not exist yet, an empty directory (a
 * `lost+found` aside) or a directory that holds a Strata layout (`FORMAT`, `wal/`, `tree/`,
 * `meta.sqlite`) is accepted; a file, or a non-empty directory with none of those, is refused
 * (a typo in a path must not turn someone's home or backup directory into a data directory).
 *
 * @throws StrataError `INVALID_ARGUMENT` with what the path is and holds.
 */
export async function checkDataDirectory(path: string): Promise<void> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(path)).isDirectory();
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return;
    throw new StrataError(
      'INVALID_ARGUMENT',
      `--data ${path}: cannot use it (${(error as Error).message})`,
      { cause: error, details: { file: path } },
    );
  }
  if (!isDirectory) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `--data ${path} is a file, not a directory: give the directory the node keeps its data in (created if missing)`,
      { details: { file: path } },
    );
  }
  const entries = (await readdir(path)).filter((name) => !IGNORED_ENTRIES.has(name));
  if (entries.length === 0 || entries.some((name) => STRATA_ENTRIES.has(name))) return;
  const shown = entries.sort().slice(0, 5).join(', ') + (entries.length > 5 ? ', ...' : '');
  throw new StrataError(
    'INVALID_ARGUMENT',
    `--data ${path} is not a Strata data directory: it holds ${entries.length} entr${entries.length === 1 ? 'y' : 'ies'} (${shown}) and no ${DATA_DIRECTORY_NAMES.format}, ${DATA_DIRECTORY_NAMES.wal}/ or ${DATA_DIRECTORY_NAMES.tree}/; give a new or empty directory, or one a Strata node wrote`,
    { details: { file: path, entries: entries.length } },
  );
}
