import { Readable } from 'node:stream';
import { extract as tarExtract } from 'tar-stream';
import { StrataError } from '@strata/core';
import { archivePathProblem } from '@strata/replication';
import {
  BACKUP_MANIFEST_NAME,
  FileDigest,
  MAX_MANIFEST_BYTES,
  checksumMismatch,
  decodeManifest,
} from './backup-manifest.js';
import type { BackupFile, BackupManifest } from './backup-manifest.js';

/** One step of a verified backup, as {@link readBackupArchive} yields them. */
export type BackupPart =
  | { readonly kind: 'directory'; readonly path: string }
  | { readonly kind: 'file'; readonly path: string; readonly sizeBytes: number }
  /** The next piece of the current file; valid only until the next step is asked for. */
  | { readonly kind: 'data'; readonly bytes: Buffer }
  | { readonly kind: 'end-file' }
  /** The last step: the manifest, after every file matched it. */
  | { readonly kind: 'manifest'; readonly manifest: BackupManifest };

/** Options of {@link readBackupArchive}. */
export interface ReadBackupOptions {
  /** How errors name the archive (its file name). */
  readonly archiveName: string;
  /**
   * The manifest, when already known (a second pass over a file verified once): each file is
   * then checked as soon as it ends, before the next step is yielded, and the archive's own
   * manifest must be this one.
   */
  readonly expected?: BackupManifest;
}

const TAR_BLOCK_BYTES = 512;

/**
 * Reads a backup tar (format: backup-manifest.ts) from `source` and yields its directories and
 * files in order, then the manifest, verifying everything: every tar header's checksum, each
 * path (only `FORMAT`, `tree/...`, `wal/...`), no duplicate, and each file's size, chunk crc32c,
 * crc32c and sha256 against the manifest, the manifest's own sha256, and that the manifest lists
 * exactly the files and directories the archive held. The archive is verified only once the
 * manifest step was yielded: a consumer must stage what it gets until then (or pass `expected`).
 *
 * Errors name the archive and the byte offset in it (`details.file`, `details.offset`, and
 * `details.entry` for the entry involved): `CORRUPTION` for a damaged header, a checksum
 * mismatch, a truncated archive (no manifest, or an entry cut short), an entry the manifest does
 * not list; `UNSUPPORTED_FORMAT` for a manifest of another version; `INVALID_ARGUMENT` for a
 * refused path. Memory stays at the tar parser's buffer plus one piece.
 */
