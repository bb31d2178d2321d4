/**
 * The backup archive: a POSIX tar (`tar -tf` lists it) holding a checkpoint of a node's data
 * directory (`FORMAT`, `tree/...`, `wal/...`, in that order, each directory before what it holds)
 * and, as its last entry, the manifest {@link BACKUP_MANIFEST_NAME}:
 *
 * ```json
 * {
 *   "manifest": {
 *     "format": "strata-backup", "version": 1, "seqno": 1234, "treeSeqno": 1200,
 *     "nodeId": "n1", "createdAt": "2025-01-01T00:00:00.000Z", "chunkSizeBytes": 1048576,
 *     "directories": ["tree", "tree/segments", "wal"],
 *     "files": [{ "path": "FORMAT", "sizeBytes": 21, "sha256": "…", "crc32c": 123, "chunkCrc32c": [123] }],
 *     "totalSizeBytes": 21
 *   },
 *   "sha256": "<sha256 of JSON.stringify(manifest)>"
 * }
 * ```
 *
 * The manifest comes last because the archive is streamed: the checksums are known only once a
 * file went through. `chunkCrc32c` holds one crc32c per `chunkSizeBytes` of a file, so a damaged
 * byte is placed within one chunk (file and archive offset) rather than just "somewhere in the
 * file"; `sha256` and `crc32c` cover the whole file. The manifest's own `sha256` makes a damaged
 * manifest refused as such instead of blamed on the file whose checksum it garbled.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { StrataError, crc32c } from '@strata/core';

/** Name of the manifest, the archive's last entry. */
export const BACKUP_MANIFEST_NAME = 'strata-backup.json';
/** `format` of every manifest. */
export const BACKUP_FORMAT = 'strata-backup';
/** The manifest version this code writes and reads. */
export const BACKUP_FORMAT_VERSION = 1;
/** Bytes covered by each entry of `chunkCrc32c`. */
export const BACKUP_CHUNK_BYTES = 1024 * 1024;
/** Largest manifest read (about 60 bytes per chunk of 1 MiB: room for terabytes). */
export const MAX_MANIFEST_BYTES = 256 * 1024 * 1024;

/** One file of a backup and its checksums. */
export interface BackupFile {
  /** Relative to the data directory, '/'-separated. */
  readonly path: string;
  readonly sizeBytes: number;
  /** Hex sha256 of the whole file. */
  readonly sha256: string;
  /** crc32c of the whole file. */
  readonly crc32c: number;
  /** crc32c of each `chunkSizeBytes` piece of the file, in order. */
  readonly chunkCrc32c: readonly number[];
}

/** What a backup holds; see the module comment. */
export interface BackupManifest {
  readonly format: typeof BACKUP_FORMAT;
  readonly version: number;
  /** The backup holds every write up to this seqno, and nothing after it. */
  readonly seqno: number;
  /** Writes up to this seqno are in tree segments, the rest in the backup's log. */
  readonly treeSeqno: number;
  /** The node the backup was taken from. */
  readonly nodeId: string;
  /** When the backup was taken (ISO 8601). */
  readonly createdAt: string;
  readonly chunkSizeBytes: number;
  readonly directories: readonly string[];
  readonly files: readonly BackupFile[];
  readonly totalSizeBytes: number;
}

/** The manifest entry's bytes: the manifest and the sha256 of its compact JSON. */
export function encodeManifest(manifest: BackupManifest): Buffer {
  const body = JSON.stringify(manifest);
  const sha256 = createHash('sha256').update(body).digest('hex');
  return Buffer.from(`{"manifest":${body},"sha256":"${sha256}"}\n`, 'utf8');
}

/**
 * Parses and checks a manifest entry read from `archiveName` at archive offset `offset`.
 *
 * @throws StrataError `CORRUPTION` (not JSON, checksum mismatch, missing fields),
 * `UNSUPPORTED_FORMAT` (another version).
 */
