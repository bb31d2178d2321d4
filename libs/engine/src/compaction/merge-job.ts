import type { FileSystem } from '@strata/core';
import { BlockCache } from '../cache/block-cache.js';
import { DescriptorTable } from '../cache/descriptor-table.js';
import type { CompressionType } from '../config.js';
import { ValueKind } from '../entry.js';
import type { Cursor } from '../iterators/cursor.js';
import { NEEDS_IO } from '../iterators/cursor.js';
import { MergeCursor } from '../iterators/merge-cursor.js';
import type { SharedMemtableState } from '../memtable/memtable.js';
import { Memtable } from '../memtable/memtable.js';
import { MemtableCursor } from '../memtable/memtable-cursor.js';
import type { SegmentMetadata, SegmentMetadataJson } from '../segment/metadata.js';
import { metadataFromJson, metadataToJson } from '../segment/metadata.js';
import { Segment } from '../segment/segment.js';
import { SegmentCursor } from '../segment/segment-cursor.js';
import { SegmentWriter } from '../segment/writer.js';
import { compareKeys } from '../util/bytes.js';

/** Block-level settings of the segments a job writes. */
export interface WriterSettings {
  readonly blockSizeBytes: number;
  readonly restartInterval: number;
  readonly bloomBitsPerKey: number;
  readonly compression: CompressionType;
}

/** Writes a sealed memtable to one segment. */
export interface FlushJob {
  readonly kind: 'flush';
  readonly memtable: SharedMemtableState;
  readonly folder: string;
  readonly segmentId: number;
  readonly writer: WriterSettings;
  /** Oldest open snapshot seqno (Infinity if none): older versions below it are dropped. */
  readonly gcWatermark: number;
  readonly nowMs: number;
}

/** Merges segments into new ones. */
export interface CompactionJob {
  readonly kind: 'compact';
  readonly inputs: readonly { readonly path: string; readonly meta: SegmentMetadataJson }[];
  readonly folder: string;
  /** Ids `firstSegmentId .. firstSegmentId + segmentIdCount - 1` are reserved for the outputs. */
  readonly firstSegmentId: number;
  readonly segmentIdCount: number;
  readonly writer: WriterSettings;
  readonly targetSegmentSizeBytes: number;
  readonly gcWatermark: number;
  /**
   * Key ranges of segments outside the job that may hold older versions: a tombstone is dropped
   * only for keys outside all of them.
   */
  readonly olderRanges: readonly { readonly minKey: Uint8Array; readonly maxKey: Uint8Array }[];
}

/** A unit of background work. Plain data, so it crosses a worker boundary by structured clone. */
export type EngineJob = FlushJob | CompactionJob;

/**
 * Runs a job against a file system and returns the metadata of the segments written (JSON form, to
 * cross a thread boundary). The same code runs in a worker (real file system) and inline (tests
 * with a simulated file system).
 */
export async function runJob(
  job: EngineJob,
  fileSystem: FileSystem,
): Promise<SegmentMetadataJson[]> {
  if (job.kind === 'flush') {
    const memtable = Memtable.fromShared(job.memtable);
    const cursor = new MemtableCursor(memtable, 'forward', undefined);
    const metas = await writeMerged(cursor, {
      fileSystem,
      folder: job.folder,
      writer: job.writer,
      nextId: singleId(job.segmentId),
      targetSegmentSizeBytes: Number.POSITIVE_INFINITY,
      gcWatermark: job.gcWatermark,
      canDropTombstone: () => false,
      newestDataAtMs: job.nowMs,
    });
    return metas.map(metadataToJson);
  }
  const context = {
    blockCache: new BlockCache(0),
    descriptorTable: new DescriptorTable(fileSystem, 64),
  };
  const inputs = job.inputs.map(
    (input) => new Segment(metadataFromJson(input.meta, input.path), input.path, context),
  );
  try {
    const cursors = inputs.map(
      (segment) =>
        new SegmentCursor(segment, 'forward', undefined, {
          fillCache: false,
          maxReadAheadBytes: 1024 * 1024,
        }),
    );
    let idsLeft = job.segmentIdCount;
    let nextId = job.firstSegmentId;
    const ranges = job.olderRanges;
    const metas = await writeMerged(new MergeCursor(cursors, 'forward'), {
      fileSystem,
      folder: job.folder,
      writer: job.writer,
      nextId: () => (idsLeft-- > 0 ? nextId++ : undefined),
      targetSegmentSizeBytes: job.targetSegmentSizeBytes,
      gcWatermark: job.gcWatermark,
      canDropTombstone: (key) =>
        !ranges.some((r) => compareKeys(key, r.minKey) >= 0 && compareKeys(key, r.maxKey) <= 0),
      newestDataAtMs: Math.max(0, ...inputs.map((s) => s.meta.newestDataAtMs)),
    });
    return metas.map(metadataToJson);
  } finally {
    context.descriptorTable.closeAll();
  }
}