export async function* readBackupArchive(
  source: AsyncIterable<Uint8Array>,
  options: ReadBackupOptions,
): AsyncGenerator<BackupPart, BackupManifest, undefined> {
  const name = options.archiveName;
  const corrupt = (offset: number, reason: string, entry?: string): StrataError =>
    new StrataError('CORRUPTION', `corruption in ${name} at offset ${offset}: ${reason}`, {
      details: { file: name, offset, ...(entry === undefined ? {} : { entry }) },
    });
  const extract = tarExtract();
  let receivedBytes = 0;
  const input = Readable.from(counted(source, (bytes) => (receivedBytes += bytes)));
  input.on('error', (error) => extract.destroy(error));
  input.pipe(extract);
  const expectedFiles = new Map(options.expected?.files.map((file) => [file.path, file]));
  const seen = new Set<string>();
  const directories: string[] = [];
  const found: (BackupFile & { dataOffset: number })[] = [];
  let nextHeaderOffset = 0;
  let current: { path: string; dataOffset: number } | undefined;
  let manifest: BackupManifest | undefined;
  try {
    for await (const entry of extract) {
      const header = entry.header;
      const dataOffset = (header as { byteOffset?: number }).byteOffset ?? nextHeaderOffset;
      const headerOffset = dataOffset - TAR_BLOCK_BYTES;
      const size = header.size ?? 0;
      nextHeaderOffset = dataOffset + Math.ceil(size / TAR_BLOCK_BYTES) * TAR_BLOCK_BYTES;
      if (manifest !== undefined) {
        throw corrupt(headerOffset, `${header.name} follows the manifest`, header.name);
      }
      if (header.name === BACKUP_MANIFEST_NAME && header.type === 'file') {
        if (size > MAX_MANIFEST_BYTES) throw corrupt(headerOffset, 'the manifest is too large');
        const pieces: Buffer[] = [];
        for await (const piece of entry as AsyncIterable<Buffer>) pieces.push(piece);
        manifest = decodeManifest(Buffer.concat(pieces), name, dataOffset);
        continue;
      }
      const kind = header.type === 'directory' ? 'directory' : 'file';
      if (header.type !== 'directory' && header.type !== 'file') {
        throw corrupt(headerOffset, `${header.name} is a ${header.type}, not a file`, header.name);
      }
      const path = kind === 'directory' ? header.name.replace(/\/+$/, '') : header.name;
      const problem = archivePathProblem(path, kind);
      if (problem !== undefined) {
        throw new StrataError(
          'INVALID_ARGUMENT',
          `${name}: the entry at offset ${headerOffset} has a refused path ${JSON.stringify(path)}: ${problem}`,
          { details: { file: name, offset: headerOffset, entry: path } },
        );
      }
      if (seen.has(path)) throw corrupt(headerOffset, `${path} appears twice`, path);
      seen.add(path);
      if (kind === 'directory') {
        directories.push(path);
        entry.resume();
        yield { kind: 'directory', path };
        continue;
      }
      current = { path, dataOffset };
      yield { kind: 'file', path, sizeBytes: size };
      const digest = new FileDigest(options.expected?.chunkSizeBytes);
      for await (const piece of entry as AsyncIterable<Buffer>) {
        digest.update(piece);
        yield { kind: 'data', bytes: piece };
      }
      const checked = { path, sizeBytes: digest.sizeBytes, ...digest.finish(), dataOffset };
      found.push(checked);
      const expected = expectedFiles.get(path);
      if (options.expected !== undefined) {
        if (expected === undefined) throw corrupt(headerOffset, `${path} is not in the manifest`);
        const mismatch = checksumMismatch(expected, checked, options.expected.chunkSizeBytes);
        if (mismatch) {
          throw corrupt(dataOffset + mismatch.fileOffset, `${path} ${mismatch.reason}`, path);
        }
      }
      current = undefined;
      yield { kind: 'end-file' };
    }
  } catch (error) {
    if (error instanceof StrataError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    if (/end of data/i.test(message)) {
      throw corrupt(
        receivedBytes,
        `the archive is truncated${current ? ` inside ${current.path}` : ''}`,
        current?.path,
      );
    }
    throw corrupt(nextHeaderOffset, `damaged tar header (${message})`);
  } finally {
    input.destroy();
    extract.destroy();
  }
  if (manifest === undefined) {
    throw corrupt(
      receivedBytes,
      `the archive is truncated: it ends without ${BACKUP_MANIFEST_NAME}`,
    );
  }
  checkAgainstManifest(manifest, found, directories, options.expected, corrupt);
  yield { kind: 'manifest', manifest };
  return manifest;
}

/** Every file and directory the archive held against what the manifest lists. */
function checkAgainstManifest(
  manifest: BackupManifest,
  found: readonly (BackupFile & { dataOffset: number })[],
  directories: readonly string[],
  expected: BackupManifest | undefined,
  corrupt: (offset: number, reason: string, entry?: string) => StrataError,
): void {
  if (expected !== undefined && JSON.stringify(expected) !== JSON.stringify(manifest)) {
    throw corrupt(0, 'the manifest changed since the archive was verified');
  }
  const listed = new Map(manifest.files.map((file) => [file.path, file]));
  for (const file of found) {
    const entry = listed.get(file.path);
    if (entry === undefined) throw corrupt(file.dataOffset, `${file.path} is not in the manifest`);
    const mismatch = checksumMismatch(entry, file, manifest.chunkSizeBytes);
    if (mismatch) {
      throw corrupt(
        file.dataOffset + mismatch.fileOffset,
        `${file.path} ${mismatch.reason}`,
        file.path,
      );
    }
    listed.delete(file.path);
  }
  const missing = [...listed.keys()];
  if (missing.length > 0) {
    throw corrupt(0, `the manifest lists ${missing.join(', ')}, which the archive lacks`);
  }
  if (JSON.stringify([...directories]) !== JSON.stringify(manifest.directories)) {
    throw corrupt(0, 'the archive holds other directories than the manifest lists');
  }
}

async function* counted(
  source: AsyncIterable<Uint8Array>,
  onBytes: (bytes: number) => void,
): AsyncGenerator<Uint8Array> {
  for await (const piece of source) {
    onBytes(piece.byteLength);
    yield piece;
  }
}
