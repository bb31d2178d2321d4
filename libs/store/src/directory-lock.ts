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
  ) {}

  /** Takes the lock at `path`, or fails with `LOCKED` naming the PID that holds it. */
  static async acquire(fs: FileSystem, path: string): Promise<DirectoryLock> {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const handle = await fs.open(path, 'create-exclusive');
        try {
          // Not fsynced: the lock only excludes processes running now, which all see the page
          // cache. A power loss ends every holder, and what survives of the file is a stale lock
          // the next open takes over: this PID, or a torn prefix of it, which readOwner does not
          // take for a PID (no newline after it). Into the page cache: a few microseconds, less
          // than a threadpool round trip.
          handle.writevSync([Buffer.from(`${process.pid}\n`)], 0);
        } catch (error) {
          await handle.close().catch(() => undefined);
          await removeIfPresent(fs, path).catch(() => undefined);
          throw error;
        }
        let held = heldLocks.get(fs);
        if (!held) heldLocks.set(fs, (held = new Set()));
        held.add(path);
        return new DirectoryLock(fs, path, handle);
      } catch (error) {
        if (errnoOf(error) !== 'EEXIST') {
          throw new StrataError('IO_ERROR', `cannot create lock file ${path}`, {
            cause: error,
            details: { file: path },
          });
        }
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
    // so both at once. A failed close loses nothing: nothing more is written to the file.
    const [, removed] = await Promise.allSettled([
      this.handle.close(),
      removeIfPresent(this.fs, this.path),
    ]);
    if (removed.status === 'rejected') throw removed.reason;
  }
}

/**
 * The PID a lock file names, or undefined when it names none. A PID counts only when the newline
 * written after it is there: the file is not fsynced, so after a power loss it may hold a torn
 * prefix of the PID, which could name another, live process.
 */
async function readOwner(fs: FileSystem, path: string): Promise<number | undefined> {
  try {
    const text = (await fs.readFile(path)).toString();
    if (!/^\d+\n$/.test(text)) return undefined;
    const pid = Number.parseInt(text, 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoOf(error) === 'EPERM';
  }
}
