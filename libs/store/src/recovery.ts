import { StrataError, errnoOf, invariant, isStrataError, settleAll } from '@strata/core';
import type { FileSystem } from '@strata/core';
import { dirname } from 'node:path';
import { Tree } from '@strata/engine';
import type { TreeOptions } from '@strata/engine';
import { Wal, visitEntries } from '@strata/wal';
import type { WalOptions } from '@strata/wal';
import { RecordApplier } from './apply/record-applier.js';
import type { BackgroundJobs } from './background-jobs.js';
import type { CommitNotifier } from './commit-notifier.js';
import {
  checkExistingFormat,
  checkOrCreateFormat,
  dataDirectory,
  readFormatMarker,
  writeNewFormatMarker,
} from './data-directory.js';
import type { DataDirectory } from './data-directory.js';
import { DirectoryLock } from './directory-lock.js';
import type { ResolvedStoreOptions } from './options.js';

/** What {@link openParts} opened: a store's directory, held, with its tree and its log. */
export interface OpenedParts {
  readonly directory: DataDirectory;
  readonly lock: DirectoryLock;
  readonly tree: Tree;
  readonly wal: Wal;
  /** The highest seqno in the tree's segments (0 when none): the log is replayed above it. */
  readonly flushedSeqno: number;
  /**
   * A new store's creation being made durable (see {@link createParts}); settled for a store
   * that existed. Already observed: the store waits for it in its close.
   */
  readonly created: Promise<void>;
}

/**
 * The first half of opening a store: takes the directory lock, checks (or writes) the format
 * marker, opens the tree, then the log, which continues after the tree's flushed seqno when it
 * is empty (a new store, or one restored from a checkpoint with nothing unflushed). A new store
 * is created with its parts at once ({@link createParts}). Whatever was opened is closed again
 * when a later step fails.
 *
 * @throws StrataError `NOT_FOUND` (no store and `createIfMissing` false), `INVALID_ARGUMENT` (a
 * store and `errorIfExists`), `LOCKED`, `UNSUPPORTED_FORMAT`, `CORRUPTION` (naming file and
 * offset), `IO_ERROR`.
 */
export async function openParts(path: string, options: ResolvedStoreOptions): Promise<OpenedParts> {
  const fs = options.fileSystem;
  const directory = dataDirectory(path);
  await checkExistence(fs, directory, options);
  const lock = await takeLock(fs, directory);
  let tree: Tree | undefined;
  let wal: Wal | undefined;
  try {
    const [format, treeFound, walFound] = await Promise.all([
      readFormatMarker(fs, directory),
      Tree.exists(directory.treeDirectory, { fileSystem: fs }),
      fs.exists(directory.walDirectory),
    ]);
    // Before anything is written: an unsupported format is refused untouched.
    if (format !== undefined) await checkExistingFormat(fs, directory, format);
    if (!treeFound) {
      let created: Promise<void>;
      ({ tree, wal, created } = await createParts(directory, options, format !== undefined));
      return { directory, lock, tree, wal, flushedSeqno: 0, created };
    }
    if (format === undefined) await checkOrCreateFormat(fs, directory);
    ({ tree, wal } = await openExistingParts(directory, options));
    // The log's folder was missing and Wal.open made it: its name must be durable too.
    if (!walFound) await fs.syncDirectory(directory.root);
    return {
      directory,
      lock,
      tree,
      wal,
      flushedSeqno: tree.getHighestPersistedSeqno() ?? 0,
      created: Promise.resolve(),
    };
  } catch (error) {
    await abandonParts({ lock, tree, wal });
    throw error;
  }
}

/**
 * Takes the directory's lock, making the directory first when it does not exist yet (the usual
 * case, an existing directory, costs no mkdir). A new directory's own name is made durable by
 * {@link createParts}.
 */
async function takeLock(fs: FileSystem, directory: DataDirectory): Promise<DirectoryLock> {
  try {
    return await DirectoryLock.acquire(fs, directory.lockFile);
  } catch (error) {
    if (!isStrataError(error, 'IO_ERROR') || errnoOf(error.cause) !== 'ENOENT') throw error;
  }
  await fs.mkdir(directory.root);
  return DirectoryLock.acquire(fs, directory.lockFile);
}

/**
 * Opens the tree and the log of an existing store. An empty log continues after the tree's
 * flushed seqno (a store restored from a checkpoint with nothing unflushed), which only the open
 * tree knows; a log that holds segments takes its positions from them. So under `strict` recovery
 * both open at once, the log as if it started at seqno 1, and in the rare case that it has no
 * segment and the tree flushed something, it is closed (opening an empty log writes nothing) and
 * opened again after the tree. Point-in-time recovery may set segments aside, which it must not
 * do for a store whose tree then fails to open: there the tree opens first, as it always did.
 * When both fail, the tree's error is the one thrown.
 */
