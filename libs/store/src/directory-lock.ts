import { basename, dirname, join } from 'node:path';
import { StrataError, errnoOf, removeIfPresent } from '@strata/core';
import type { FileHandle, FileSystem } from '@strata/core';

/** Locks this process holds, per file system (a simulated crash yields a new file system). */
const heldLocks = new WeakMap<FileSystem, Set<string>>();

/**
 * One process per data directory. The lock is a file holding the owner's PID, created
 * exclusively. A lock left by a process that no longer runs (SIGKILL, power loss) is taken over;
 * one held by a live process fails with `LOCKED`.
 *
 * The PID check is meant for one host: a data directory on a network file system shared between
 * hosts is not supported.
 */
export class DirectoryLock {
  private constructor(
    private readonly fs: FileSystem,
    readonly path: string,
    /** The lock file, kept open while held: its close then costs the open nothing. */
    private readonly handle: FileHandle,
    /** The removal of the name the lock file was written under, left running by the open. */
    private readonly temporaryRemoved: Promise<unknown>,
  ) {}

  /** Takes the lock at `path`, or fails with `LOCKED` naming the PID that holds it. */
  static async acquire(fs: FileSystem, path: string): Promise<DirectoryLock> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const created = await createLockFile(fs, path);
      if (created !== undefined) {
        let held = heldLocks.get(fs);
        if (!held) heldLocks.set(fs, (held = new Set()));
        held.add(path);
        return new DirectoryLock(fs, path, created.handle, created.temporaryRemoved);
      }
      const ownerPid = await readOwner(fs, path);
      // Our own PID counts only if this process really took the lock: after a reboot (or a
      // simulated crash) a stale lock may carry a PID that is now ours.
      if (ownerPid === process.pid && heldLocks.get(fs)?.has(path)) {
        throw new StrataError(
          'LOCKED',
          `data directory is already open in this process (lock file ${path})`,
          {
            details: { file: path, ownerPid },
          },
        );
      }
      if (ownerPid !== undefined && ownerPid !== process.pid && isRunning(ownerPid)) {
        throw new StrataError(
          'LOCKED',
          `data directory is in use by process ${ownerPid} (lock file ${path})`,
          {
            details: { file: path, ownerPid },
          },
        );
      }
      // The owner is gone: remove its stale lock and try again.
      await removeIfPresent(fs, path);
    }
    throw new StrataError('LOCKED', `could not take the lock ${path}`, { details: { file: path } });
  }

  /** Releases the lock. */
  async release(): Promise<void> {
    heldLocks.get(this.fs)?.delete(this.path);
    // Removing an open file is fine (POSIX; libuv opens files with FILE_SHARE_DELETE on Windows),
    // so both at once; a failure of either is reported (the removal's first).
    const [closed, removed, temporaryRemoved] = await Promise.allSettled([
      this.handle.close(),
      removeIfPresent(this.fs, this.path),
      this.temporaryRemoved,
    ]);
    if (removed.status === 'rejected') throw removed.reason;
    if (temporaryRemoved.status === 'rejected') throw temporaryRemoved.reason;
    if (closed.status === 'rejected') {
      throw new StrataError('IO_ERROR', `closing the lock file ${this.path} failed`, {
        cause: closed.reason,
        details: { file: this.path },
      });
    }
  }
}

let lockFileSerial = 0;

/**
 * Creates the lock file at `path` with this process's PID in it, or returns `undefined` when one
 * exists. The PID is written into a file of its own name first, which is then linked as `path`:
 * the lock file never exists without its PID, so a process that finds one without a whole PID
 * knows it is not being written (which an exclusive create followed by a write cannot tell apart:
 * a review saw two processes both take the lock that way). Not fsynced: the lock only excludes
 * processes running now, which all see the page cache; a power loss ends every holder, and what
 * survives of the file is a stale lock the next open takes over.
 *
 * Once the lock is taken, the name it was written under is removed in the background (nobody
 * else uses that name, and a leftover would only be clutter): {@link DirectoryLock.release} waits
 * for it and reports its failure (`IO_ERROR`), so the open does not wait for that round trip.
 *
 * @throws StrataError `IO_ERROR`.
 */
async function createLockFile(
  fs: FileSystem,
  path: string,
): Promise<{ handle: FileHandle; temporaryRemoved: Promise<void> } | undefined> {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${++lockFileSerial}`);
  let handle: FileHandle | undefined;
  try {
    handle = await fs.open(temporary, 'create-exclusive');
    // Into the page cache: a few microseconds, less than a threadpool round trip.
    handle.writevSync([Buffer.from(`${process.pid}\n`)], 0);
    await fs.link(temporary, path);
  } catch (error) {
    await handle?.close().catch(() => undefined);
    // A missing directory (a new store's: the caller makes it and tries again) left no file.
    const nothingCreated = handle === undefined && errnoOf(error) === 'ENOENT';
    const removed = nothingCreated
      ? undefined
      : await removeTemporary(fs, temporary).then(
          () => undefined,
          (removalError: unknown) => removalError as StrataError,
        );
    if (errnoOf(error) !== 'EEXIST') {
      throw new StrataError('IO_ERROR', `cannot create lock file ${path}`, {
        cause: error,
        details: { file: path },
      });
    }
    if (removed !== undefined) throw removed;
    return undefined;
  }
  const temporaryRemoved = removeTemporary(fs, temporary);
  // Observed here so that a failure is not reported as unhandled before release() waits for it.
  temporaryRemoved.catch(() => undefined);
  return { handle, temporaryRemoved };
}

/** Removes the name a lock file was written under. @throws StrataError `IO_ERROR`. */
async function removeTemporary(fs: FileSystem, temporary: string): Promise<void> {
  try {
    await removeIfPresent(fs, temporary);
  } catch (error) {
    throw new StrataError('IO_ERROR', `cannot remove ${temporary}`, {
      cause: error,
      details: { file: temporary },
    });
  }
}

/**
 * The PID a lock file names, or undefined when it names none or is gone. A PID counts only when
 * the newline written after it is there: after a power loss the file (never fsynced) may hold a
 * torn prefix of the PID, which could name another, live process. A live creator never leaves it
 * so (see {@link createLockFile}).
 *
 * @throws StrataError `IO_ERROR` when the file exists but cannot be read: a lock nobody can read
 * is not taken over.
 */
async function readOwner(fs: FileSystem, path: string): Promise<number | undefined> {
  let text: string;
  try {
    text = (await fs.readFile(path)).toString();
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined;
    throw new StrataError('IO_ERROR', `cannot read lock file ${path}`, {
      cause: error,
      details: { file: path },
    });
  }
  // A prefix: a later format may add lines after the PID.
  const match = /^(\d+)\n/.exec(text);
  const pid = match === null ? Number.NaN : Number.parseInt(match[1] as string, 10);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoOf(error) === 'EPERM';
  }
}
