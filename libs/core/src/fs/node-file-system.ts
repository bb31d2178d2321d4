import { constants, promises as fsp, readSync, writevSync } from 'node:fs';
import type { FileHandle, FileStat, FileSystem, OpenMode, OpenOptions } from './file-system.js';
import { errnoOf } from './file-system.js';

const openFlags: Record<OpenMode, number> = {
  read: constants.O_RDONLY,
  'read-write': constants.O_RDWR,
  'create-exclusive': constants.O_RDWR | constants.O_CREAT | constants.O_EXCL,
};

class NodeFileHandle implements FileHandle {
  constructor(private readonly handle: fsp.FileHandle) {}

  async read(
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number,
  ): Promise<number> {
    const { bytesRead } = await this.handle.read(buffer, offset, length, position);
    return bytesRead;
  }

  readSync(buffer: Uint8Array, offset: number, length: number, position: number): number {
    return readSync(this.handle.fd, buffer, offset, length, position);
  }

  async writev(buffers: readonly Uint8Array[], position: number): Promise<void> {
    let remaining = buffers.slice();
    let at = position;
    // writev may write less than asked (signals, quotas); loop until every byte is out.
    while (remaining.length > 0) {
      const { bytesWritten } = await this.handle.writev(remaining, at);
      at += bytesWritten;
      remaining = dropWritten(remaining, bytesWritten);
    }
  }

  writevSync(buffers: readonly Uint8Array[], position: number): void {
    let remaining = buffers.slice();
    let at = position;
    while (remaining.length > 0) {
      const written = writevSync(this.handle.fd, remaining, at);
      at += written;
      remaining = dropWritten(remaining, written);
    }
  }

  datasync(): Promise<void> {
    return this.handle.datasync();
  }

  truncate(lengthBytes: number): Promise<void> {
    return this.handle.truncate(lengthBytes);
  }

  async sizeBytes(): Promise<number> {
    return (await this.handle.stat()).size;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

function dropWritten(buffers: Uint8Array[], bytesWritten: number): Uint8Array[] {
  let left = bytesWritten;
  const rest: Uint8Array[] = [];
  for (const buffer of buffers) {
    if (left >= buffer.byteLength) {
      left -= buffer.byteLength;
      continue;
    }
    rest.push(left > 0 ? buffer.subarray(left) : buffer);
    left = 0;
  }
  return rest;
}

/**
 * The real file system (node:fs/promises), with directory fsync. This is what Strata uses outside
 * of tests.
 */
export class NodeFileSystem implements FileSystem {
  async open(path: string, mode: OpenMode, options: OpenOptions = {}): Promise<FileHandle> {
    const flags = openFlags[mode] | (options.dsync ? constants.O_DSYNC : 0);
    return new NodeFileHandle(await fsp.open(path, flags, 0o644));
  }

  readdir(path: string): Promise<string[]> {
    return fsp.readdir(path);
  }

  async mkdir(path: string): Promise<void> {
    await fsp.mkdir(path, { recursive: true });
  }

  rename(from: string, to: string): Promise<void> {
    return fsp.rename(from, to);
  }

  unlink(path: string): Promise<void> {
    return fsp.unlink(path);
  }

  removeTree(path: string): Promise<void> {
    return fsp.rm(path, { recursive: true, force: true });
  }

  link(from: string, to: string): Promise<void> {
    return fsp.link(from, to);
  }

  async stat(path: string): Promise<FileStat> {
    const stat = await fsp.stat(path);
    return {
      sizeBytes: stat.size,
      modifiedAtMs: stat.mtimeMs,
      isDirectory: stat.isDirectory(),
      linkCount: stat.nlink,
    };
  }

  async exists(path: string): Promise<boolean> {
    try {
      await fsp.stat(path);
      return true;
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return false;
      throw error;
    }
  }

  async syncDirectory(path: string): Promise<void> {
    const handle = await fsp.open(path, constants.O_RDONLY);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  readFile(path: string): Promise<Buffer> {
    return fsp.readFile(path);
  }
}

/** The process-wide real file system. */
export const nodeFileSystem: FileSystem = new NodeFileSystem();
