import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StrataError, corruptionError, crc32c, errnoOf } from '@strata/core';

/**
 * Read-only access to the tree's levels manifest (`<data>/tree/levels`). The engine exports no
 * reader for it, so this module decodes the documented layout itself: `"STRATAMF"`, u32 version,
 * u32 payload length, u32 crc32c(payload), JSON payload. It never writes, so it is safe next to a
 * running node (the manifest is replaced by rename, so a read sees an old or a new one, whole).
 */

/** One segment as the manifest lists it. */
export interface ManifestSegment {
  readonly level: number;
  readonly id: number;
  readonly file: string;
  readonly itemCount: number;
  readonly tombstoneCount: number;
  readonly keyCount: number;
  /** Smallest and largest key, in hex. */
  readonly minKeyHex: string;
  readonly maxKeyHex: string;
  readonly minSeqno: number;
  readonly maxSeqno: number;
  readonly fileSizeBytes: number;
  readonly blockCount: number;
  readonly compression: string;
  /** The segment's metadata exactly as stored (for tools that rebuild a manifest). */
  readonly raw: Readonly<Record<string, unknown>>;
}

/** The decoded manifest. */
export interface TreeManifest {
  readonly path: string;
  readonly nextSegmentId: number;
  /** Highest seqno ever flushed to a segment (-1: none). */
  readonly flushedSeqno: number;
  readonly levels: readonly (readonly ManifestSegment[])[];
}

const MAGIC = 'STRATAMF';
const HEADER_BYTES = 20;

/** Reads `<tree>/levels`; undefined when the tree was never created. CORRUPTION on damage. */
export async function readTreeManifest(treeDirectory: string): Promise<TreeManifest | undefined> {
  const path = join(treeDirectory, 'levels');
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined;
    throw new StrataError('IO_ERROR', `cannot read ${path}: ${String(error)}`, { cause: error });
  }
  return decodeTreeManifest(bytes, path, treeDirectory);
}

/** Decodes manifest bytes (see the module comment). */
export function decodeTreeManifest(
  bytes: Buffer,
  path: string,
  treeDirectory: string,
): TreeManifest {
  if (bytes.length < HEADER_BYTES || bytes.toString('ascii', 0, 8) !== MAGIC) {
    throw corruptionError(path, 0, 'not a levels manifest');
  }
  const version = bytes.readUInt32LE(8);
  if (version !== 1) {
    throw new StrataError('UNSUPPORTED_FORMAT', `manifest version ${version} in ${path}`);
  }
  if (bytes.readUInt32LE(12) !== bytes.length - HEADER_BYTES) {
    throw corruptionError(path, 12, 'manifest length mismatch');
  }
  const payload = bytes.subarray(HEADER_BYTES);
  if (crc32c(payload) !== bytes.readUInt32LE(16)) {
    throw corruptionError(path, HEADER_BYTES, 'manifest checksum mismatch');
  }
  let json: { nextSegmentId?: unknown; flushedSeqno?: unknown; levels?: unknown };
  try {
    json = JSON.parse(payload.toString('utf8')) as typeof json;
  } catch {
    throw corruptionError(path, HEADER_BYTES, 'manifest payload is not JSON');
  }
  if (
    typeof json.nextSegmentId !== 'number' ||
    typeof json.flushedSeqno !== 'number' ||
    !Array.isArray(json.levels)
  ) {
    throw corruptionError(path, HEADER_BYTES, 'malformed manifest');
  }
  const levels = (json.levels as unknown[]).map((level, levelNo) => {
    if (!Array.isArray(level)) throw corruptionError(path, HEADER_BYTES, 'malformed level');
    return (level as Record<string, unknown>[]).map((meta) =>
      toSegment(meta, levelNo, treeDirectory),
    );
  });
  return { path, nextSegmentId: json.nextSegmentId, flushedSeqno: json.flushedSeqno, levels };
}

function toSegment(
  meta: Record<string, unknown>,
  level: number,
  treeDirectory: string,
): ManifestSegment {
  const number = (name: string): number => (typeof meta[name] === 'number' ? meta[name] : 0);
  const id = number('id');
  return {
    level,
    id,
    file: join(treeDirectory, 'segments', `${id}.seg`),
    itemCount: number('itemCount'),
    tombstoneCount: number('tombstoneCount'),
    keyCount: number('keyCount'),
    minKeyHex: typeof meta.minKey === 'string' ? meta.minKey : '',
    maxKeyHex: typeof meta.maxKey === 'string' ? meta.maxKey : '',
    minSeqno: number('minSeqno'),
    maxSeqno: number('maxSeqno'),
    fileSizeBytes: number('fileSizeBytes'),
    blockCount: number('blockCount'),
    compression: typeof meta.compression === 'string' ? meta.compression : 'unknown',
    raw: meta,
  };
}

/** Encodes a manifest in the same layout (for the throw-away trees that verify segments). */
export function encodeTreeManifest(
  nextSegmentId: number,
  flushedSeqno: number,
  levels: readonly (readonly Readonly<Record<string, unknown>>[])[],
): Buffer {
  const payload = Buffer.from(JSON.stringify({ nextSegmentId, flushedSeqno, levels }));
  const header = Buffer.alloc(HEADER_BYTES);
  header.write(MAGIC, 0, 'ascii');
  header.writeUInt32LE(1, 8);
  header.writeUInt32LE(payload.length, 12);
  header.writeUInt32LE(crc32c(payload), 16);
  return Buffer.concat([header, payload]);
}
