import { posix } from 'node:path';
import type { FileHandle, FileStat, FileSystem, OpenMode, OpenOptions } from './file-system.js';

/** A file-system operation that a {@link FaultInjector} may fail. */
export type FaultableOperation =
  | 'open'
  | 'read'
  | 'write'
  | 'datasync'
  | 'truncate'
  | 'rename'
  | 'unlink'
  | 'syncDirectory'
  | 'link'
  | 'close';

/**
 * Decides whether an operation fails. Returning `'EIO'` or `'ENOSPC'` makes it throw that error;
 * a failing `write` first writes a random prefix of its bytes, as a real device may.
 */
export type FaultInjector = (
  operation: FaultableOperation,
  path: string,
) => 'EIO' | 'ENOSPC' | undefined;

/** How a simulated power loss treats bytes that were written but never fsynced. */
export interface CrashOptions {
  /** Random source in [0, 1); pass a seeded one for reproducible cycles. */
  readonly random: () => number;
  /**
   * Probability that a file whose size grew without an fsync also keeps a run of zero bytes past
   * the surviving data (size metadata persisted ahead of data). Default 0.25.
   */
  readonly zeroTailProbability?: number;
}

interface Inode {
  data: Buffer;
  lengthBytes: number;
  durable: Buffer;
  modifiedAtMs: number;
}

interface Directory {
  entries: Map<string, Inode>;
  durableEntries: Map<string, Inode>;
}

function fsError(code: string, operation: string, path: string): Error {
  return Object.assign(new Error(`${code}: ${operation} '${path}'`), {
    code,
    syscall: operation,
    path,
  });
}

/**
 * An in-memory file system that models what survives a power loss: file bytes persist only up to
 * the last `datasync`, directory entries (creations, renames, unlinks) only up to the last
 * `syncDirectory` of their directory. {@link crash} applies a power loss; a {@link FaultInjector}
 * makes chosen operations fail with EIO or ENOSPC. Directories themselves are durable once made.
 *
 * @example
 * ```ts
 * const fs = new SimulatedFileSystem();
 * const wal = await Wal.open('/wal', { fileSystem: fs });
 * // ... appends ...
 * fs.crash({ random: seededRandom(42) });
 * const reopened = await Wal.open('/wal', { fileSystem: fs });
 * ```
 */
export class SimulatedFileSystem implements FileSystem {
  private readonly directories: Map<string, Directory>;
  private faultInjector: FaultInjector | undefined;
  private generation = 0;
  private clockMs = Date.now();
  private dead = false;

  /** A new, empty file system (or, internally, a view of a crashed one's disk). */
  constructor(directories?: Map<string, Directory>) {
    this.directories = directories ?? new Map([['/', newDirectory()]]);
  }

  /** Installs (or with `undefined`, removes) the fault injector. */
  setFaultInjector(injector: FaultInjector | undefined): void {
    this.faultInjector = injector;
  }

  /** Advances the simulated clock that stamps file modification times. */
  advanceClock(milliseconds: number): void {
    this.clockMs += milliseconds;
  }

  /**
   * Simulates a power loss: every file keeps its synced bytes plus a random prefix of the bytes
   * appended after the last sync (and maybe zeros); unsynced directory changes are undone.
   *
   * This instance then belongs to the dead process: every call on it and on its open handles
   * fails with EIO, so nothing the old process still had in flight can touch the disk. The
   * returned instance is the rebooted machine's view of the same disk.
   */
  crash(options: CrashOptions): SimulatedFileSystem {
    const zeroTailProbability = options.zeroTailProbability ?? 0.25;
    this.generation++;
    this.dead = true;
    const survivors = new Set<Inode>();
    for (const directory of this.directories.values()) {
      directory.entries = new Map(directory.durableEntries);
      for (const inode of directory.entries.values()) survivors.add(inode);
    }
    for (const inode of survivors) {
      const durableLength = inode.durable.length;
      const current = inode.data.subarray(0, inode.lengthBytes);
      const appendOnly =
        inode.lengthBytes >= durableLength &&
        current.subarray(0, durableLength).equals(inode.durable);
      let kept = inode.durable;
      if (appendOnly && inode.lengthBytes > durableLength) {
        const extra = inode.lengthBytes - durableLength;
        const keep = Math.floor(options.random() * (extra + 1));
        const zeros =
          options.random() < zeroTailProbability
            ? Math.floor(options.random() * (extra - keep + 1))
            : 0;
        kept = Buffer.concat([current.subarray(0, durableLength + keep), Buffer.alloc(zeros)]);
      }
      inode.data = Buffer.from(kept);
      inode.lengthBytes = kept.length;
      inode.durable = Buffer.from(kept);
    }
    const rebooted = new SimulatedFileSystem(this.directories);
    rebooted.clockMs = this.clockMs;
    return rebooted;
  }