function singleId(id: number): () => number | undefined {
  let used = false;
  return () => {
    if (used) return undefined;
    used = true;
    return id;
  };
}

interface MergeOutput {
  readonly fileSystem: FileSystem;
  readonly folder: string;
  readonly writer: WriterSettings;
  /** The next free segment id, or `undefined` when none is left (the last output grows). */
  readonly nextId: () => number | undefined;
  readonly targetSegmentSizeBytes: number;
  readonly gcWatermark: number;
  readonly canDropTombstone: (key: Uint8Array) => boolean;
  readonly newestDataAtMs: number;
}

/**
 * Streams a merged cursor into segments, applying garbage collection: of the versions of a key,
 * all at or above the watermark (the oldest open snapshot) are kept, plus the newest one below it;
 * older ones can never be read again. That newest-below version, if a tombstone, is dropped too
 * when no older version may exist outside the job. Outputs split only between keys, so a key's
 * versions stay in one segment.
 */
async function writeMerged(cursor: Cursor, out: MergeOutput): Promise<SegmentMetadata[]> {
  const results: SegmentMetadata[] = [];
  let writer: SegmentWriter | undefined;
  const openWriter = async (id: number): Promise<SegmentWriter> =>
    SegmentWriter.create({
      fileSystem: out.fileSystem,
      folder: out.folder,
      id,
      blockSizeBytes: out.writer.blockSizeBytes,
      restartInterval: out.writer.restartInterval,
      bloomBitsPerKey: out.writer.bloomBitsPerKey,
      compression: out.writer.compression,
      newestDataAtMs: out.newestDataAtMs,
    });
  const firstId = out.nextId();
  if (firstId === undefined) return results;
  writer = await openWriter(firstId);
  try {
    if (cursor.start() === NEEDS_IO) await cursor.resume();
    let currentKey: Buffer | undefined;
    let doneWithKey = false;
    const watermark = out.gcWatermark;
    while (!cursor.done) {
      const key = cursor.key;
      if (currentKey === undefined || compareKeys(key, currentKey) !== 0) {
        currentKey = key;
        doneWithKey = false;
        if (writer.count > 0 && writer.sizeBytes >= out.targetSegmentSizeBytes) {
          const id = out.nextId();
          if (id !== undefined) {
            const meta = await writer.finish();
            if (meta) results.push(meta);
            writer = await openWriter(id);
          }
        }
      }
      if (!doneWithKey) {
        const seqno = cursor.seqno;
        let keep = true;
        if (seqno < watermark) {
          doneWithKey = true;
          if (cursor.kind === ValueKind.Tombstone && out.canDropTombstone(key)) keep = false;
        }
        if (keep && writer.isNewKeyOrOlder(key, seqno)) {
          if (writer.add(key, cursor.value(), seqno, cursor.kind)) await writer.drain();
        }
      }
      if (cursor.advance() === NEEDS_IO) await cursor.resume();
    }
    const meta = await writer.finish();
    writer = undefined;
    if (meta) results.push(meta);
    return results;
  } catch (error) {
    await writer?.abort();
    throw error;
  }
}
