import { basename, dirname, join } from 'node:path';
import { errnoOf } from './file-system.js';
import type { FileHandle, FileSystem } from './file-system.js';

/** Up to this many bytes, {@link createFileWith} writes with a synchronous call. */
const SYNCHRONOUS_WRITE_MAX_BYTES = 16 * 1024;

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
  const handle = await createFileWith(fs, temporary, [bytes]);
  try {
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

/**
 * Creates the file `path` holding `buffers` one after another (written into the page cache, not
 * synced) and returns it open; the caller syncs and closes it. A file already there (a leftover of
 * a write cut short) is replaced, and the usual case, no such file, costs no lookup before the
 * exclusive create. A small file is written with a synchronous call, a few microseconds against a
 * thread-pool round trip; a large one through the thread pool, since a big write can block on
 * dirty-page writeback, which the event loop must not wait for.
 *
 * @example
 * ```ts
 * const handle = await createFileWith(fs, './data/.FORMAT.tmp', [Buffer.from('strata-data 2\n')]);
 * try {
 *   await handle.datasync();
 * } finally {
 *   await handle.close();
 * }
 * ```
 */
export async function createFileWith(
  fs: FileSystem,
  path: string,
  buffers: readonly Uint8Array[],
): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await fs.open(path, 'create-exclusive');
  } catch (error) {
    if (errnoOf(error) !== 'EEXIST') throw error;
    await removeIfPresent(fs, path);
    handle = await fs.open(path, 'create-exclusive');
  }
  try {
    let sizeBytes = 0;
    for (const buffer of buffers) sizeBytes += buffer.length;
    if (sizeBytes <= SYNCHRONOUS_WRITE_MAX_BYTES) handle.writevSync(buffers, 0);
    else await handle.writev(buffers, 0);
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw error;
  }
  return handle;
}