async function openExistingParts(
  directory: DataDirectory,
  options: ResolvedStoreOptions,
): Promise<{ tree: Tree; wal: Wal }> {
  if (options.pointInTimeRecovery) {
    const tree = await Tree.open(directory.treeDirectory, treeOptions(options));
    const flushedSeqno = tree.getHighestPersistedSeqno() ?? 0;
    try {
      return {
        tree,
        wal: await Wal.open(directory.walDirectory, walOptions(options, flushedSeqno + 1)),
      };
    } catch (error) {
      await tree.close().catch(() => undefined);
      throw error;
    }
  }
  const { tree, wal } = await openAtOnce(
    Tree.open(directory.treeDirectory, treeOptions(options)),
    Wal.open(directory.walDirectory, walOptions(options, 1)),
  );
  const firstSeqno = (tree.getHighestPersistedSeqno() ?? 0) + 1;
  if (wal.segments().length > 0 || firstSeqno === 1) return { tree, wal };
  try {
    await wal.close();
    return { tree, wal: await Wal.open(directory.walDirectory, walOptions(options, firstSeqno)) };
  } catch (error) {
    await tree.close().catch(() => undefined);
    throw error;
  }
}

/**
 * Waits for a tree and a log being opened at once; when either failed, closes what did open and
 * throws the first failure (the tree's, then the log's).
 */
async function openAtOnce(
  treeOpening: Promise<Tree>,
  walOpening: Promise<Wal>,
): Promise<{ tree: Tree; wal: Wal }> {
  const [tree, wal] = await Promise.allSettled([treeOpening, walOpening]);
  if (tree.status === 'fulfilled' && wal.status === 'fulfilled') {
    return { tree: tree.value, wal: wal.value };
  }
  if (wal.status === 'fulfilled') await wal.value.close().catch(() => undefined);
  if (tree.status === 'fulfilled') await tree.value.close().catch(() => undefined);
  throw (tree.status === 'rejected' ? tree : (wal as PromiseRejectedResult)).reason;
}

/**
 * Creates a new store's parts at once: the format marker, the tree and the log, each of which
 * waits on its own fsyncs, so their waits overlap instead of adding up. `formatFound`: the marker
 * is already there (a creation cut short after it), so it is not written again.
 *
 * The open resolves once the tree's files are written and the log is open; what makes the
 * creation durable then runs in the background and is returned as `created`: the tree's commit
 * (its files fdatasynced, then its marker renamed into place and its folders fsynced:
 * `Tree.create`), the format marker (its bytes
 * fdatasynced, then renamed into place) and, once that marker is renamed and the log is open
 * (`Wal.open` makes its folder), one fsync of the data directory (the names `FORMAT` and `wal`)
 * and one of the folder holding it (the data directory's own name, which the lock's open may
 * just have made). The log's first segment waits for `created` as it waits for its own folder's
 * fsync
 * (`WalOptions.directoryCreation`), so the first write is acknowledged only once the whole
 * creation is durable, and its waits overlap with the creation's instead of following them; a
 * close waits for it too.
 *
 * Crash safety. None of these steps orders against another, because every partial state a
 * power loss can leave opens as the same empty store or as no store at all: without the tree's
 * marker the tree is created again and the log is empty (no append was acknowledged); without
 * `FORMAT` the directory holds no store (`createIfMissing: false` refuses it, otherwise the
 * marker is written and the empty tree opened); a missing `wal/` is made again, empty. Nothing
 * can be torn (the format marker is fdatasynced before its rename, the tree's files before its
 * marker's rename). So a store that was opened but never written to nor closed may be gone
 * after a power loss, and one with an acknowledged write, or a resolved close, is not.
 */
async function createParts(
  directory: DataDirectory,
  options: ResolvedStoreOptions,
  formatFound: boolean,
): Promise<{ tree: Tree; wal: Wal; created: Promise<void> }> {
  const fs = options.fileSystem;
  const treeCreating = Tree.create(directory.treeDirectory, treeOptions(options));
  // The log's first segment waits for the whole creation, which in turn needs the log's folder,
  // which Wal.open makes: the log gets a promise that adopts `created` once that exists.
  let adoptCreation: (created: Promise<void>) => void = () => undefined;
  const directoryCreation = new Promise<void>((resolve) => (adoptCreation = resolve));
  // A new tree has flushed nothing: the log starts at seqno 1.
  const walOpening = Wal.open(directory.walDirectory, {
    ...walOptions(options, 1),
    directoryCreation,
  });
  // Every step ends before the open gives up on a failure (a marker write still running could
  // otherwise rename it into place after the lock is released).
  // The format marker is written once the tree's files are: its fdatasync would otherwise hold
  // one of libuv's four threads while the open still waits for those files.
  const namesSynced = settleAll([
    walOpening,
    formatFound ? Promise.resolve() : treeCreating.then(() => writeNewFormatMarker(fs, directory)),
  ]).then(() =>
    settleAll([fs.syncDirectory(directory.root), fs.syncDirectory(dirname(directory.root))]),
  );
  const created = settleAll([namesSynced, treeCreating.then((tree) => tree.whenCreated())]);
  // Observed here: the store waits for it in its close, the log before its first segment.
  created.catch(() => undefined);
  adoptCreation(created);
  try {
    return { ...(await openAtOnce(treeCreating, walOpening)), created };
  } catch (error) {
    await created.catch(() => undefined);
    throw error;
  }
}

