import { posix } from 'node:path';
import type { FileSystem } from '@strata/core';
import { StrataError, corruptionError, crc32c, createFileWith, ioError } from '@strata/core';
import type { SegmentMetadata, SegmentMetadataJson } from '../segment/metadata.js';
import { metadataFromJson, metadataToJson } from '../segment/metadata.js';
import { MANIFEST_FILE, TEMP_SUFFIX } from '../file-names.js';

/** Version of the manifest format. */
export const MANIFEST_FORMAT_VERSION = 1;
const MANIFEST_MAGIC = 'STRATAMF';
const HEADER_BYTES = 20;

/** How the manifest file writes that no seqno was flushed yet (its JSON has no `undefined`). */
export const NO_FLUSHED_SEQNO = -1;

/** What the levels manifest records: the segments of each level and the next segment id. */
export interface ManifestState {
  readonly nextSegmentId: number;
  /**
   * Highest seqno ever written to a segment, `undefined` before the first flush. Kept apart from
   * the segments' own ranges because compaction may drop the newest entry (a tombstone), and the
   * store replays its log from here.
   */
  readonly flushedSeqno: number | undefined;
  readonly levels: readonly (readonly SegmentMetadata[])[];
}

/** The manifest as its file holds it: {@link NO_FLUSHED_SEQNO} before the first flush. */
interface ManifestJson {
  readonly nextSegmentId: number;
  readonly flushedSeqno: number;
  readonly levels: SegmentMetadataJson[][];
}

/**
 * Layout: `"STRATAMF"`, `u32 version`, `u32 payloadLength`, `u32 crc32c(payload)`, payload (JSON).
 * Any damage, truncation included, fails the checksum or the length check.
 */
export function encodeManifest(state: ManifestState): Buffer {
  const json: ManifestJson = {
    nextSegmentId: state.nextSegmentId,
    flushedSeqno: state.flushedSeqno ?? NO_FLUSHED_SEQNO,
    levels: state.levels.map((level) => level.map(metadataToJson)),
  };
  const payload = Buffer.from(JSON.stringify(json));
  const header = Buffer.alloc(HEADER_BYTES);
  header.write(MANIFEST_MAGIC, 0, 'ascii');
  header.writeUInt32LE(MANIFEST_FORMAT_VERSION, 8);
  header.writeUInt32LE(payload.length, 12);
  header.writeUInt32LE(crc32c(payload), 16);
  return Buffer.concat([header, payload]);
}

export function decodeManifest(bytes: Buffer, file: string): ManifestState {
  if (bytes.length < HEADER_BYTES || bytes.toString('ascii', 0, 8) !== MANIFEST_MAGIC) {
    throw corruptionError(file, 0, 'not a levels manifest');
  }
  const version = bytes.readUInt32LE(8);
  if (version !== MANIFEST_FORMAT_VERSION) {
    throw new StrataError(
      'UNSUPPORTED_FORMAT',
      `manifest format version ${version} in ${file} is not supported (expected ${MANIFEST_FORMAT_VERSION})`,
      { details: { file } },
    );
  }
  const length = bytes.readUInt32LE(12);
  if (length !== bytes.length - HEADER_BYTES) {
    throw corruptionError(file, 12, 'manifest length mismatch');
  }
  const payload = bytes.subarray(HEADER_BYTES);
  if (crc32c(payload) !== bytes.readUInt32LE(16)) {
    throw corruptionError(file, HEADER_BYTES, 'manifest checksum mismatch');
  }
  let json: ManifestJson;
  try {
    json = JSON.parse(payload.toString('utf8')) as ManifestJson;
  } catch {
    throw corruptionError(file, HEADER_BYTES, 'manifest payload is not JSON');
  }
  if (
    typeof json !== 'object' ||
    json === null ||
    !Number.isSafeInteger(json.nextSegmentId) ||
    !Number.isSafeInteger(json.flushedSeqno) ||
    !Array.isArray(json.levels)
  ) {
    throw corruptionError(file, HEADER_BYTES, 'malformed manifest');
  }
  const levels = json.levels.map((level) => {
    if (!Array.isArray(level)) throw corruptionError(file, HEADER_BYTES, 'malformed level');
    return level.map((meta) => metadataFromJson(meta, file));
  });
  return {
    nextSegmentId: json.nextSegmentId,
    flushedSeqno: json.flushedSeqno < 0 ? undefined : json.flushedSeqno,
    levels,
  };
}

/**
 * Replaces a small file atomically: write a temporary file, fsync it, rename it over the target,
 * fsync the directory.
 */
export async function replaceFileAtomically(
  fs: FileSystem,
  path: string,
  bytes: Buffer,
): Promise<void> {
  const temp = path + TEMP_SUFFIX;
  try {
    const handle = await createFileWith(fs, temp, [bytes]);
    try {
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, path);
    await fs.syncDirectory(posix.dirname(path));
  } catch (error) {
    throw ioError('replace', path, error);
  }
}

/** Writes the manifest of a tree durably. */
export async function writeManifest(
  fs: FileSystem,
  treePath: string,
  state: ManifestState,
): Promise<void> {
  await replaceFileAtomically(fs, posix.join(treePath, MANIFEST_FILE), encodeManifest(state));
}

/** Reads the manifest of a tree; a missing file is a CORRUPTION (the marker promised one). */
export async function readManifest(fs: FileSystem, treePath: string): Promise<ManifestState> {
  const file = posix.join(treePath, MANIFEST_FILE);
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') {
      throw corruptionError(file, 0, 'levels manifest is missing');
    }
    throw ioError('read', file, error);
  }
  return decodeManifest(bytes, file);
}
