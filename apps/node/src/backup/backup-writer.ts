import { Readable } from 'node:stream';
import { pack as tarPack } from 'tar-stream';
import type { Pack } from 'tar-stream';
import { StrataError } from '@strata/core';
import { readCheckpointArchive } from '@strata/replication';
import type { ArchiveSink } from '@strata/replication';
import {
  BACKUP_CHUNK_BYTES,
  BACKUP_FORMAT,
  BACKUP_FORMAT_VERSION,
  BACKUP_MANIFEST_NAME,
  FileDigest,
  encodeManifest,
} from './backup-manifest.js';
import type { BackupFile, BackupManifest } from './backup-manifest.js';

/** What {@link backupArchive} stamps on the manifest. */
export interface BackupArchiveOptions {
  readonly nodeId: string;
  /** Stops the archive (the tar stream is destroyed with the reason). */
  readonly signal?: AbortSignal;
  /** Called with the manifest once the last entry is written. */
  readonly onManifest?: (manifest: BackupManifest) => void;
}

/**
 * Turns a checkpoint archive stream (what `checkpointArchive` of @strata/replication makes from
 * `Store.checkpoint()`: the same bytes a bootstrapping follower downloads, every chunk checked
 * against its crc32c as it is read here) into a backup tar (format: backup-manifest.ts): each
 * directory and file as a tar entry, the manifest with each file's sha256, crc32c and chunk
 * crc32c last. Streamed: one chunk of at most 1 MiB is in memory at a time, and the tar stream's
 * backpressure holds the reading of the checkpoint.
 *
 * @example
 * ```ts
 * const archive = checkpointArchive(store, { scratchDirectory, signal });
 * reply.type('application/x-tar').send(backupArchive(archive, { nodeId: 'n1', signal }));
 * ```
 */
export function backupArchive(
  checkpoint: AsyncIterable<Uint8Array>,
  options: BackupArchiveOptions,
): Readable {
  const pack = tarPack();
  const createdAt = new Date();
  const sink = new TarSink(pack, createdAt, options.signal);
  void (async () => {
    const summary = await readCheckpointArchive(checkpoint, sink);
    const manifest: BackupManifest = {
      format: BACKUP_FORMAT,
      version: BACKUP_FORMAT_VERSION,
      seqno: summary.seqno,
      treeSeqno: summary.treeSeqno,
      nodeId: options.nodeId,
      createdAt: createdAt.toISOString(),
      chunkSizeBytes: BACKUP_CHUNK_BYTES,
      directories: sink.directories,
      files: sink.files,
      totalSizeBytes: summary.sizeBytes,
    };
    await sink.add({ name: BACKUP_MANIFEST_NAME, mtime: createdAt }, encodeManifest(manifest));
    pack.finalize();
    options.onManifest?.(manifest);
  })().catch((error: unknown) => pack.destroy(error as Error));
  return Readable.from(pack);
}

/** Writes the verified entries of a checkpoint archive as tar entries, digesting each file. */
class TarSink implements ArchiveSink {
  readonly directories: string[] = [];
  readonly files: BackupFile[] = [];
  private current:
    | { path: string; sizeBytes: number; digest: FileDigest; entry: ReturnType<Pack['entry']> }
    | undefined;
  private currentDone: Promise<void> | undefined;

  constructor(
    private readonly pack: Pack,
    private readonly mtime: Date,
    private readonly signal: AbortSignal | undefined,
  ) {}

  async directory(path: string): Promise<void> {
    this.directories.push(path);
    await this.add({ name: `${path}/`, type: 'directory', mtime: this.mtime }, Buffer.alloc(0));
  }

  beginFile(path: string, sizeBytes: number): Promise<void> {
    let done!: { resolve: () => void; reject: (error: Error) => void };
    this.currentDone = new Promise<void>((resolve, reject) => (done = { resolve, reject }));
    const entry = this.pack.entry({ name: path, size: sizeBytes, mtime: this.mtime }, (error) =>
      error ? done.reject(error) : done.resolve(),
    );
    this.current = { path, sizeBytes, digest: new FileDigest(), entry };
    return Promise.resolve();
  }

  async chunk(content: Buffer): Promise<void> {
    const current = this.current as NonNullable<TarSink['current']>;
    current.digest.update(content);
    // The reader reuses `content` once this resolves; the entry may still hold what it was given.
    if (!current.entry.write(Buffer.from(content))) await this.drained(current.entry);
  }

  async endFile(): Promise<void> {
    const current = this.current as NonNullable<TarSink['current']>;
    current.entry.end(undefined);
    await this.currentDone;
    this.current = undefined;
    this.files.push({
      path: current.path,
      sizeBytes: current.sizeBytes,
      ...current.digest.finish(),
    });
  }

  /** Adds a whole entry and waits until the pack has taken it. */
  add(header: Parameters<Pack['entry']>[0], content: Buffer): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pack.entry(header, content, (error) => (error ? reject(error) : resolve()));
    });
  }

  /** Resolves when `entry` takes more, rejects when the archive is stopped meanwhile. */
  private drained(entry: ReturnType<Pack['entry']>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const finish = (error?: Error): void => {
        entry.off('drain', onDrain);
        entry.off('close', onClose);
        this.signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve();
      };
      const onDrain = (): void => finish();
      const onClose = (): void => finish(new StrataError('CLOSED', 'the backup stream closed'));
      const onAbort = (): void => finish(new StrataError('CLOSED', 'the backup was aborted'));
      entry.on('drain', onDrain);
      entry.on('close', onClose);
      this.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
