import { StrataError, corruptionError } from '@strata/core';
import { fromHex, readU64, toHex, writeU64 } from '../util/bytes.js';
import type { CompressionType } from '../config.js';

/** Version of the segment file format this code writes and reads. */
export const SEGMENT_FORMAT_VERSION = 1;
const SEGMENT_MAGIC = 0x53475453; // "STGS" little-endian
/** Size of the fixed footer at the end of every segment file. */
export const FOOTER_BYTES = 48;

/**
 * What a segment knows about itself. Stored inside the segment (metadata block) and copied into
 * the levels manifest, so a tree reopens from the manifest alone and checks the copy against the
 * segment when it is first read.
 */
export interface SegmentMetadata {
  readonly id: number;
  readonly formatVersion: number;
  /** Entries stored, every version and tombstone included. */
  readonly itemCount: number;
  readonly tombstoneCount: number;
  /** Distinct keys. */
  readonly keyCount: number;
  readonly minKey: Buffer;
  readonly maxKey: Buffer;
  readonly minSeqno: number;
  readonly maxSeqno: number;
  readonly fileSizeBytes: number;
  readonly blockCount: number;
  /** Sum of the uncompressed data block sizes. */
  readonly uncompressedSizeBytes: number;
  readonly compression: CompressionType;
  /** When the newest data in the segment was written (flush time; the newest input for a merge). */
  readonly newestDataAtMs: number;
}

/** JSON-safe form of {@link SegmentMetadata} (keys in hex). */
export type SegmentMetadataJson = Omit<SegmentMetadata, 'minKey' | 'maxKey'> & {
  readonly minKey: string;
  readonly maxKey: string;
};

export function metadataToJson(meta: SegmentMetadata): SegmentMetadataJson {
  return { ...meta, minKey: toHex(meta.minKey), maxKey: toHex(meta.maxKey) };
}

/** True when a segment's own metadata block agrees with the copy the manifest holds. */
export function metadataAgrees(stored: SegmentMetadata, listed: SegmentMetadata): boolean {
  return (
    stored.id === listed.id &&
    stored.itemCount === listed.itemCount &&
    stored.blockCount === listed.blockCount &&
    stored.maxSeqno === listed.maxSeqno &&
    stored.minSeqno === listed.minSeqno &&
    stored.fileSizeBytes === listed.fileSizeBytes &&
    stored.minKey.equals(listed.minKey) &&
    stored.maxKey.equals(listed.maxKey)
  );
}

/** Parses metadata JSON; `file` names the source for the CORRUPTION error. */
export function metadataFromJson(json: unknown, file: string): SegmentMetadata {
  const j = json as Partial<SegmentMetadataJson> | null;
  const numbers = [
    'id',
    'formatVersion',
    'itemCount',
    'tombstoneCount',
    'keyCount',
    'minSeqno',
    'maxSeqno',
    'fileSizeBytes',
    'blockCount',
    'uncompressedSizeBytes',
    'newestDataAtMs',
  ] as const;
  if (
    j === null ||
    typeof j !== 'object' ||
    typeof j.minKey !== 'string' ||
    typeof j.maxKey !== 'string' ||
    (j.compression !== 'none' && j.compression !== 'lz4') ||
    numbers.some((name) => typeof j[name] !== 'number' || !Number.isSafeInteger(j[name]))
  ) {
    throw corruptionError(file, 0, 'malformed segment metadata');
  }
  if (j.formatVersion !== SEGMENT_FORMAT_VERSION) {
    throw new StrataError(
      'UNSUPPORTED_FORMAT',
      `segment format version ${j.formatVersion} in ${file} is not supported (expected ${SEGMENT_FORMAT_VERSION})`,
      { details: { file } },
    );
  }
  return {
    ...(j as SegmentMetadataJson),
    minKey: fromHex(j.minKey),
    maxKey: fromHex(j.maxKey),
  };
}

/** Offsets of the trailing blocks, as recorded in the footer. */
export interface SegmentFooter {
  readonly indexOffset: number;
  readonly indexSizeBytes: number;
  readonly filterOffset: number;
  readonly filterSizeBytes: number;
  readonly metaOffset: number;
  readonly metaSizeBytes: number;
}

export function encodeFooter(footer: SegmentFooter): Buffer {
  const out = Buffer.alloc(FOOTER_BYTES);
  out.writeUInt32LE(SEGMENT_MAGIC, 0);
  out.writeUInt32LE(SEGMENT_FORMAT_VERSION, 4);
  writeU64(out, 8, footer.indexOffset);
  out.writeUInt32LE(footer.indexSizeBytes, 16);
  writeU64(out, 20, footer.filterOffset);
  out.writeUInt32LE(footer.filterSizeBytes, 28);
  writeU64(out, 32, footer.metaOffset);
  out.writeUInt32LE(footer.metaSizeBytes, 40);
  return out;
}

/** Checksums are set by the writer after encoding, so both halves live here. */
export function decodeFooter(
  bytes: Buffer,
  file: string,
  fileSizeBytes: number,
  crc: (b: Uint8Array) => number,
): SegmentFooter {
  const at = fileSizeBytes - FOOTER_BYTES;
  if (bytes.length !== FOOTER_BYTES) throw corruptionError(file, at, 'segment footer truncated');
  if (bytes.readUInt32LE(0) !== SEGMENT_MAGIC) throw corruptionError(file, at, 'bad segment magic');
  if (crc(bytes.subarray(0, 44)) !== bytes.readUInt32LE(44)) {
    throw corruptionError(file, at, 'segment footer checksum mismatch');
  }
  const version = bytes.readUInt32LE(4);
  if (version !== SEGMENT_FORMAT_VERSION) {
    throw new StrataError(
      'UNSUPPORTED_FORMAT',
      `segment format version ${version} in ${file} is not supported`,
      { details: { file } },
    );
  }
  const footer: SegmentFooter = {
    indexOffset: readU64(bytes, 8),
    indexSizeBytes: bytes.readUInt32LE(16),
    filterOffset: readU64(bytes, 20),
    filterSizeBytes: bytes.readUInt32LE(28),
    metaOffset: readU64(bytes, 32),
    metaSizeBytes: bytes.readUInt32LE(40),
  };
  const ordered =
    footer.indexOffset + footer.indexSizeBytes === footer.filterOffset &&
    footer.filterOffset + footer.filterSizeBytes === footer.metaOffset &&
    footer.metaOffset + footer.metaSizeBytes === at;
  if (!ordered) throw corruptionError(file, at, 'segment footer offsets are inconsistent');
  return footer;
}
