import { StrataError, corruptionError } from '@strata/core';
import { fromHex, readU64, toHex, writeU64 } from '../util/bytes.js';
import type { CompressionType } from '../config.js';

/**
 * Version of the segment file format of a segment without range tombstones. Such segments are
 * written exactly as before range tombstones existed, so older versions of Strata still read them.
 */
export const SEGMENT_FORMAT_VERSION = 1;
/**
 * Version of a segment that holds range tombstones: a range-tombstone block sits between the
 * filter and the metadata block. A reader that knows only version 1 refuses such a segment
 * (`UNSUPPORTED_FORMAT`) instead of reading it without its deletions.
 */
export const RANGE_TOMBSTONE_FORMAT_VERSION = 2;
/**
 * Version of a segment that holds expiring entries: an expiry block (see `expiry-block.ts`) sits
 * between the last data block and the block index. From this version on the metadata says which
 * optional blocks exist: the expiry block always (`expiringCount`, `expiryOffset`,
 * `expirySizeBytes`), the range-tombstone block when `rangeTombstoneCount` is present. Segments
 * without expiring entries are still written as version 1 or 2, so older versions of Strata read
 * them; they refuse a version 3 segment (`UNSUPPORTED_FORMAT`) instead of reading it without
 * its deadlines.
 */
export const EXPIRY_FORMAT_VERSION = 3;

function isKnownFormatVersion(version: unknown): boolean {
  return (
    version === SEGMENT_FORMAT_VERSION ||
    version === RANGE_TOMBSTONE_FORMAT_VERSION ||
    version === EXPIRY_FORMAT_VERSION
  );
}
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
  /** Smallest key of an entry or a range tombstone start. */
  readonly minKey: Buffer;
  /** Largest key of an entry, or the end of a range tombstone when that lies beyond. */
  readonly maxKey: Buffer;
  /**
   * True when {@link maxKey} is the (exclusive) end of a range tombstone: the segment then covers
   * keys below `maxKey` only. Reading it as inclusive over-approximates the segment's range,
   * which is always safe; only exact lookups (which segment of a level holds a key) need it.
   * Absent when false.
   */
  readonly maxKeyExclusive?: true;
  /** Seqno range of the entries and range tombstones. */
  readonly minSeqno: number;
  readonly maxSeqno: number;
  readonly fileSizeBytes: number;
  readonly blockCount: number;
  /** Sum of the uncompressed data block sizes. */
  readonly uncompressedSizeBytes: number;
  readonly compression: CompressionType;
  /** When the newest data in the segment was written (flush time; the newest input for a merge). */
  readonly newestDataAtMs: number;
  /**
   * Range tombstone pieces stored (a fragment deleted at two seqnos counts twice); absent when
   * none, which is every segment of format version 1.
   */
  readonly rangeTombstoneCount?: number;
  /**
   * Expiring entries stored (`ValueKind.Expiring`, every version included), all listed by the
   * expiry block; present exactly in format version 3 segments, and then at least 1.
   */
  readonly expiringCount?: number;
  /** Offset of the expiry block: the end of the data blocks (version 3 only). */
  readonly expiryOffset?: number;
  /** Framed size of the expiry block; it ends where the block index starts (version 3 only). */
  readonly expirySizeBytes?: number;
}

/** Expiring entries a segment stores (0 for most). */
export function expiringCountOf(meta: SegmentMetadata): number {
  return meta.expiringCount ?? 0;
}

/** Range tombstone pieces a segment stores (0 for most). */
export function rangeTombstoneCountOf(meta: SegmentMetadata): number {
  return meta.rangeTombstoneCount ?? 0;
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
    stored.formatVersion === listed.formatVersion &&
    stored.itemCount === listed.itemCount &&
    stored.blockCount === listed.blockCount &&
    stored.maxSeqno === listed.maxSeqno &&
    stored.minSeqno === listed.minSeqno &&
    stored.fileSizeBytes === listed.fileSizeBytes &&
    stored.minKey.equals(listed.minKey) &&
    stored.maxKey.equals(listed.maxKey) &&
    stored.maxKeyExclusive === listed.maxKeyExclusive &&
    rangeTombstoneCountOf(stored) === rangeTombstoneCountOf(listed) &&
    stored.expiringCount === listed.expiringCount &&
    stored.expiryOffset === listed.expiryOffset &&
    stored.expirySizeBytes === listed.expirySizeBytes
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
  if (!isKnownFormatVersion(j.formatVersion)) {
    throw new StrataError(
      'UNSUPPORTED_FORMAT',
      `segment format version ${j.formatVersion} in ${file} is not supported (expected ${SEGMENT_FORMAT_VERSION} to ${EXPIRY_FORMAT_VERSION})`,
      { details: { file } },
    );
  }
  // Range tombstones always in version 2 segments, never in version 1, as the metadata says in
  // version 3; an exclusive end only with them. The expiry block exactly in version 3.
  const withExpiry = j.formatVersion === EXPIRY_FORMAT_VERSION;
  const count = j.rangeTombstoneCount;
  const withTombstones =
    j.formatVersion === RANGE_TOMBSTONE_FORMAT_VERSION || (withExpiry && count !== undefined);
  if (
    (withTombstones ? !isCount(count, 1) : count !== undefined) ||
    (j.maxKeyExclusive !== undefined && (j.maxKeyExclusive !== true || !withTombstones)) ||
    (withExpiry
      ? !isCount(j.expiringCount, 1) ||
        !isCount(j.expiryOffset, 0) ||
        !isCount(j.expirySizeBytes, 1)
      : j.expiringCount !== undefined ||
        j.expiryOffset !== undefined ||
        j.expirySizeBytes !== undefined)
  ) {
    throw corruptionError(file, 0, 'malformed segment metadata');
  }
  return {
    ...(j as SegmentMetadataJson),
    minKey: fromHex(j.minKey),
    maxKey: fromHex(j.maxKey),
  };
}

