import type { FileSystem } from '@strata/core';
import { corruptionError, crc32c, errnoOf, ioError, nodeFileSystem } from '@strata/core';
import { EXPIRY_PREFIX_BYTES, ValueKind } from '../entry.js';
import type { ExpiringEntry } from '../expiring.js';
import { segmentPath } from '../file-names.js';
import { decodeRangeTombstoneBlock } from '../range-tombstones/block.js';
import { readTreeState } from '../recovery.js';
import { decodeBlock } from '../segment/block.js';
import { unframeBlock } from '../segment/block-codec.js';
import { BlockIndex } from '../segment/block-index.js';
import { BloomFilter } from '../segment/bloom-filter.js';
import { decodeExpiryBlock } from '../segment/expiry-block.js';
import type { SegmentMetadata } from '../segment/metadata.js';
import type { Segment } from '../segment/segment.js';
import {
  FOOTER_BYTES,
  checkFooterAgainstMetadata,
  decodeFooter,
  expiringCountOf,
  metadataAgrees,
  metadataFromJson,
  rangeTombstoneCountOf,
  rangeTombstoneOffsetOf,
} from '../segment/metadata.js';
import { compareKeys, readU64 } from '../util/bytes.js';
import type { ReadOnlyOptions } from './inspect-tree.js';

/** What verifying one segment covered, reported through {@link VerifyOptions.onSegment}. */
export interface SegmentVerification {
  readonly id: number;
  readonly level: number;
  readonly file: string;
  /**
   * Blocks checked: data blocks plus index, filter, range tombstones and expiry block (when
   * present), metadata.
   */
  readonly blocks: number;
  readonly bytes: number;
  readonly items: number;
}

/** Options of {@link verifyTree}. */
export interface VerifyOptions extends ReadOnlyOptions {
  /** Called after each segment passed its checks (progress for long verifications). */
  readonly onSegment?: (segment: SegmentVerification) => void;
  /** Verify only the segments with these ids (marker, config and manifest are always checked). */
  readonly segmentIds?: readonly number[];
}

/** Options of {@link verifySegment}. */
export interface VerifySegmentOptions {
  /** The file system holding the segment. Default: the real one. */
  readonly fileSystem?: FileSystem;
  /**
   * Called before each read of at most `readChunkBytes` and after each run of decoded blocks
   * (with 0 bytes); the verification waits for it. A scrub paces itself to a rate with it, and a
   * rejection stops the verification with that error.
   */
  readonly pace?: (bytes: number) => Promise<void>;
  /** Bytes per read when `pace` is given. Default 256 KiB. */
  readonly readChunkBytes?: number;
}

/**
 * Verifies one segment of an open tree the way {@link verifyTree} verifies each (held with
 * `Tree.holdSegment`, so compaction cannot delete it meanwhile): reads the whole file, then checks
 * footer, metadata (against the tree's), index, filter, range tombstones, expiry block and every
 * data block. With `pace` the file is read piece by piece and the decoding yields between runs of
 * blocks, so it can run beside a serving store.
 *
 * @returns what was checked.
 * @throws StrataError `CORRUPTION` naming the file and offset of the first problem, `IO_ERROR`.
 *
 * @example
 * ```ts
 * const held = tree.holdSegment(id);
 * try {
 *   if (held) await verifySegment(held.segment, { pace: (bytes) => limiter.take(bytes) });
 * } finally {
 *   held?.release();
 * }
 * ```
 */
export async function verifySegment(
  segment: Pick<Segment, 'path' | 'meta'>,
  options: VerifySegmentOptions = {},
): Promise<{ blocks: number; bytes: number; items: number }> {
  return checkSegment(options.fileSystem ?? nodeFileSystem, segment.path, segment.meta, options);
}

/** What {@link verifyTree} checked; it throws instead of reporting a problem. */
export interface VerifyReport {
  readonly segments: number;
  readonly blocks: number;
  /** Bytes of segment files read and checked. */
  readonly bytes: number;
  /** Entries decoded, every version and tombstone included. */
  readonly items: number;
}

