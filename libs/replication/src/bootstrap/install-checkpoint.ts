import { dirname, join } from 'node:path';
import { invariant, nodeFileSystem, writeFileAtomically } from '@strata/core';
import type { FileHandle, FileSystem } from '@strata/core';
import { readCheckpointArchive } from './archive-reader.js';
import type { ArchiveSink, ArchiveSummary } from './archive-reader.js';
import { ARCHIVE_ROOT_DIRECTORIES } from './archive-format.js';
import { bootstrapPaths, completeSwap, io, recoverInterruptedBootstrap } from './bootstrap-swap.js';

/** Options of {@link installCheckpoint}. */
export interface InstallCheckpointOptions {
  /** The file system of the data directory. Default: the real one. */
  readonly fileSystem?: FileSystem;
  /** An archive whose files add up to more than this is refused (`CORRUPTION`). Default: none. */
  readonly maxTotalBytes?: number;
}

/** What {@link installCheckpoint} installed. */
export interface InstalledCheckpoint {
  /** The installed data holds every write up to this seqno: continue the stream after it. */
  readonly seqno: number;
  /** Writes up to this seqno are in the tree's segments, the rest in the installed log. */
  readonly treeSeqno: number;
  /** Regular files installed. */
  readonly files: number;
  /** Their total size. */
  readonly sizeBytes: number;
}

/**
 * Installs a leader's checkpoint archive (from {@link fetchCheckpoint} or any byte source) as the
 * data of the follower at `dataRoot`, replacing its `wal/`, `tree/` and `FORMAT`; `meta.sqlite`
 * and `LOCK` are never touched. The caller must have closed its store; open it again afterwards.
 *
 * Steps: finish or discard an earlier interrupted bootstrap; stream the archive into
 * `<dataRoot>/bootstrap.tmp/`, verifying every checksum as it arrives and fsyncing every file and
 * directory; only once the whole archive verified, write the marker `<dataRoot>/BOOTSTRAP`
 * atomically and swap the directories in (see {@link recoverInterruptedBootstrap}, which finishes
 * the swap if the process dies during it).
 *
 * On any failure before the marker, the staging folder is removed and the existing data is as it
 * was. Errors: `CORRUPTION` (truncated stream, checksum mismatch, bad magic, duplicate entry, over
 * `maxTotalBytes`; details name the archive offset), `UNSUPPORTED_FORMAT` (archive version),
 * `INVALID_ARGUMENT` (a path outside `FORMAT`, `tree/`, `wal/`), `IO_ERROR` / `NO_SPACE` (local
 * file system or the source), and whatever `StrataError` the source throws (`TIMEOUT`...).
 *
 * @example
 * ```ts
 * await store.close();
 * const archive = await fetchCheckpoint(leaderUrl, { token });
 * const { seqno } = await installCheckpoint(archive, './data');
 * store = await Store.open('./data');
 * // continue from the stream at seqno + 1
 * ```
 */
export async function installCheckpoint(
  source: AsyncIterable<Uint8Array>,
  dataRoot: string,
  options: InstallCheckpointOptions = {},
): Promise<InstalledCheckpoint> {
  const fs = options.fileSystem ?? nodeFileSystem;
  const paths = bootstrapPaths(dataRoot);
  // A swap cut short must be finished before its staging folder could be reused, and a partial
  // download from an earlier attempt must go.
  await recoverInterruptedBootstrap(dataRoot, { fileSystem: fs });
  await io('mkdir', paths.staging, () => fs.mkdir(paths.staging));
  const staging = new StagingWriter(fs, paths.staging);
  let summary: ArchiveSummary;
  try {
    summary = await readCheckpointArchive(source, staging, {
      ...(options.maxTotalBytes === undefined ? {} : { maxTotalBytes: options.maxTotalBytes }),
    });
    await staging.makeDurable(paths.root);
  } catch (error) {
    await staging.abandon();
    // Best effort: a staging folder left behind is removed by the next recovery or install.
    await fs.removeTree(paths.staging).catch(() => undefined);
    throw error;
  }
  const marker = [
    'strata-bootstrap 1',
    'replacing wal/ and tree/ with bootstrap.tmp/',
    `seqno ${summary.seqno}`,
    `treeSeqno ${summary.treeSeqno}`,
    '',
  ].join('\n');
  // From here on the new state wins: once the marker is durable, a crash means "finish the swap".
  await io('write', paths.marker, () =>
    writeFileAtomically(fs, paths.marker, Buffer.from(marker, 'utf8')),
  );
  await completeSwap(fs, paths);
  return {
    seqno: summary.seqno,
    treeSeqno: summary.treeSeqno,
    files: summary.files,
    sizeBytes: summary.sizeBytes,
  };
}

/** Writes verified archive entries below the staging folder, each file fsynced when complete. */
class StagingWriter implements ArchiveSink {
  /** Relative directories made so far: each is fsynced once its entries are all in. */
  private readonly directories = new Set<string>();
  private handle: FileHandle | undefined;
  private path = '';
  private position = 0;

  constructor(
    private readonly fs: FileSystem,
    private readonly staging: string,
  ) {}

  async directory(path: string): Promise<void> {
    const absolute = join(this.staging, path);
    await io('mkdir', absolute, () => this.fs.mkdir(absolute));
    this.addWithAncestors(path);
  }

  async beginFile(path: string, _sizeBytes: number): Promise<void> {
    invariant(this.handle === undefined, 'a staged file is still open');
    const parent = dirname(path);
    if (parent !== '.' && !this.directories.has(parent)) await this.directory(parent);
    this.path = join(this.staging, path);
    this.position = 0;
    // create-exclusive: the staging folder is fresh and the reader refuses duplicates, so an
    // existing file here would be a bug.
    this.handle = await io('open', this.path, () => this.fs.open(this.path, 'create-exclusive'));
  }

  async chunk(content: Buffer): Promise<void> {
    const handle = this.handle;
    invariant(handle !== undefined, 'a chunk arrived outside a file');
    await io('write', this.path, () => handle.writev([content], this.position));
    this.position += content.length;
  }

  async endFile(): Promise<void> {
    const handle = this.handle;
    invariant(handle !== undefined, 'a file ended that never began');
    this.handle = undefined;
    try {
      await io('fdatasync', this.path, () => handle.datasync());
    } finally {
      await handle.close().catch(() => undefined);
    }
  }

  /**
   * Makes the staged tree durable: ensures `tree/` and `wal/` exist (so the swap replaces both,
   * whatever the archive held), then fsyncs every directory, deepest first, the staging folder
   * and the data root (which holds the staging folder's entry).
   */
  async makeDurable(root: string): Promise<void> {
    for (const name of ARCHIVE_ROOT_DIRECTORIES) {
      if (!this.directories.has(name)) await this.directory(name);
    }
    const byDepth = [...this.directories].sort((a, b) => b.split('/').length - a.split('/').length);
    for (const relative of byDepth) {
      const absolute = join(this.staging, relative);
      await io('fsync', absolute, () => this.fs.syncDirectory(absolute));
    }
    await io('fsync', this.staging, () => this.fs.syncDirectory(this.staging));
    await io('fsync', root, () => this.fs.syncDirectory(root));
  }

  /** Closes a file left open by a failure. */
  async abandon(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close().catch(() => undefined);
  }

  private addWithAncestors(path: string): void {
    for (let current = path; current !== '.' && !this.directories.has(current);) {
      this.directories.add(current);
      current = dirname(current);
    }
  }
}
