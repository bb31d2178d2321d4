import type { FileHandle, FileSystem } from '@strata/core';
import { ioError } from '@strata/core';

interface Descriptor {
  handle: Promise<FileHandle>;
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

  /** Reads exactly `length` bytes at `position`; a short read is reported by the caller. */
  async read(path: string, position: number, length: number): Promise<Buffer> {
    let descriptor = this.open.get(path);
    if (descriptor) {
      this.open.delete(path);
      this.open.set(path, descriptor);
      descriptor.users++;
    } else {
      descriptor = { handle: this.fileSystem.open(path, 'read'), users: 1 };
      // A failed open is reported through the read below; do not leave it unhandled meanwhile.
      descriptor.handle.catch(() => undefined);
      this.open.set(path, descriptor);
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