function treeOptions(options: ResolvedStoreOptions): TreeOptions {
  return {
    fileSystem: options.fileSystem,
    memoryBudgetBytes: options.memoryBudgetBytes,
    maxValueSizeBytes: options.maxValueBytes,
    jobExecution: options.jobExecution,
    clock: options.clock,
  };
}

function walOptions(options: ResolvedStoreOptions, firstSeqno: number): WalOptions {
  return {
    fileSystem: options.fileSystem,
    sync: options.sync,
    syncIntervalMs: options.syncIntervalMs,
    segmentSizeBytes: options.walSegmentSizeBytes,
    maxKeyBytes: options.maxKeyBytes,
    maxValueBytes: options.maxValueBytes,
    retention: options.retention,
    recovery: options.pointInTimeRecovery ? 'point-in-time' : 'strict',
    firstSeqno,
  };
}

/**
 * Applies `createIfMissing` and `errorIfExists` before anything is created: a directory holds a
 * store when it has a format marker (every store writes one when it is created).
 */
async function checkExistence(
  fs: FileSystem,
  directory: DataDirectory,
  options: ResolvedStoreOptions,
): Promise<void> {
  if (options.createIfMissing && !options.errorIfExists) return;
  const exists = await fs.exists(directory.formatFile);
  if (!exists && !options.createIfMissing) {
    throw new StrataError(
      'NOT_FOUND',
      `data directory ${directory.root} does not exist or holds no store (no ${directory.formatFile}), and createIfMissing is false`,
      { details: { file: directory.formatFile } },
    );
  }
  if (exists && options.errorIfExists) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `data directory ${directory.root} already holds a store (it exists), and errorIfExists is true`,
      { details: { file: directory.formatFile } },
    );
  }
}

/** Closes what opening got to, ignoring failures: opening failed already, and that error counts. */
export async function abandonParts(parts: {
  readonly lock: DirectoryLock;
  readonly tree?: Tree | undefined;
  readonly wal?: Wal | undefined;
  readonly created?: Promise<void> | undefined;
}): Promise<void> {
  await parts.wal?.close().catch(() => undefined);
  await parts.tree?.close().catch(() => undefined);
  await parts.created?.catch(() => undefined);
  await parts.lock.release().catch(() => undefined);
}

/**
 * The second half of opening a store: replays the log records above the tree's flushed seqno
 * into the memtable (flushing as it fills), straight from their bytes, and advances the applied
 * seqno to the end of the log.
 *
 * @throws StrataError `CORRUPTION` when the log ends below the tree, starts above what recovery
 * needs, or holds a record that cannot be decoded (with file and offset).
 */
export async function replayLog(
  parts: OpenedParts,
  notifier: CommitNotifier,
  jobs: BackgroundJobs,
  memtableSizeBytes: number,
): Promise<void> {
  const { tree, wal, flushedSeqno } = parts;
  const walDirectory = parts.directory.walDirectory;
  if (wal.lastSeqno <= flushedSeqno) {
    if (wal.lastSeqno < flushedSeqno) {
      throw new StrataError(
        'CORRUPTION',
        `the log ends at seqno ${wal.lastSeqno} but the tree holds data up to ${flushedSeqno}`,
        { details: { file: walDirectory, offset: 0 } },
      );
    }
    return;
  }
  const fromSeqno = flushedSeqno + 1;
  if (fromSeqno < wal.firstSeqno) {
    throw new StrataError(
      'CORRUPTION',
      `the log starts at ${wal.firstSeqno}; recovery needs it from ${fromSeqno}`,
      {
        details: { file: walDirectory, offset: 0 },
      },
    );
  }
  const applier = new RecordApplier(tree, flushedSeqno);
  // Entries are copied into the memtable: the reader may refill one buffer (reuseBuffer).
  for await (const record of wal.readRecords({ fromSeqno, reuseBuffer: true })) {
    applier.firstSeqno = record.firstSeqno;
    try {
      // The record as its source: a decoding failure then names the segment file and offset.
      visitEntries(record.bytes, applier, record);
    } catch (error) {
      if (isStrataError(error)) throw error;
      throw new StrataError(
        'CORRUPTION',
        `record at seqno ${record.firstSeqno} cannot be decoded: ${String(error)}`,
        {
          details: { file: record.file, offset: record.offset, seqno: record.firstSeqno },
          cause: error,
        },
      );
    }
    notifier.advance(record.lastSeqno);
    if (tree.activeMemtableSize() >= memtableSizeBytes) {
      void jobs.scheduleFlush();
      await jobs.waitForCapacity();
    }
  }
  invariant(notifier.applied === wal.lastSeqno, 'replay did not reach the end of the log');
  // A close leaves the memtable in the log: one replayed at some size is flushed now, in the
  // background, so that the next open is quick again instead of replaying it once more.
  if (tree.activeMemtableSize() >= memtableSizeBytes / REPLAYED_FLUSH_FRACTION) {
    void jobs.scheduleFlush();
  }
}

/** A replayed memtable over this fraction of the memtable size is flushed after the open. */
const REPLAYED_FLUSH_FRACTION = 8;