/**
 * Checks a tree without writing: marker, config and manifest (checksummed), then each listed
 * segment whole: size, footer checksum and offsets, metadata block (and its agreement with the
 * manifest), block index, bloom filter, range tombstones (order, count against the metadata), the
 * expiry block (decoding, count against the metadata, and exactly the expiring entries of the
 * data blocks, deadlines included), and every data block (checksum, decompression, decoding, key
 * order, last key against the index, item and tombstone counts against the metadata). An
 * offline tool for the CLI, not a method of the tree.
 *
 * @returns how much was checked.
 * @throws StrataError `CORRUPTION` naming the file and offset of the first problem,
 * `UNSUPPORTED_FORMAT`, `IO_ERROR`.
 *
 * @example
 * ```ts
 * const report = await verifyTree('/data/tree', { onSegment: (s) => console.log(s.file) });
 * ```
 */
export async function verifyTree(path: string, options: VerifyOptions = {}): Promise<VerifyReport> {
  const fs = options.fileSystem ?? nodeFileSystem;
  const { manifest } = await readTreeState(fs, path);
  const only = options.segmentIds === undefined ? undefined : new Set(options.segmentIds);
  const report = { segments: 0, blocks: 0, bytes: 0, items: 0 };
  for (let level = 0; level < manifest.levels.length; level++) {
    for (const meta of manifest.levels[level]!) {
      if (only !== undefined && !only.has(meta.id)) continue;
      const file = segmentPath(path, meta.id);
      const checked = await checkSegment(fs, file, meta);
      report.segments++;
      report.blocks += checked.blocks;
      report.bytes += checked.bytes;
      report.items += checked.items;
      options.onSegment?.({ id: meta.id, level, file, ...checked });
    }
  }
  return report;
}

/** Blocks decoded between two calls of `pace` (a few hundred microseconds of work). */
const BLOCKS_PER_PACE = 32;

