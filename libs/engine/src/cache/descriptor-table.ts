import type { FileHandle, FileSystem } from '@strata/core';
import { ioError } from '@strata/core';

interface Descriptor {
  handle: Promise<FileHandle>;
  /** The handle once opened: lets {@link DescriptorTable.readSync} skip the promise. */
  opened: FileHandle | undefined;
  users: number;
}

/**
 * Bounds the number of open segment files. Handles are opened on demand and kept in LRU order; a
 * handle in use is never closed under its reader, so the bound can be briefly exceeded while more
 * reads than the bound are in flight.
 */
export class DescriptorTable {
  private readonly open = new Map<string, Descriptor>();

  constructor(
    private readonly fileSystem: FileSystem,
    readonly capacity: number,
  ) {}

  /** Open handles right now. */
  get size(): number {
    return this.open.size;
  }

  /**
   * Opens `path` if it has no handle yet, so that {@link readSync} can serve the reads that follow
   * in the same turn (one threadpool round trip instead of one per read). Open errors surface
   * from the read that follows.
   */
  async prepare(path: string): Promise<void> {
    if (this.open.get(path)?.opened !== undefined) return;
    let descriptor = this.open.get(path);
    if (descriptor === undefined) {
      descriptor = this.createDescriptor(path, 0);
      this.evict();
    }
    await descriptor.handle.catch(() => undefined);
  }

  /** Reads exactly `length` bytes at `position`; a short read is reported by the caller. */
  async read(path: string, position: number, length: number): Promise<Buffer> {
    let descriptor = this.open.get(path);
    if (descriptor) {
      this.open.delete(path);
      this.open.set(path, descriptor);
      descriptor.users++;
    } else {
      descriptor = this.createDescriptor(path, 1);
      this.evict();
    }
    try {
      const handle = await descriptor.handle;
      const buffer = Buffer.allocUnsafe(length);
      let done = 0;
      while (done < length) {
        const n = await handle.read(buffer, done, length - done, position + done);
        if (n === 0) break;
        done += n;
      }
      return done === length ? buffer : buffer.subarray(0, done);
    } catch (error) {
      if (this.open.get(path) === descriptor) this.open.delete(path);
      throw ioError('read', path, error);
    } finally {
      descriptor.users--;
      if (descriptor.users === 0 && this.open.get(path) !== descriptor) closeQuietly(descriptor);
    }
  }

  /**
   * Reads exactly `length` bytes at `position` synchronously, or returns `undefined` when the file
   * has no open handle yet (the caller then takes the async path, which opens it). Meant for single
   * blocks, which the page cache usually holds: a threadpool round trip costs far more than the
   * copy. A short read returns fewer bytes; the caller reports it. With `into` (large enough) the
   * bytes land there instead of a new buffer.
   */
  readSync(path: string, position: number, length: number, into?: Buffer): Buffer | undefined {
    const handle = this.open.get(path)?.opened;
    if (handle === undefined) return undefined;
    const buffer =
      into !== undefined && into.length >= length
        ? into.subarray(0, length)
        : Buffer.allocUnsafe(length);
    let done = 0;
    try {
      while (done < length) {
        const n = handle.readSync(buffer, done, length - done, position + done);
        if (n === 0) break;
        done += n;
      }
    } catch (error) {
      throw ioError('read', path, error);
    }
    return done === length ? buffer : buffer.subarray(0, done);
  }

  private createDescriptor(path: string, users: number): Descriptor {
    const created: Descriptor = {
      handle: this.fileSystem.open(path, 'read'),
      opened: undefined,
      users,
    };
    // A failed open is reported through a read; do not leave it unhandled meanwhile.
    created.handle.then(
      (handle) => {
        created.opened = handle;
      },
      () => {
        if (this.open.get(path) === created) this.open.delete(path);
      },
    );
    this.open.set(path, created);
    return created;
  }

  /** Closes the handle of a file (it is being deleted). */
  forget(path: string): void {
    const descriptor = this.open.get(path);
    if (!descriptor) return;
    this.open.delete(path);
    if (descriptor.users === 0) closeQuietly(descriptor);
  }

  /** Closes every idle handle. */
  closeAll(): void {
    for (const [path, descriptor] of this.open) {
      this.open.delete(path);
      if (descriptor.users === 0) closeQuietly(descriptor);
    }
  }

  private evict(): void {
    if (this.open.size <= this.capacity) return;
    for (const [path, descriptor] of this.open) {
      if (this.open.size <= this.capacity) return;
      if (descriptor.users > 0) continue;
      this.open.delete(path);
      closeQuietly(descriptor);
    }
  }
}

function closeQuietly(descriptor: Descriptor): void {
  descriptor.handle.then(
    (handle) => handle.close().catch(() => undefined),
    () => undefined,
  );
}
