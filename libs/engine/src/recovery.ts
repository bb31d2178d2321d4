import { posix } from 'node:path';
import type { FileHandle, FileSystem } from '@strata/core';
import {
  StrataError,
  corruptionError,
  createFileWith,
  errnoOf,
  ioError,
  settleAll,
} from '@strata/core';
import type { PersistedTreeConfig } from './config.js';
import { persistedPart, validatePersistedConfig } from './config.js';
import {
  CONFIG_FILE,
  MANIFEST_FILE,
  MARKER_FILE,
  SEGMENTS_FOLDER,
  TEMP_SUFFIX,
  parseSegmentFileName,
  segmentFileName,
} from './file-names.js';
import type { ManifestState } from './levels/manifest.js';
import { encodeManifest, readManifest } from './levels/manifest.js';

/** Version of the tree's on-disk layout, recorded in the marker file. */
export const TREE_FORMAT_VERSION = 1;
const MARKER_MAGIC = 'STRATA-LSM';

function encodeMarker(): Buffer {
  const out = Buffer.alloc(MARKER_MAGIC.length + 2);
  out.write(MARKER_MAGIC, 0, 'ascii');
  out.writeUInt16LE(TREE_FORMAT_VERSION, MARKER_MAGIC.length);
  return out;
}

/** True when `path` holds an initialized tree (its marker exists). */
export async function treeExists(fs: FileSystem, path: string): Promise<boolean> {
  try {
    return await fs.exists(posix.join(path, MARKER_FILE));
  } catch (error) {
    throw ioError('stat', posix.join(path, MARKER_FILE), error);
  }
}

/**
 * Creates a new tree's files: resolves once they are written, with their sync and commit (see
 * {@link stageTreeFiles}) still running. A crash before the commit is durable leaves a folder
 * without a marker, which the next open simply initializes again.
 */
export function createTreeFiles(
  fs: FileSystem,
  path: string,
  config: PersistedTreeConfig,
): Promise<StagedTree> {
  return stageTreeFiles(fs, path, config, {
    nextSegmentId: 1,
    flushedSeqno: undefined,
    levels: emptyLevels(config.levelCount),
  });
}

/**
 * Writes the files that make `path` a tree, durably, and commits them: resolves once the tree
 * exists on stable storage. {@link stageTreeFiles} followed by a wait for its commit.
 */
export async function writeTreeFiles(
  fs: FileSystem,
  path: string,
  config: PersistedTreeConfig,
  manifest: ManifestState,
): Promise<void> {
  const { committed } = await stageTreeFiles(fs, path, config, manifest);
  await committed;
}

/** A tree whose files are written and whose commit is being made durable. */
export interface StagedTree {
  /**
   * Settles once the files are durable, the marker is renamed into place and every folder
   * involved is fsynced (the tree then exists), or rejects with the `IO_ERROR` of the step that
   * failed. Already observed: a caller that drops it causes no unhandled rejection.
   */
  readonly committed: Promise<void>;
}

/**
 * Writes the files that make `path` a tree (config, manifest, then the marker), each durably,
 * and fsyncs the tree folder, its segments folder and the folder holding it (a new directory
 * entry is durable only then). Segment files the manifest lists must already be in place.
 *
 * Crash safety. The marker is the commit point: a folder without it is no tree (open creates it
 * again from scratch, a checkpoint is not reported written), so its files may be written in
 * place, and what matters is only that the marker's name never becomes durable before everything
 * it vouches for. Three steps, each waiting for the one before:
 *
 * 1. The tree folder made, then at once its segments folder, config and manifest created and
 *    written, and the marker written to its temporary file (into the page cache).
 * 2. At once (libuv runs them on its threadpool, so they cost about one wait): the fdatasync of
 *    each of the three files, the fsync of the tree folder (their names and the segments
 *    folder's), and the fsync of the segments folder when it holds files (a checkpoint's links).
 * 3. The marker renamed into place, then the tree folder fsynced, and with it, at once, the
 *    folder holding the tree (the tree folder's own name).
 *
 * Resolves after step 1, with steps 2 and 3 running ({@link StagedTree.committed}): a caller
 * that has other work to make durable (a store's first write) overlaps its own waits with the
 * commit instead of adding them up. A power loss before step 3's rename is durable leaves no
 * marker; once it is, config, manifest and the marker's bytes were durable before it, so a
 * marker never vouches for a missing or torn file.
 */
