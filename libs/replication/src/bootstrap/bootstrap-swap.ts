import { join } from 'node:path';
import { ioError, nodeFileSystem, removeIfPresent } from '@strata/core';
import type { FileSystem } from '@strata/core';
import { dataDirectory } from '@strata/store';

/** The staging folder a checkpoint is downloaded into, inside the data directory. */
export const BOOTSTRAP_STAGING_DIRECTORY = 'bootstrap.tmp';
/**
 * The marker whose presence means "a verified checkpoint is in `bootstrap.tmp/`: replace `wal/`
 * and `tree/` with it". Written atomically only after the whole archive verified and was fsynced.
 */
export const BOOTSTRAP_MARKER_FILE = 'BOOTSTRAP';

/** The paths of a data directory that a bootstrap touches. */
export interface BootstrapPaths {
  readonly root: string;
  readonly staging: string;
  readonly marker: string;
  /** The temporary file `writeFileAtomically` writes the marker through. */
  readonly markerTemporary: string;
  readonly formatFile: string;
  /** The directories that are replaced, each with its staged counterpart. */
  readonly replaced: readonly { readonly live: string; readonly staged: string }[];
}

/** The bootstrap paths of the data directory at `dataRoot`. */
export function bootstrapPaths(dataRoot: string): BootstrapPaths {
  const layout = dataDirectory(dataRoot);
  const staging = join(dataRoot, BOOTSTRAP_STAGING_DIRECTORY);
  const stagedLayout = dataDirectory(staging);
  return {
    root: dataRoot,
    staging,
    marker: join(dataRoot, BOOTSTRAP_MARKER_FILE),
    markerTemporary: join(dataRoot, `.${BOOTSTRAP_MARKER_FILE}.tmp`),
    formatFile: layout.formatFile,
    replaced: [
      { live: layout.treeDirectory, staged: stagedLayout.treeDirectory },
      { live: layout.walDirectory, staged: stagedLayout.walDirectory },
    ],
  };
}

/** What {@link recoverInterruptedBootstrap} found and did. */
export type BootstrapRecovery =
  /** Nothing was left over. */
  | 'none'
  /** An unfinished download (no marker) was removed; the old data stands. */
  | 'discarded-download'
  /** The marker was present: the swap to the downloaded checkpoint was finished. */
  | 'completed-swap';

/**
 * Finishes or discards a bootstrap that a crash interrupted. Run it at node start, before
 * `Store.open` (and with no store open on `dataRoot`). With the marker present the verified
 * checkpoint in `bootstrap.tmp/` replaces `wal/` and `tree/` ('completed-swap'); without it a
 * leftover `bootstrap.tmp/` is a partial download and is removed ('discarded-download'). Either
 * way the directory afterwards holds one complete state, old or new, never a mix. Safe to run
 * again after a crash inside it.
 *
 * @throws StrataError `IO_ERROR` / `NO_SPACE` from the file system.
 *
 * @example
 * ```ts
 * const recovery = await recoverInterruptedBootstrap('./data');
 * if (recovery !== 'none') logger.info(`bootstrap recovery: ${recovery}`);
 * const store = await Store.open('./data');
 * ```
 */
export async function recoverInterruptedBootstrap(
  dataRoot: string,
  options: { readonly fileSystem?: FileSystem } = {},
): Promise<BootstrapRecovery> {
  const fs = options.fileSystem ?? nodeFileSystem;
  const paths = bootstrapPaths(dataRoot);
  if (!(await io('stat', paths.root, () => fs.exists(paths.root)))) return 'none';
  if (await io('stat', paths.marker, () => fs.exists(paths.marker))) {
    await completeSwap(fs, paths);
    return 'completed-swap';
  }
  // No marker: whatever is staged was never verified completely (or its marker never became
  // durable). The old wal/ and tree/ were not touched yet, so dropping the staging is all.
  await io('unlink', paths.markerTemporary, () => removeIfPresent(fs, paths.markerTemporary));
  if (!(await io('stat', paths.staging, () => fs.exists(paths.staging)))) return 'none';
  await io('remove', paths.staging, () => fs.removeTree(paths.staging));
  await io('fsync', paths.root, () => fs.syncDirectory(paths.root));
  return 'discarded-download';
}

/**
 * Replaces `wal/` and `tree/` (and `FORMAT`) with their staged counterparts, then removes the
 * staging folder and the marker. The marker must be durable before this starts.
 *
 * Every step can be repeated after a crash at any point: a staged directory that still exists has
 * not been moved yet, so the live one is old and goes (again, if its removal was cut short); a
 * staged directory that is gone was moved already, so the live one is new and stays. The marker
 * goes last, so a crash anywhere before leaves it there and the next start runs this again.
 */
export async function completeSwap(fs: FileSystem, paths: BootstrapPaths): Promise<void> {
  const stagingExists = await io('stat', paths.staging, () => fs.exists(paths.staging));
  if (stagingExists) {
    for (const { live, staged } of paths.replaced) {
      if (!(await io('stat', staged, () => fs.exists(staged)))) continue;
      await io('remove', live, () => fs.removeTree(live));
      await io('rename', staged, () => fs.rename(staged, live));
    }
    const stagedFormat = dataDirectory(paths.staging).formatFile;
    if (await io('stat', stagedFormat, () => fs.exists(stagedFormat))) {
      // rename replaces the old FORMAT atomically: there is always one.
      await io('rename', stagedFormat, () => fs.rename(stagedFormat, paths.formatFile));
    }
    // A rename changes two directories: make the staging side durable too, so that after a
    // crash a moved directory never shows up in both places.
    await io('fsync', paths.staging, () => fs.syncDirectory(paths.staging));
    await io('fsync', paths.root, () => fs.syncDirectory(paths.root));
    await io('remove', paths.staging, () => fs.removeTree(paths.staging));
    await io('fsync', paths.root, () => fs.syncDirectory(paths.root));
  }
  await io('unlink', paths.marker, () => removeIfPresent(fs, paths.marker));
  await io('fsync', paths.root, () => fs.syncDirectory(paths.root));
}

/** Runs a file-system call, turning its error into `IO_ERROR` / `NO_SPACE` naming the path. */
export async function io<T>(operation: string, path: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw ioError(operation, path, error);
  }
}