  /** The current (not necessarily durable) bytes of a file, for assertions. */
  peek(path: string): Buffer {
    const inode = this.lookup(path, 'peek');
    return Buffer.from(inode.data.subarray(0, inode.lengthBytes));
  }

  /** Overwrites one byte of a file in place (durably), to simulate media corruption. */
  corruptByte(path: string, offset: number, xorMask = 0xff): void {
    const inode = this.lookup(path, 'corrupt');
    if (offset >= inode.lengthBytes) throw fsError('EINVAL', 'corrupt', path);
    inode.data[offset] = (inode.data[offset] ?? 0) ^ xorMask;
    inode.durable = Buffer.from(inode.data.subarray(0, inode.lengthBytes));
  }

  async open(path: string, mode: OpenMode, options: OpenOptions = {}): Promise<FileHandle> {
    await Promise.resolve();
    this.maybeFail('open', path);
    const { directory, name } = this.parent(path, 'open');
    let inode = directory.entries.get(name);
    if (mode === 'create-exclusive') {
      if (inode) throw fsError('EEXIST', 'open', path);
      inode = {
        data: Buffer.alloc(0),
        lengthBytes: 0,
        durable: Buffer.alloc(0),
        modifiedAtMs: this.clockMs,
      };
      directory.entries.set(name, inode);
    } else if (!inode) {
      throw fsError('ENOENT', 'open', path);
    }
    return new SimulatedFileHandle(
      this,
      inode,
      path,
      this.generation,
      mode !== 'read',
      options.dsync === true,
    );
  }

  async readdir(path: string): Promise<string[]> {
    await Promise.resolve();
    this.checkAlive('readdir', path);
    const normalized = normalize(path);
    const directory = this.directories.get(normalized);
    if (!directory) throw fsError('ENOENT', 'readdir', path);
    const names = [...directory.entries.keys()];
    const prefix = normalized === '/' ? '/' : `${normalized}/`;
    for (const other of this.directories.keys()) {
      if (
        other !== normalized &&
        other.startsWith(prefix) &&
        !other.slice(prefix.length).includes('/')
      ) {
        names.push(other.slice(prefix.length));
      }
    }
    return names;
  }

  async mkdir(path: string): Promise<void> {
    await Promise.resolve();
    this.checkAlive('mkdir', path);
    let current = '';
    for (const part of normalize(path).split('/').filter(Boolean)) {
      current = `${current}/${part}`;
      if (!this.directories.has(current)) this.directories.set(current, newDirectory());
    }
  }

  async rename(from: string, to: string): Promise<void> {
    await Promise.resolve();
    this.maybeFail('rename', from);
    const source = this.parent(from, 'rename');
    const inode = source.directory.entries.get(source.name);
    if (!inode) throw fsError('ENOENT', 'rename', from);
    const target = this.parent(to, 'rename');
    source.directory.entries.delete(source.name);
    target.directory.entries.set(target.name, inode);
  }

  async unlink(path: string): Promise<void> {
    await Promise.resolve();
    this.maybeFail('unlink', path);
    const { directory, name } = this.parent(path, 'unlink');
    if (!directory.entries.delete(name)) throw fsError('ENOENT', 'unlink', path);
  }

