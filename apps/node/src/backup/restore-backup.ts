import { createReadStream } from 'node:fs';
import { mkdir, readdir, rmdir, stat } from 'node:fs/promises';
import { StrataError } from '@strata/core';
import { ArchiveEncoder, installCheckpoint } from '@strata/replication';
import type { BackupManifest } from './backup-manifest.js';
import { readBackupArchive } from './backup-reader.js';

/** Content chunk size of the checkpoint archive a restore installs (its reader's maximum). */
const INSTALL_CHUNK_BYTES = 1024 * 1024;

/** What {@link restoreBackup} made. */
export interface RestoredBackup {
  readonly manifest: BackupManifest;
  /** The restored data directory. */
  readonly directory: string;
}

/**
 * Verifies the whole backup `archivePath` against its manifest (without writing anything), then
 * makes `dataDirectory` (new or empty) from it: the archive is read a second time, checked file
 * by file against the verified manifest, and installed the way a bootstrapping follower installs
 * a leader's checkpoint (`installCheckpoint` of @strata/replication: staged below the directory,
 * every file and directory fsynced, then swapped in). The result holds every write up to
 * `manifest.seqno`, opens as a store, and can join a cluster as a follower (it continues from the
 * stream after that seqno).
 *
 * @throws StrataError `INVALID_ARGUMENT` (the directory is not empty, or is a file), what
 * {@link readBackupArchive} throws (`CORRUPTION` with the archive offset...), `IO_ERROR`.
 */
export async function restoreBackup(
  archivePath: string,
  dataDirectory: string,
): Promise<RestoredBackup> {
  await checkEmptyTarget(dataDirectory);
  const manifest = await verifyBackupFile(archivePath);
  await mkdir(dataDirectory, { recursive: true });
  try {
    await installCheckpoint(checkpointFrames(archivePath, manifest), dataDirectory);
  } catch (error) {
    // Nothing was swapped in: leave the directory as empty as it was given.
    await removeIfEmpty(dataDirectory);
    throw error;
  }
  return { manifest, directory: dataDirectory };
}

/** Reads the whole backup file and verifies it; resolves with its manifest. */
export async function verifyBackupFile(archivePath: string): Promise<BackupManifest> {
  const parts = readBackupArchive(openArchive(archivePath), { archiveName: archivePath });
  for (;;) {
    const step = await parts.next();
    if (step.done) return step.value;
  }
}

/**
 * The backup as a checkpoint archive (format of @strata/replication's bootstrap), for
 * `installCheckpoint`; the end frame comes only after the reader matched every file against
 * `manifest`, so a damaged file fails the install before anything is swapped in.
 */
async function* checkpointFrames(
  archivePath: string,
  manifest: BackupManifest,
): AsyncGenerator<Buffer, void, undefined> {
  const encoder = new ArchiveEncoder();
  yield encoder.header({
    seqno: manifest.seqno,
    treeSeqno: manifest.treeSeqno,
    entryCount: manifest.directories.length + manifest.files.length,
    chunkSizeBytes: INSTALL_CHUNK_BYTES,
  });
  // Content chunks must be exactly the chunk size (the last one of a file shorter).
  let pending = Buffer.allocUnsafe(INSTALL_CHUNK_BYTES);
  let filled = 0;
  for await (const part of readBackupArchive(openArchive(archivePath), {
    archiveName: archivePath,
    expected: manifest,
  })) {
    if (part.kind === 'directory') {
      yield encoder.entry({ kind: 'directory', path: part.path, sizeBytes: 0 });
    } else if (part.kind === 'file') {
      yield encoder.entry({ kind: 'file', path: part.path, sizeBytes: part.sizeBytes });
    } else if (part.kind === 'data') {
      for (let at = 0; at < part.bytes.length;) {
        const take = Math.min(INSTALL_CHUNK_BYTES - filled, part.bytes.length - at);
        part.bytes.copy(pending, filled, at, at + take);
        filled += take;
        at += take;
        if (filled === INSTALL_CHUNK_BYTES) {
          yield encoder.chunk(pending);
          pending = Buffer.allocUnsafe(INSTALL_CHUNK_BYTES);
          filled = 0;
        }
      }
    } else if (part.kind === 'end-file') {
      if (filled > 0) yield encoder.chunk(pending.subarray(0, filled));
      filled = 0;
    }
  }
  yield encoder.end();
}

function openArchive(archivePath: string): AsyncIterable<Uint8Array> {
  return createReadStream(archivePath, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>;
}

async function checkEmptyTarget(directory: string): Promise<void> {
  let info;
  try {
    info = await stat(directory);
  } catch {
    return; // does not exist: restore makes it
  }
  if (!info.isDirectory()) {
    throw new StrataError('INVALID_ARGUMENT', `--data ${directory} is a file, not a directory`);
  }
  const names = await readdir(directory);
  if (names.length > 0) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `--data ${directory} is not empty (it holds ${names.slice(0, 3).join(', ')}${names.length > 3 ? ', ...' : ''}): restore makes a new data directory and never overwrites one`,
      { details: { path: directory } },
    );
  }
}

async function removeIfEmpty(directory: string): Promise<void> {
  await rmdir(directory).catch(() => undefined);
}