function isCount(value: unknown, min: number): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= min;
}

/** Offsets of the trailing blocks, as recorded in the footer. */
export interface SegmentFooter {
  /** The format version (1, 2 or 3); the metadata block records the same. */
  readonly formatVersion: number;
  readonly indexOffset: number;
  readonly indexSizeBytes: number;
  readonly filterOffset: number;
  readonly filterSizeBytes: number;
  /**
   * The range-tombstone block lies between the filter and the metadata: it is not in the footer
   * (whose layout every version shares) but follows from the offsets around it. Size 0 in a
   * version 1 segment, above 0 in a version 2 one, either in a version 3 one (as its metadata
   * says). The expiry block of a version 3 segment is not in the footer either: the metadata
   * places it right before the index (see {@link checkFooterAgainstMetadata}).
   */
  readonly rangeTombstoneSizeBytes: number;
  readonly metaOffset: number;
  readonly metaSizeBytes: number;
}

/** Offset of the range-tombstone block of a segment with `footer`. */
export function rangeTombstoneOffsetOf(footer: SegmentFooter): number {
  return footer.filterOffset + footer.filterSizeBytes;
}

export function encodeFooter(footer: SegmentFooter): Buffer {
  const out = Buffer.alloc(FOOTER_BYTES);
  out.writeUInt32LE(SEGMENT_MAGIC, 0);
  out.writeUInt32LE(footer.formatVersion, 4);
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
  if (!isKnownFormatVersion(version)) {
    throw new StrataError(
      'UNSUPPORTED_FORMAT',
      `segment format version ${version} in ${file} is not supported`,
      { details: { file } },
    );
  }
  const filterOffset = readU64(bytes, 20);
  const filterSizeBytes = bytes.readUInt32LE(28);
  const metaOffset = readU64(bytes, 32);
  const footer: SegmentFooter = {
    formatVersion: version,
    indexOffset: readU64(bytes, 8),
    indexSizeBytes: bytes.readUInt32LE(16),
    filterOffset,
    filterSizeBytes,
    rangeTombstoneSizeBytes: metaOffset - (filterOffset + filterSizeBytes),
    metaOffset,
    metaSizeBytes: bytes.readUInt32LE(40),
  };
  const ordered =
    footer.indexOffset + footer.indexSizeBytes === footer.filterOffset &&
    (version === RANGE_TOMBSTONE_FORMAT_VERSION
      ? footer.rangeTombstoneSizeBytes > 0
      : version === SEGMENT_FORMAT_VERSION
        ? footer.rangeTombstoneSizeBytes === 0
        : footer.rangeTombstoneSizeBytes >= 0) &&
    footer.metaOffset + footer.metaSizeBytes === at;
  if (!ordered) throw corruptionError(file, at, 'segment footer offsets are inconsistent');
  return footer;
}

/**
 * Checks that a segment's footer and its own metadata block describe the same file: the same
 * format version, a range-tombstone block exactly when the metadata counts range tombstones, and
 * an expiry block (version 3) ending exactly where the block index starts, after at least one
 * data block.
 *
 * @throws StrataError `CORRUPTION` naming `file` and the metadata block's offset.
 */
export function checkFooterAgainstMetadata(
  footer: SegmentFooter,
  meta: SegmentMetadata,
  file: string,
): void {
  const expiryAt = meta.expiryOffset;
  const agrees =
    footer.formatVersion === meta.formatVersion &&
    footer.rangeTombstoneSizeBytes > 0 === rangeTombstoneCountOf(meta) > 0 &&
    (expiryAt === undefined ||
      (expiryAt > 0 && expiryAt + meta.expirySizeBytes! === footer.indexOffset));
  if (!agrees) {
    throw corruptionError(file, footer.metaOffset, 'segment footer disagrees with its metadata');
  }
}