export async function stageTreeFiles(
  fs: FileSystem,
  path: string,
  config: PersistedTreeConfig,
  manifest: ManifestState,
): Promise<StagedTree> {
  const segmentsFolder = posix.join(path, SEGMENTS_FOLDER);
  // The tree folder first (one round trip when its parent exists), then its segments folder and
  // its files at once: a recursive mkdir of the segments folder would take three in a row.
  await makeFolder(fs, path);
  const markerPath = posix.join(path, MARKER_FILE);
  const files: [string, Buffer][] = [
    [posix.join(path, CONFIG_FILE), Buffer.from(JSON.stringify(persistedPart(config), null, 2))],
    [posix.join(path, MANIFEST_FILE), encodeManifest(manifest)],
    [markerPath + TEMP_SUFFIX, encodeMarker()],
  ];
  const [folderMade, ...created] = await Promise.allSettled([
    makeFolder(fs, segmentsFolder),
    ...files.map(([file, bytes]) =>
      createFileWith(fs, file, [bytes]).catch((error: unknown) => {
        throw ioError('write', file, error);
      }),
    ),
  ]);
  const handles = created.flatMap((result) =>
    result.status === 'fulfilled' ? [result.value] : [],
  );
  const failed = [folderMade, ...created].find((result) => result.status === 'rejected');
  if (failed !== undefined) {
    await Promise.allSettled(handles.map((handle) => handle.close()));
    throw failed.reason;
  }
  const committed = commitTree(fs, path, {
    files: handles.map((handle, index) => ({
      handle,
      file: (files[index] as [string, Buffer])[0],
    })),
    syncSegmentsFolder: manifest.levels.some((level) => level.length > 0),
    markerPath,
  });
  committed.catch(() => undefined);
  return { committed };
}

/** Steps 2 and 3 of {@link stageTreeFiles}: the files synced, then the marker renamed into place. */
async function commitTree(
  fs: FileSystem,
  path: string,
  staged: {
    readonly files: readonly { readonly handle: FileHandle; readonly file: string }[];
    readonly syncSegmentsFolder: boolean;
    readonly markerPath: string;
  },
): Promise<void> {
  // Closes are not waited for before the marker (nothing more is written to the files, and their
  // durability is settled by the fdatasyncs: a round trip fewer), but they are before the tree
  // counts as created, and a failed one is reported.
  const closed: Promise<void>[] = [];
  try {
    await settleAll([
      ...staged.files.map(async ({ handle, file }) => {
        try {
          await handle.datasync();
        } catch (error) {
          throw ioError('fdatasync', file, error);
        } finally {
          closed.push(
            handle.close().catch((error: unknown) => {
              throw ioError('close', file, error);
            }),
          );
        }
      }),
      // The files' names and the segments folder's.
      syncFolder(fs, path),
      // Segment files (hard links of a checkpoint) must be durable before the marker is.
      staged.syncSegmentsFolder
        ? syncFolder(fs, posix.join(path, SEGMENTS_FOLDER))
        : Promise.resolve(),
    ]);
    try {
      await fs.rename(staged.markerPath + TEMP_SUFFIX, staged.markerPath);
    } catch (error) {
      throw ioError('rename', staged.markerPath, error);
    }
    // Renamed into place and its folder fsynced: from here on the tree exists.
    await settleAll([syncFolder(fs, path), syncFolder(fs, posix.dirname(path)), ...closed]);
  } catch (error) {
    // The closes end (and their failures are observed) before the error goes up.
    await Promise.allSettled(closed);
    throw error;
  }
}

async function makeFolder(fs: FileSystem, folder: string): Promise<void> {
  try {
    await fs.mkdir(folder);
  } catch (error) {
    throw ioError('mkdir', folder, error);
  }
}

async function syncFolder(fs: FileSystem, folder: string): Promise<void> {
  try {
    await fs.syncDirectory(folder);
  } catch (error) {
    throw ioError('fsync', folder, error);
  }
}

/** What recovery found on disk. */
export interface RecoveredTree {
  readonly config: PersistedTreeConfig;
  readonly manifest: ManifestState;
}

async function readOrCorrupt(fs: FileSystem, file: string): Promise<Buffer> {
  try {
    return await fs.readFile(file);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') throw corruptionError(file, 0, 'file is missing');
    throw ioError('read', file, error);
  }
}

