import { basename, dirname, join } from 'node:path';
import { errnoOf } from './file-system.js';
import type { FileSystem } from './file-system.js';

/**
 * Replaces `path` with `bytes` atomically and durably: write a temporary file, fdatasync it,
 * rename it over `path`, fsync the directory. After a crash, `path` holds either the old or the
 * new content, never a mix.
 *
 * @example
 * ```ts
 * await writeFileAtomically(nodeFileSystem, './data/tree/manifest', encodedManifest);
 * ```
 */
export async function writeFileAtomically(
  fs: FileSystem,
  path: string,
  bytes: Uint8Array,
): Promise<void> {
  const directory = dirname(path);
  const temporary = join(directory, `.${basename(path)}.tmp`);
  await removeIfPresent(fs, temporary);
  const handle = await fs.open(temporary, 'create-exclusive');
  try {
    await handle.writev([bytes], 0);
    await handle.datasync();
  } finally {
    await handle.close();
  }
  await fs.rename(temporary, path);
  await fs.syncDirectory(directory);
}

/** Unlinks `path` if it exists (a leftover from an interrupted replace, say). */
export async function removeIfPresent(fs: FileSystem, path: string): Promise<boolean> {
  try {
    await fs.unlink(path);
    return true;
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return false;
    throw error;
  }
}