async function checkSegment(
  fs: FileSystem,
  file: string,
  meta: SegmentMetadata,
  options: VerifySegmentOptions = {},
): Promise<{ blocks: number; bytes: number; items: number }> {
  const pace = options.pace;
  let bytes: Buffer;
  try {
    bytes =
      pace === undefined
        ? await fs.readFile(file)
        : await readPaced(fs, file, pace, options.readChunkBytes ?? 256 * 1024);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') {
      throw corruptionError(file, 0, 'segment listed in the manifest is missing');
    }
    throw ioError('read', file, error);
  }
  const size = bytes.length;
  if (size !== meta.fileSizeBytes) {
    throw corruptionError(
      file,
      Math.min(size, meta.fileSizeBytes),
      `segment file is ${size} bytes, the manifest says ${meta.fileSizeBytes}`,
    );
  }
  if (size < FOOTER_BYTES) throw corruptionError(file, 0, 'segment file too small');
  const footer = decodeFooter(bytes.subarray(size - FOOTER_BYTES), file, size, crc32c);
  const block = (offset: number, length: number): Buffer =>
    unframeBlock(bytes.subarray(offset, offset + length), file, offset);

  const metaRaw = block(footer.metaOffset, footer.metaSizeBytes);
  let metaJson: unknown;
  try {
    metaJson = JSON.parse(metaRaw.toString('utf8'));
  } catch {
    throw corruptionError(file, footer.metaOffset, 'segment metadata is not JSON');
  }
  const stored = metadataFromJson(metaJson, file);
  checkFooterAgainstMetadata(footer, stored, file);
  if (!metadataAgrees(stored, meta)) {
    throw corruptionError(file, footer.metaOffset, 'segment metadata disagrees with the manifest');
  }
  const indexRaw = block(footer.indexOffset, footer.indexSizeBytes);
  const dataEnd = meta.expiryOffset ?? footer.indexOffset;
  const index = BlockIndex.decode(indexRaw, file, footer.indexOffset, dataEnd);
  if (index.count !== meta.blockCount) {
    throw corruptionError(file, footer.indexOffset, 'block count disagrees with metadata');
  }
  let blocks = 2;
  if (footer.filterSizeBytes > 0) {
    BloomFilter.decode(
      block(footer.filterOffset, footer.filterSizeBytes),
      file,
      footer.filterOffset,
    );
    blocks++;
  }
  let rangeTombstones = 0;
  if (footer.rangeTombstoneSizeBytes > 0) {
    const at = rangeTombstoneOffsetOf(footer);
    const raw = block(at, footer.rangeTombstoneSizeBytes);
    rangeTombstones = decodeRangeTombstoneBlock(raw, file, at).count;
    blocks++;
  }
  if (rangeTombstones !== rangeTombstoneCountOf(meta)) {
    throw corruptionError(
      file,
      rangeTombstoneOffsetOf(footer),
      'range tombstone count disagrees with the segment metadata',
    );
  }

  let expiring: ExpiringEntry[] = [];
  const expiryAt = meta.expiryOffset ?? footer.indexOffset;
  if (meta.expiryOffset !== undefined) {
    expiring = decodeExpiryBlock(block(expiryAt, meta.expirySizeBytes!), file, expiryAt);
    blocks++;
  }
  if (expiring.length !== expiringCountOf(meta)) {
    throw corruptionError(file, expiryAt, 'expiring entry count disagrees with the metadata');
  }
  // The expiring entries of the data blocks, in order, must be exactly the listed ones.
  let listed = 0;
  const unlisted = (at: number): never => {
    throw corruptionError(file, at, 'expiring entries disagree with the expiry block');
  };

  let items = 0;
  let tombstones = 0;
  let previousLast: Buffer | undefined;
  for (let blockNo = 0; blockNo < index.count; blockNo++) {
    if (pace !== undefined && blockNo % BLOCKS_PER_PACE === BLOCKS_PER_PACE - 1) await pace(0);
    const at = index.offsetOf(blockNo);
    const decoded = decodeBlock(block(at, index.sizeOf(blockNo)), file, at);
    // Order (key ascending, seqno descending) is what every search relies on: check it within
    // the block and across the boundary with the previous block.
    let previousSeqno = Infinity;
    for (let i = 0; i < decoded.count; i++) {
      const key = decoded.keyAt(i);
      const c = previousLast === undefined ? 1 : compareKeys(key, previousLast);
      const seqno = decoded.seqnos[i]!;
      if (c < 0 || (c === 0 && seqno >= previousSeqno)) {
        throw corruptionError(file, at, 'data block entries out of order');
      }
      previousLast = key;
      previousSeqno = seqno;
      if (decoded.kinds[i] === ValueKind.Tombstone) tombstones++;
      if (decoded.kinds[i] === ValueKind.Expiring) {
        const expected = expiring[listed++] ?? unlisted(at);
        const value = decoded.valueAt(i);
        if (
          value.length < EXPIRY_PREFIX_BYTES ||
          !expected.key.equals(key) ||
          expected.seqno !== seqno ||
          expected.expiresAtMs !== readU64(value, 0)
        ) {
          unlisted(at);
        }
      }
    }
    if (!previousLast!.equals(index.lastKey(blockNo))) {
      throw corruptionError(file, at, 'last key of the block disagrees with the index');
    }
    items += decoded.count;
  }
  blocks += index.count;
  if (listed !== expiring.length) unlisted(expiryAt);
  if (items !== meta.itemCount || tombstones !== meta.tombstoneCount) {
    throw corruptionError(file, 0, 'entry counts disagree with the segment metadata');
  }
  return { blocks, bytes: size, items };
}

/** The whole file, read in pieces of `chunkBytes`, each after `pace` let it. */
async function readPaced(
  fs: FileSystem,
  file: string,
  pace: (bytes: number) => Promise<void>,
  chunkBytes: number,
): Promise<Buffer> {
  const handle = await fs.open(file, 'read');
  try {
    const { sizeBytes } = await fs.stat(file);
    const bytes = Buffer.allocUnsafe(sizeBytes);
    let filled = 0;
    while (filled < sizeBytes) {
      const length = Math.min(chunkBytes, sizeBytes - filled);
      await pace(length);
      const read = await handle.read(bytes, filled, length, filled);
      if (read === 0) return bytes.subarray(0, filled);
      filled += read;
    }
    return bytes;
  } finally {
    await handle.close();
  }
}