/**
 * Reads what makes `path` a tree without touching anything: checks the marker's format version,
 * loads the persisted config and the levels manifest and checks they agree. Shared by recovery
 * and the read-only tools, inspectTree and verifyTree.
 */
export async function readTreeState(
  fs: FileSystem,
  path: string,
): Promise<RecoveredTree & { readonly formatVersion: number }> {
  const markerPath = posix.join(path, MARKER_FILE);
  const configPath = posix.join(path, CONFIG_FILE);
  // The three files are read at once (a threadpool round trip each, a third of a reopen), then
  // checked in order, so the first damaged one is still the one reported.
  const markerRead = outcome(readOrCorrupt(fs, markerPath));
  const configRead = outcome(readOrCorrupt(fs, configPath));
  const manifestRead = outcome(readManifest(fs, path));
  const marker = unwrap(await markerRead);
  if (
    marker.length !== MARKER_MAGIC.length + 2 ||
    marker.toString('ascii', 0, MARKER_MAGIC.length) !== MARKER_MAGIC
  ) {
    throw corruptionError(markerPath, 0, 'not a Strata tree marker');
  }
  const version = marker.readUInt16LE(MARKER_MAGIC.length);
  if (version !== TREE_FORMAT_VERSION) {
    throw new StrataError(
      'UNSUPPORTED_FORMAT',
      `tree format version ${version} in ${markerPath} is not supported (expected ${TREE_FORMAT_VERSION})`,
      { details: { file: markerPath, version } },
    );
  }

  const configBytes = unwrap(await configRead);
  let config: PersistedTreeConfig;
  try {
    config = JSON.parse(configBytes.toString('utf8')) as PersistedTreeConfig;
    validatePersistedConfig(config);
  } catch (error) {
    if (error instanceof StrataError && error.code === 'CORRUPTION') throw error;
    throw corruptionError(configPath, 0, `invalid config: ${String(error)}`);
  }

  const manifest = unwrap(await manifestRead);
  if (manifest.levels.length !== config.levelCount) {
    throw corruptionError(posix.join(path, 'levels'), 0, 'level count disagrees with config');
  }
  return { config: persistedPart(config), manifest, formatVersion: version };
}

/**
 * Recovers a tree as the reference does: check the marker's format version, load the persisted
 * config and the levels manifest, delete segment files the manifest does not list (leftovers of a
 * flush or compaction cut short) and fail with CORRUPTION if a listed segment is missing. Segment
 * files themselves are not read here: they are verified lazily on first use.
 */
export async function recoverTreeFiles(fs: FileSystem, path: string): Promise<RecoveredTree> {
  const folder = posix.join(path, SEGMENTS_FOLDER);
  // Listed while the tree's files are read; its errors count only once those files are valid.
  const listing = outcome(fs.readdir(folder));
  const { config, manifest } = await readTreeState(fs, path);
  const listed = new Set(manifest.levels.flat().map((s) => s.id));
  let names: string[];
  try {
    names = unwrap(await listing);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') throw corruptionError(folder, 0, 'segments folder is missing');
    throw ioError('readdir', folder, error);
  }
  const present = new Set<number>();
  let removed = false;
  for (const name of names) {
    const id = parseSegmentFileName(name);
    if (id !== undefined && listed.has(id)) {
      present.add(id);
      continue;
    }
    try {
      await fs.removeTree(posix.join(folder, name));
      removed = true;
    } catch (error) {
      throw ioError('remove', posix.join(folder, name), error);
    }
  }
  if (removed) {
    try {
      await fs.syncDirectory(folder);
    } catch (error) {
      throw ioError('fsync', folder, error);
    }
  }
  for (const id of listed) {
    if (!present.has(id)) {
      throw corruptionError(
        posix.join(folder, segmentFileName(id)),
        0,
        'segment listed in the manifest is missing',
      );
    }
  }
  return { config, manifest };
}

/** A settled promise: its value, or the error it failed with (never an unhandled rejection). */
type Outcome<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

function outcome<T>(promise: Promise<T>): Promise<Outcome<T>> {
  return promise.then(
    (value) => ({ ok: true, value }),
    (error: unknown) => ({ ok: false, error }),
  );
}

/** The value of an {@link Outcome}, or its error thrown as it was. */
function unwrap<T>(result: Outcome<T>): T {
  if (result.ok) return result.value;
  throw result.error;
}

export function emptyLevels(levelCount: number): never[][] {
  return Array.from({ length: levelCount }, () => []);
}
