import { basename, dirname, resolve } from 'node:path';
import { NodeFileSystem } from '@strata/core';
import type { FileHandle, OpenMode, OpenOptions } from '@strata/core';

/** What the instrumented file system reports about the log's write groups. */
export interface LogWriteObserver {
  /** One group commit: a write of `records` records, `bytes` bytes, durable after `seconds`. */
  onLogWrite(records: number, bytes: number, seconds: number, durable: boolean): void;
  /** One fdatasync of a log segment. */
  onLogSync(seconds: number): void;
  /** The tree's levels manifest was replaced (a flush or compaction was registered). */
  onManifestReplaced(): void;
}

/**
 * The real file system with timing around the log's writes: the store's public API has no hooks
 * for group commits, so the node observes them at the file-system seam. A segment opened with
 * O_DSYNC makes each write durable on return, so its latency is the group's fsync latency. It
 * stays a `NodeFileSystem`, so the engine still runs flush and compaction in worker threads.
 */
export class InstrumentedFileSystem extends NodeFileSystem {
  private readonly walDirectory: string;
  private readonly manifestPath: string;

  constructor(
    dataDirectory: string,
    private readonly observer: LogWriteObserver,
  ) {
    super();
    this.walDirectory = resolve(dataDirectory, 'wal');
    this.manifestPath = resolve(dataDirectory, 'tree', 'levels');
  }

  override async open(
    path: string,
    mode: OpenMode,
    options: OpenOptions = {},
  ): Promise<FileHandle> {
    const handle = await super.open(path, mode, options);
    const isLogSegment =
      mode !== 'read' && path.endsWith('.log') && resolve(dirname(path)) === this.walDirectory;
    return isLogSegment
      ? new TimedLogHandle(handle, this.observer, options.dsync === true)
      : handle;
  }

  override async rename(from: string, to: string): Promise<void> {
    await super.rename(from, to);
    if (basename(to) === 'levels' && resolve(to) === this.manifestPath) {
      this.observer.onManifestReplaced();
    }
  }
}

class TimedLogHandle implements FileHandle {
  constructor(
    private readonly inner: FileHandle,
    private readonly observer: LogWriteObserver,
    private readonly dsync: boolean,
  ) {}

  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    return this.inner.read(buffer, offset, length, position);
  }

  readSync(buffer: Uint8Array, offset: number, length: number, position: number): number {
    return this.inner.readSync(buffer, offset, length, position);
  }

  async writev(buffers: readonly Uint8Array[], position: number): Promise<void> {
    const started = process.hrtime.bigint();
    await this.inner.writev(buffers, position);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const { records, bytes } = countRecords(buffers);
    this.observer.onLogWrite(records, bytes, seconds, this.dsync);
  }

  writevSync(buffers: readonly Uint8Array[], position: number): void {
    const started = process.hrtime.bigint();
    this.inner.writevSync(buffers, position);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const { records, bytes } = countRecords(buffers);
    this.observer.onLogWrite(records, bytes, seconds, false);
  }

  async datasync(): Promise<void> {
    const started = process.hrtime.bigint();
    await this.inner.datasync();
    this.observer.onLogSync(Number(process.hrtime.bigint() - started) / 1e9);
  }

  truncate(lengthBytes: number): Promise<void> {
    return this.inner.truncate(lengthBytes);
  }

  sizeBytes(): Promise<number> {
    return this.inner.sizeBytes();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Counts framed records (`[u32 length][u32 crc][payload]`) in a group's buffers. */
function countRecords(buffers: readonly Uint8Array[]): { records: number; bytes: number } {
  let bytes = 0;
  for (const buffer of buffers) bytes += buffer.byteLength;
  let records = 0;
  let position = 0;
  const header = Buffer.alloc(4);
  while (position + 8 <= bytes) {
    if (!copyAt(buffers, position, header)) break;
    records++;
    position += 8 + header.readUInt32LE(0);
  }
  return { records, bytes };
}

/** Copies `target.length` bytes at logical offset `position` of the concatenated buffers. */
function copyAt(buffers: readonly Uint8Array[], position: number, target: Buffer): boolean {
  let skipped = 0;
  let filled = 0;
  for (const buffer of buffers) {
    const end = skipped + buffer.byteLength;
    if (end > position + filled) {
      const from = position + filled - skipped;
      const count = Math.min(buffer.byteLength - from, target.length - filled);
      target.set(buffer.subarray(from, from + count), filled);
      filled += count;
      if (filled === target.length) return true;
    }
    skipped = end;
  }
  return false;
}