  async removeTree(path: string): Promise<void> {
    await Promise.resolve();
    this.checkAlive('rm', path);
    const normalized = normalize(path);
    const parent = this.directories.get(posix.dirname(normalized));
    if (parent && parent.entries.has(posix.basename(normalized))) {
      parent.entries.delete(posix.basename(normalized));
      return;
    }
    for (const key of [...this.directories.keys()]) {
      if (key === normalized || key.startsWith(`${normalized}/`)) this.directories.delete(key);
    }
  }

  async link(from: string, to: string): Promise<void> {
    await Promise.resolve();
    this.maybeFail('link', to);
    const inode = this.lookup(from, 'link');
    const target = this.parent(to, 'link');
    if (target.directory.entries.has(target.name)) throw fsError('EEXIST', 'link', to);
    target.directory.entries.set(target.name, inode);
  }

  async stat(path: string): Promise<FileStat> {
    await Promise.resolve();
    this.checkAlive('stat', path);
    const normalized = normalize(path);
    if (this.directories.has(normalized))
      return { sizeBytes: 0, modifiedAtMs: this.clockMs, isDirectory: true, linkCount: 1 };
    const inode = this.lookup(path, 'stat');
    let linkCount = 0;
    for (const directory of this.directories.values()) {
      for (const entry of directory.entries.values()) if (entry === inode) linkCount++;
    }
    return {
      sizeBytes: inode.lengthBytes,
      modifiedAtMs: inode.modifiedAtMs,
      isDirectory: false,
      linkCount,
    };
  }

  async exists(path: string): Promise<boolean> {
    await Promise.resolve();
    this.checkAlive('stat', path);
    const normalized = normalize(path);
    if (this.directories.has(normalized)) return true;
    const directory = this.directories.get(posix.dirname(normalized));
    return directory?.entries.has(posix.basename(normalized)) ?? false;
  }

  async syncDirectory(path: string): Promise<void> {
    await Promise.resolve();
    this.maybeFail('syncDirectory', path);
    const directory = this.directories.get(normalize(path));
    if (!directory) throw fsError('ENOENT', 'fsync', path);
    directory.durableEntries = new Map(directory.entries);
  }

  async readFile(path: string): Promise<Buffer> {
    await Promise.resolve();
    this.maybeFail('read', path);
    return this.peek(path);
  }

  /** @internal */
  maybeFail(operation: FaultableOperation, path: string): 'ENOSPC' | undefined {
    // A dead process's closes succeed: they change nothing on the disk.
    if (this.dead && operation === 'close') return undefined;
    if (this.dead) throw fsError('EIO', operation, path);
    const fault = this.faultInjector?.(operation, path);
    if (fault === 'EIO') throw fsError('EIO', operation, path);
    // A write that hits ENOSPC first writes part of its bytes; the caller throws after that.
    if (fault === 'ENOSPC' && operation !== 'write') throw fsError('ENOSPC', operation, path);
    return fault;
  }

  /** @internal */
  isCurrent(generation: number): boolean {
    return generation === this.generation && !this.dead;
  }

  /** @internal */
  now(): number {
    return this.clockMs;
  }

  private checkAlive(operation: string, path: string): void {
    if (this.dead) throw fsError('EIO', operation, path);
  }

  private lookup(path: string, operation: string): Inode {
    const { directory, name } = this.parent(path, operation);
    const inode = directory.entries.get(name);
    if (!inode) throw fsError('ENOENT', operation, path);
    return inode;
  }

  private parent(path: string, operation: string): { directory: Directory; name: string } {
    const normalized = normalize(path);
    const directory = this.directories.get(posix.dirname(normalized));
    if (!directory) throw fsError('ENOENT', operation, path);
    return { directory, name: posix.basename(normalized) };
  }
}

class SimulatedFileHandle implements FileHandle {
  private closed = false;

