import { access } from 'node:fs/promises';
import { errnoOf } from '@strata/core';
import { inspectTree, treeFiles } from '@strata/engine';
import type { SegmentInspection } from '@strata/engine';

/**
 * The tree's levels as the node's tools show them, read with the engine's read-only
 * {@link inspectTree} (it never writes, so it is safe next to a running node). This module only
 * shapes the engine's answer for the CLI and the metrics (keys in hex).
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
}

/** The tree's manifest, as inspected. */
export interface TreeManifest {
  readonly path: string;
  readonly nextSegmentId: number;
  /** Highest seqno ever flushed to a segment (-1: none). */
  readonly flushedSeqno: number;
  readonly levels: readonly (readonly ManifestSegment[])[];
}

/**
 * Inspects the tree in `treeDirectory`; undefined when the tree was never created (no marker).
 * CORRUPTION / UNSUPPORTED_FORMAT as the engine reports them.
 */
export async function readTreeManifest(treeDirectory: string): Promise<TreeManifest | undefined> {
  try {
    // The marker is written last when a tree is created: without it there is no tree yet.
    await access(treeFiles(treeDirectory).marker);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined;
    throw error;
  }
  const info = await inspectTree(treeDirectory);
  return {
    path: treeFiles(treeDirectory).manifest,
    nextSegmentId: info.nextSegmentId,
    flushedSeqno: info.flushedSeqno,
    levels: info.levels.map((segments) => segments.map(toSegment)),
  };
}

function toSegment(segment: SegmentInspection): ManifestSegment {
  return {
    level: segment.level,
    id: segment.id,
    file: segment.file,
    itemCount: segment.itemCount,
    tombstoneCount: segment.tombstoneCount,
    keyCount: segment.keyCount,
    minKeyHex: segment.minKey.toString('hex'),
    maxKeyHex: segment.maxKey.toString('hex'),
    minSeqno: segment.minSeqno,
    maxSeqno: segment.maxSeqno,
    fileSizeBytes: segment.sizeBytes,
    blockCount: segment.blockCount,
    compression: segment.compression,
  };
}