export function decodeManifest(bytes: Buffer, archiveName: string, offset: number): BackupManifest {
  const damaged = (reason: string): StrataError =>
    new StrataError(
      'CORRUPTION',
      `corruption in ${archiveName} at offset ${offset}: ${BACKUP_MANIFEST_NAME} ${reason}`,
      { details: { file: archiveName, offset, entry: BACKUP_MANIFEST_NAME } },
    );
  let document: { manifest?: unknown; sha256?: unknown };
  try {
    document = JSON.parse(bytes.toString('utf8')) as typeof document;
  } catch {
    throw damaged('is not JSON');
  }
  const manifest = document?.manifest as BackupManifest | undefined;
  const version: unknown = manifest?.version;
  if (typeof manifest !== 'object' || manifest === null) throw damaged('has no manifest');
  const sha256 = createHash('sha256').update(JSON.stringify(manifest)).digest('hex');
  if (sha256 !== document.sha256) throw damaged('does not match its sha256');
  if (manifest.format !== BACKUP_FORMAT) throw damaged('is not a strata-backup manifest');
  if (manifest.version !== BACKUP_FORMAT_VERSION) {
    throw new StrataError(
      'UNSUPPORTED_FORMAT',
      `${archiveName}: backup format version ${String(version)} is not supported (this Strata reads version ${BACKUP_FORMAT_VERSION})`,
      { details: { file: archiveName, version: manifest.version } },
    );
  }
  if (
    !Number.isSafeInteger(manifest.seqno) ||
    !Number.isSafeInteger(manifest.treeSeqno) ||
    !Number.isSafeInteger(manifest.chunkSizeBytes) ||
    manifest.chunkSizeBytes < 1 ||
    !Array.isArray(manifest.files) ||
    !Array.isArray(manifest.directories)
  ) {
    throw damaged('lacks required fields');
  }
  return manifest;
}

/** What {@link FileDigest.finish} computed. */
export type FileChecksums = Pick<BackupFile, 'sha256' | 'crc32c' | 'chunkCrc32c'>;

/** The checksums of one file, fed piece by piece (pieces may split chunks anywhere). */
export class FileDigest {
  private readonly hash = createHash('sha256');
  private whole = 0;
  private chunk = 0;
  private inChunk = 0;
  private readonly chunks: number[] = [];
  /** Bytes fed so far. */
  sizeBytes = 0;

  constructor(private readonly chunkSizeBytes: number = BACKUP_CHUNK_BYTES) {}

  /** Adds the next piece of the file. */
  update(piece: Uint8Array): void {
    this.hash.update(piece);
    this.whole = crc32c(piece, this.whole);
    this.sizeBytes += piece.byteLength;
    let at = 0;
    while (at < piece.byteLength) {
      const take = Math.min(this.chunkSizeBytes - this.inChunk, piece.byteLength - at);
      this.chunk = crc32c(piece.subarray(at, at + take), this.chunk);
      this.inChunk += take;
      at += take;
      if (this.inChunk === this.chunkSizeBytes) this.closeChunk();
    }
  }

  /** The checksums of everything fed. */
  finish(): FileChecksums {
    if (this.inChunk > 0) this.closeChunk();
    return { sha256: this.hash.digest('hex'), crc32c: this.whole, chunkCrc32c: this.chunks };
  }

  private closeChunk(): void {
    this.chunks.push(this.chunk);
    this.chunk = 0;
    this.inChunk = 0;
  }
}

/**
 * Why `actual` differs from the manifest's `expected`, with the byte offset in the file of the
 * first chunk that differs (0 when only the whole-file checksums or the size differ), or
 * `undefined` when they agree.
 */
export function checksumMismatch(
  expected: BackupFile,
  actual: FileChecksums & { sizeBytes: number },
  chunkSizeBytes: number,
): { fileOffset: number; reason: string } | undefined {
  if (actual.sizeBytes !== expected.sizeBytes) {
    return {
      fileOffset: Math.min(actual.sizeBytes, expected.sizeBytes),
      reason: `is ${actual.sizeBytes} bytes, the manifest says ${expected.sizeBytes}`,
    };
  }
  const chunks = expected.chunkCrc32c;
  for (let i = 0; i < Math.max(chunks.length, actual.chunkCrc32c.length); i++) {
    if (chunks[i] !== actual.chunkCrc32c[i]) {
      return {
        fileOffset: i * chunkSizeBytes,
        reason: `bytes ${i * chunkSizeBytes}..${Math.min((i + 1) * chunkSizeBytes, expected.sizeBytes)} do not match their crc32c`,
      };
    }
  }
  if (actual.crc32c !== expected.crc32c) return { fileOffset: 0, reason: 'crc32c mismatch' };
  if (actual.sha256 !== expected.sha256) return { fileOffset: 0, reason: 'sha256 mismatch' };
  return undefined;
}
