import { basename, dirname, join } from 'node:path';
import { ioError, removeIfPresent } from '@strata/core';
import type { FileSystem } from '@strata/core';

/** The name of a copy under way is `.<segment file name>` followed by this. */
const PRIVATE_COPY_SUFFIX = '.private.tmp';

/** Bytes copied per read and write when a shared segment is made private. */
const COPY_CHUNK_BYTES = 1024 * 1024;

/**
 * Makes the segment at `path` this log's own file before the log writes into it or cuts it: a
 * checkpoint shares sealed segments with its source by hard links (`Store.checkpoint`), so a
 * segment whose file has more than one link is also another log's segment, and changing it in
 * place would change that log too. Such a file is copied (its first `keepBytes` bytes) into a
 * temporary file, fdatasynced, and renamed over `path`; the other log keeps the old file. A file
 * with one link is left alone, and the caller writes or cuts it in place as before.
 *
 * The caller fsyncs the directory afterwards (the rename is durable only then). A crash before
 * that leaves `path` as it was, shared, and the temporary file (a dot file no log lists) is
 * removed by the next copy.
 *
 * @returns true when the file was copied (the caller then has nothing left to cut).
 * @throws StrataError `IO_ERROR`.
 */
export async function makeSegmentPrivate(
  fs: FileSystem,
  path: string,
  keepBytes?: number,
): Promise<boolean> {
  let stat;
  try {
    stat = await fs.stat(path);
  } catch (error) {
    throw ioError('stat', path, error);
  }
  if (stat.linkCount <= 1) return false;
  const lengthBytes = Math.min(keepBytes ?? stat.sizeBytes, stat.sizeBytes);
  const temporary = join(dirname(path), `.${basename(path)}${PRIVATE_COPY_SUFFIX}`);
  try {
    await removeIfPresent(fs, temporary);
    const source = await fs.open(path, 'read');
    try {
      const target = await fs.open(temporary, 'create-exclusive');
      try {
        const chunk = Buffer.allocUnsafe(Math.min(COPY_CHUNK_BYTES, Math.max(1, lengthBytes)));
        for (let copied = 0; copied < lengthBytes;) {
          const wanted = Math.min(chunk.length, lengthBytes - copied);
          const read = await source.read(chunk, 0, wanted, copied);
          if (read === 0) throw new Error(`${path} ended at ${copied} bytes while being copied`);
          await target.writev([chunk.subarray(0, read)], copied);
          copied += read;
        }
        await target.datasync();
      } finally {
        await target.close();
      }
    } finally {
      await source.close();
    }
    await fs.rename(temporary, path);
  } catch (error) {
    // A partial copy is not left behind (a full disk is where a copy is most likely to fail).
    await removeIfPresent(fs, temporary).catch(() => undefined);
    throw ioError('copy shared segment', path, error);
  }
  return true;
}

/**
 * Removes what copies cut short by a crash left in `directory` (see {@link makeSegmentPrivate}):
 * nothing refers to such a file, and its segment may never be copied again to replace it.
 */
export async function removeUnfinishedCopies(fs: FileSystem, directory: string): Promise<void> {
  for (const name of await fs.readdir(directory)) {
    if (name.startsWith('.') && name.endsWith(PRIVATE_COPY_SUFFIX)) {
      await removeIfPresent(fs, join(directory, name));
    }
  }
}
