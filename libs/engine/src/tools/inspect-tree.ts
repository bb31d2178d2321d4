import type { FileSystem } from '@strata/core';
import { nodeFileSystem } from '@strata/core';
import type { PersistedTreeConfig } from '../config.js';
import { segmentPath } from '../file-names.js';
import { NO_FLUSHED_SEQNO } from '../levels/manifest.js';
import { readTreeState } from '../recovery.js';

/** One segment as {@link inspectTree} reports it (from the levels manifest). */
export interface SegmentInspection {
  readonly id: number;
  readonly level: number;
  /** Path of the segment file. */
  readonly file: string;
  /** Segment format version: 2 when the segment holds range tombstones, 1 otherwise. */
  readonly formatVersion: number;
  readonly sizeBytes: number;
  /** Entries stored, every version and tombstone included. */
  readonly itemCount: number;
  readonly tombstoneCount: number;
  /** Range tombstone pieces stored (0 for a segment of format version 1). */
  readonly rangeTombstoneCount: number;
  /** Expiring entries stored, listed by the segment's expiry block (0 below format version 3). */
  readonly expiringCount: number;
  /** Distinct keys. */
  readonly keyCount: number;
  readonly blockCount: number;
  readonly minKey: Buffer;
  readonly maxKey: Buffer;
  /** True when `maxKey` is the exclusive end of a range tombstone (the segment stops below it). */
  readonly maxKeyExclusive: boolean;
  readonly minSeqno: number;
  readonly maxSeqno: number;
  readonly compression: string;
}

/** What {@link inspectTree} found. */
export interface TreeInspection {
  readonly path: string;
  /** Format version from the tree's marker file. */
  readonly formatVersion: number;
  /** The persisted configuration. */
  readonly config: PersistedTreeConfig;
  /** Highest seqno ever flushed to a segment, as the manifest file writes it (-1: none). */
  readonly flushedSeqno: number;
  readonly nextSegmentId: number;
  /** Per level (index = level), its segments in manifest order. */
  readonly levels: readonly (readonly SegmentInspection[])[];
}

/** Options of the read-only tree tools. */
export interface ReadOnlyOptions {
  /** File system seam; defaults to the real one. */
  readonly fileSystem?: FileSystem;
}

/**
 * Describes the tree at `path` from its marker, config and levels manifest: format version,
 * persisted config, flushed seqno and each level's segments with their metadata. It reads those
 * three files and nothing else (no segment file is opened, nothing is written or deleted), so it
 * is safe next to a process that has the tree open: the manifest is replaced by rename, so the
 * read sees an old or a new one, whole. An offline tool for the CLI, not a method of the tree.
 *
 * @throws StrataError `CORRUPTION` naming the damaged file, `UNSUPPORTED_FORMAT`, `IO_ERROR`.
 *
 * @example
 * ```ts
 * const { flushedSeqno, levels } = await inspectTree('/data/tree');
 * ```
 */
export async function inspectTree(
  path: string,
  options: ReadOnlyOptions = {},
): Promise<TreeInspection> {
  const fs = options.fileSystem ?? nodeFileSystem;
  const { config, manifest, formatVersion } = await readTreeState(fs, path);
  return {
    path,
    formatVersion,
    config,
    flushedSeqno: manifest.flushedSeqno ?? NO_FLUSHED_SEQNO,
    nextSegmentId: manifest.nextSegmentId,
    levels: manifest.levels.map((segments, level) =>
      segments.map((meta) => ({
        id: meta.id,
        level,
        file: segmentPath(path, meta.id),
        formatVersion: meta.formatVersion,
        sizeBytes: meta.fileSizeBytes,
        itemCount: meta.itemCount,
        tombstoneCount: meta.tombstoneCount,
        rangeTombstoneCount: meta.rangeTombstoneCount ?? 0,
        expiringCount: meta.expiringCount ?? 0,
        keyCount: meta.keyCount,
        blockCount: meta.blockCount,
        minKey: meta.minKey,
        maxKey: meta.maxKey,
        maxKeyExclusive: meta.maxKeyExclusive === true,
        minSeqno: meta.minSeqno,
        maxSeqno: meta.maxSeqno,
        compression: meta.compression,
      })),
    ),
  };
}