  constructor(
    private readonly fs: SimulatedFileSystem,
    private readonly inode: Inode,
    private readonly path: string,
    private readonly generation: number,
    private readonly writable: boolean,
    private readonly dsync: boolean,
  ) {}

  async read(
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number,
  ): Promise<number> {
    await Promise.resolve();
    return this.readSync(buffer, offset, length, position);
  }

  readSync(buffer: Uint8Array, offset: number, length: number, position: number): number {
    this.check('read');
    this.fs.maybeFail('read', this.path);
    const end = Math.min(this.inode.lengthBytes, position + length);
    if (end <= position) return 0;
    buffer.set(this.inode.data.subarray(position, end), offset);
    return end - position;
  }

  async writev(buffers: readonly Uint8Array[], position: number): Promise<void> {
    await Promise.resolve();
    this.writevSync(buffers, position);
  }

  writevSync(buffers: readonly Uint8Array[], position: number): void {
    this.check('write');
    if (!this.writable) throw fsError('EBADF', 'write', this.path);
    const total = buffers.reduce((sum, buffer) => sum + buffer.byteLength, 0);
    const fault = this.fs.maybeFail('write', this.path);
    const allowed = fault === 'ENOSPC' ? Math.floor(Math.random() * total) : total;
    let at = position;
    let left = allowed;
    for (const buffer of buffers) {
      if (left <= 0) break;
      const part = buffer.subarray(0, Math.min(left, buffer.byteLength));
      this.ensureCapacity(at + part.byteLength);
      this.inode.data.set(part, at);
      at += part.byteLength;
      left -= part.byteLength;
    }
    this.inode.lengthBytes = Math.max(this.inode.lengthBytes, at);
    this.inode.modifiedAtMs = this.fs.now();
    if (fault === 'ENOSPC') throw fsError('ENOSPC', 'write', this.path);
    if (this.dsync) {
      // O_DSYNC: the write includes the sync; a failing sync fails the write.
      this.fs.maybeFail('datasync', this.path);
      this.inode.durable = Buffer.from(this.inode.data.subarray(0, this.inode.lengthBytes));
    }
  }

  async datasync(): Promise<void> {
    await Promise.resolve();
    this.check('fdatasync');
    this.fs.maybeFail('datasync', this.path);
    this.inode.durable = Buffer.from(this.inode.data.subarray(0, this.inode.lengthBytes));
  }

  async truncate(lengthBytes: number): Promise<void> {
    await Promise.resolve();
    this.check('ftruncate');
    this.fs.maybeFail('truncate', this.path);
    this.ensureCapacity(lengthBytes);
    if (lengthBytes > this.inode.lengthBytes)
      this.inode.data.fill(0, this.inode.lengthBytes, lengthBytes);
    this.inode.lengthBytes = lengthBytes;
  }

  async sizeBytes(): Promise<number> {
    await Promise.resolve();
    this.check('fstat');
    return this.inode.lengthBytes;
  }

  async close(): Promise<void> {
    await Promise.resolve();
    // Closed even when the close reports a failure, as with close(2).
    this.closed = true;
    this.fs.maybeFail('close', this.path);
  }

  private check(operation: string): void {
    if (this.closed || !this.fs.isCurrent(this.generation))
      throw fsError('EBADF', operation, this.path);
  }

  private ensureCapacity(lengthBytes: number): void {
    if (lengthBytes <= this.inode.data.length) return;
    const grown = Buffer.alloc(Math.max(lengthBytes, this.inode.data.length * 2, 4096));
    // Copy the whole old buffer: a writev in progress has written past lengthBytes already.
    grown.set(this.inode.data);
    this.inode.data = grown;
  }
}

function newDirectory(): Directory {
  return { entries: new Map(), durableEntries: new Map() };
}

function normalize(path: string): string {
  const normalized = posix.normalize(posix.resolve('/', path));
  return normalized.length > 1 && normalized.endsWith('/') ? normalized.slice(0, -1) : normalized;
}
