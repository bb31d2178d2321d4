import type { FileSystem } from '@strata/core';
import { BlockCache } from '../cache/block-cache.js';
import { DescriptorTable } from '../cache/descriptor-table.js';
import type { CompressionType, TreeConfig } from '../config.js';
import { compressionForLevel } from '../config.js';
import { ValueKind } from '../entry.js';
import type { Cursor } from '../iterators/cursor.js';
import { NEEDS_IO } from '../iterators/cursor.js';
import { MergeCursor } from '../iterators/merge-cursor.js';
import type { SharedMemtableState } from '../memtable/layout.js';
import { NIL } from '../memtable/layout.js';
import { Memtable } from '../memtable/memtable.js';
import { TombstoneCoverage } from '../range-tombstones/coverage.js';
import { NOT_COVERED, RangeTombstoneFragments } from '../range-tombstones/fragments.js';
import type { SegmentMetadata, SegmentMetadataJson } from '../segment/metadata.js';
import { metadataFromJson, metadataToJson } from '../segment/metadata.js';
import { Segment } from '../segment/segment.js';
import { SegmentCursor } from '../segment/segment-cursor.js';
import type { SegmentWriterOptions } from '../segment/writer.js';
import { SegmentWriter } from '../segment/writer.js';
import { compareKeys } from '../util/bytes.js';
import { throwIfCancelled } from './job-cancellation.js';
import type { OlderRange } from './tombstone-gc.js';
import { OutputTombstones, collectTombstoneGarbage, outsideAll } from './tombstone-gc.js';

/** Block-level settings of the segments a job writes. */
export interface WriterSettings {
  readonly blockSizeBytes: number;
  readonly restartInterval: number;
  readonly bloomBitsPerKey: number;
  readonly compression: CompressionType;
}

/** The writer settings of segments written into `level` of a tree with `config`. */
export function writerSettingsFor(config: TreeConfig, level: number): WriterSettings {
  return {
    blockSizeBytes: config.blockSizeBytes,
    restartInterval: config.restartInterval,
    bloomBitsPerKey: config.bloomBitsPerKey,
    compression: compressionForLevel(config, level),
  };
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
  /** The tree's cancellation flag (see job-cancellation.ts): checked at every write. */
  readonly cancel?: Int32Array;
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
   * Key ranges of segments outside the job that may hold older versions: a tombstone (or a range
   * tombstone) is dropped only for keys outside all of them.
   */
  readonly olderRanges: readonly OlderRange[];
  /** The tree's cancellation flag (see job-cancellation.ts): checked at every write. */
  readonly cancel?: Int32Array;
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
    const meta = await writeMemtable(
      Memtable.fromShared(job.memtable),
      {
        ...job.writer,
        fileSystem,
        folder: job.folder,
        id: job.segmentId,
        newestDataAtMs: job.nowMs,
      },
      job.gcWatermark,
      job.cancel,
    );
    return meta ? [metadataToJson(meta)] : [];
  }
  throwIfCancelled(job.cancel);
  const context = {
    blockCache: new BlockCache(0),
    descriptorTable: new DescriptorTable(fileSystem, 64),
  };
  const inputs = job.inputs.map(
    (input) => new Segment(metadataFromJson(input.meta, input.path), input.path, context),
  );
  try {
    const rangeTombstones = await inputTombstones(inputs);
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
      rangeTombstones,
      canDropRangeTombstone: (start, end) => outsideAll(start, end, ranges),
      cancel: job.cancel,
    });
    return metas.map(metadataToJson);
  } finally {
    context.descriptorTable.closeAll();
  }
}

/** The range tombstones of every input segment, fragmented together; `undefined` when none. */
async function inputTombstones(
  inputs: readonly Segment[],
): Promise<RangeTombstoneFragments | undefined> {
  const withTombstones = inputs.filter((s) => s.hasRangeTombstones);
  if (withTombstones.length === 0) return undefined;
  await Promise.all(withTombstones.map((s) => s.load()));
  return RangeTombstoneFragments.fromPieces(
    withTombstones.flatMap((s) => s.rangeTombstones!.pieces()),
  );
}

/**
 * Writes a sealed memtable to one segment, with the garbage collection of {@link writeMerged}
 * (flushes never drop tombstones, so the newest version of every key is kept, unless a range
 * tombstone of the memtable below the watermark hides it; range tombstones are all kept but for
 * the ones a newer one below the watermark shadows): this is that loop
 * specialised to a memtable, copying each entry from the memtable's slabs straight into the block
 * (a key view and a value view per entry were about a sixth of a flush). Returns `undefined`
 * (and writes no file) for an empty memtable.
 */
export async function writeMemtable(
  memtable: Memtable,
  options: SegmentWriterOptions,
  gcWatermark: number,
  cancel?: Int32Array,
): Promise<SegmentMetadata | undefined> {
  throwIfCancelled(cancel);
  const writer = await SegmentWriter.create(options);
  try {
    const tombstones = memtable.rangeTombstones();
    let coverage: TombstoneCoverage | undefined;
    if (tombstones !== undefined) {
      coverage = new TombstoneCoverage(tombstones, gcWatermark);
      writer.setRangeTombstones(collectTombstoneGarbage(tombstones, gcWatermark, () => false));
    }
    // Seqno of the newest range tombstone below the watermark covering the current key.
    let covering = NOT_COVERED;
    const batch = new Int32Array(BATCH_ENTRIES);
    let previous = NIL;
    // Seqno of the entry written last; since the first version of every key is written, it is a
    // version of the current key whenever the key did not change.
    let writtenSeqno = 0;
    let next = memtable.first();
    while (next !== NIL) {
      let count = 0;
      for (; count < BATCH_ENTRIES && next !== NIL; count++) {
        batch[count] = next;
        next = memtable.next(next);
      }
      touchSink.value += touchEntries(memtable, batch, count);
      for (let i = 0; i < count; i++) {
        const position = batch[i]!;
        const seqno = memtable.seqnoAt(position);
        if (coverage !== undefined) {
          if (previous === NIL || !memtable.sameKeyAt(position, previous)) {
            covering = coverage.seqnoAt(memtable.keyAt(position));
          }
          // Hidden from every reader by a range tombstone below the watermark (so are the older
          // versions that follow, which therefore never reach the checks below).
          if (seqno < covering) {
            previous = position;
            continue;
          }
        }
        // Versions of a key come newest first. A repeat of the version just written is shadowed
        // by it; after the newest version below the watermark no version can be read again.
        if (
          previous !== NIL &&
          memtable.sameKeyAt(position, previous) &&
          (seqno === writtenSeqno || writtenSeqno < gcWatermark)
        ) {
          previous = position;
          continue;
        }
        previous = position;
        writtenSeqno = seqno;
        const slab = memtable.slabAt(position);
        const keyOffset = memtable.keyOffsetAt(position);
        const keyLength = memtable.keyLengthAt(position);
        const drain = writer.addFrom(
          slab,
          keyOffset,
          keyLength,
          slab,
          keyOffset + keyLength,
          memtable.valueLengthAt(position),
          seqno,
          memtable.kindAt(position),
        );
        if (drain) {
          throwIfCancelled(cancel);
          await writer.drain();
        }
      }
    }
    throwIfCancelled(cancel);
    return await writer.finish();
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

/**
 * Entries a flush touches before writing them. A memtable keeps entries in its slabs in insertion
 * order, so a flush of randomly inserted keys misses the cache on nearly every entry's record,
 * seqno and bytes, and each miss stalls the loop in turn. Touching a batch first, in a tight loop
 * of loads independent of each other, lets the misses overlap; the batch is then written from the
 * cache (random 16-byte keys: about a fifth faster; keys inserted in order: about 5% slower).
 */
const BATCH_ENTRIES = 32;
/** Bytes of an entry touched ahead: a few cache lines; longer values stream well anyway. */
const TOUCH_BYTES = 256;

/** Where touched bytes go, so that the loads are not optimized away. */
const touchSink = { value: 0 };

function touchEntries(memtable: Memtable, batch: Int32Array, count: number): number {
  let sink = 0;
  for (let i = 0; i < count; i++) {
    const position = batch[i]!;
    const slab = memtable.slabAt(position);
    const start = memtable.keyOffsetAt(position);
    const length = memtable.keyLengthAt(position) + memtable.valueLengthAt(position);
    const end = start + (length < TOUCH_BYTES ? length : TOUCH_BYTES);
    sink += memtable.seqnoAt(position) + memtable.kindAt(position);
    for (let at = start; at < end; at += 64) sink += slab[at]!;
    if (end > start) sink += slab[end - 1]!;
  }
  return sink;
}

/** Where and how {@link writeMerged} writes its output segments. */
export interface MergeOutput {
  readonly fileSystem: FileSystem;
  readonly folder: string;
  readonly writer: WriterSettings;
  /** The next free segment id, or `undefined` when none is left (the last output grows). */
  readonly nextId: () => number | undefined;
  readonly targetSegmentSizeBytes: number;
  readonly gcWatermark: number;
  readonly canDropTombstone: (key: Uint8Array) => boolean;
  readonly newestDataAtMs: number;
  /** The range tombstones of the inputs, fragmented together (`undefined` when none). */
  readonly rangeTombstones?: RangeTombstoneFragments;
  /** True when no older version of a key in `[start, end)` can exist outside the job. */
  readonly canDropRangeTombstone?: (start: Buffer, end: Buffer) => boolean;
  /** Stops the merge (CLOSED, `details.cancelled`) once set: see job-cancellation.ts. */
  readonly cancel?: Int32Array;
}

/**
 * Streams a merged cursor into segments, applying garbage collection: of the versions of a key,
 * all at or above the watermark (the oldest open snapshot) are kept, plus the newest one below it;
 * older ones can never be read again. That newest-below version, if a tombstone, is dropped too
 * when no older version may exist outside the job. A version below the watermark older than a
 * range tombstone below it that covers its key is dropped as well. Range tombstones follow the
 * same rule (see {@link collectTombstoneGarbage}) and are handed out to the outputs by key (see
 * {@link OutputTombstones}). Outputs split only between keys, so a key's versions stay in one
 * segment.
 */
export async function writeMerged(cursor: Cursor, out: MergeOutput): Promise<SegmentMetadata[]> {
  const results: SegmentMetadata[] = [];
  let writer: SegmentWriter | undefined;
  const openWriter = async (id: number): Promise<SegmentWriter> =>
    SegmentWriter.create({
      ...out.writer,
      fileSystem: out.fileSystem,
      folder: out.folder,
      id,
      newestDataAtMs: out.newestDataAtMs,
    });
  const firstId = out.nextId();
  if (firstId === undefined) return results;
  const watermark = out.gcWatermark;
  const inputTombstones = out.rangeTombstones;
  let coverage: TombstoneCoverage | undefined;
  let outputTombstones: OutputTombstones | undefined;
  if (inputTombstones !== undefined && !inputTombstones.isEmpty()) {
    coverage = new TombstoneCoverage(inputTombstones, watermark);
    const canDrop = out.canDropRangeTombstone ?? (() => false);
    outputTombstones = new OutputTombstones(
      collectTombstoneGarbage(inputTombstones, watermark, canDrop),
    );
  }
  writer = await openWriter(firstId);
  try {
    if (cursor.start() === NEEDS_IO) await cursor.resume();
    let currentKey: Buffer | undefined;
    let doneWithKey = false;
    // Seqno of the newest range tombstone below the watermark covering the current key.
    let covering = NOT_COVERED;
    while (!cursor.done) {
      const key = cursor.key;
      if (currentKey === undefined || compareKeys(key, currentKey) !== 0) {
        currentKey = key;
        doneWithKey = false;
        if (coverage !== undefined) covering = coverage.seqnoAt(key);
        if (writer.count > 0 && writer.sizeBytes >= out.targetSegmentSizeBytes) {
          const id = out.nextId();
          if (id !== undefined) {
            if (outputTombstones) writer.setRangeTombstones(outputTombstones.forOutput(key));
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
          if (seqno < covering) keep = false;
          else if (cursor.kind === ValueKind.Tombstone && out.canDropTombstone(key)) keep = false;
        }
        if (keep && writer.isNewKeyOrOlder(key, seqno)) {
          if (writer.add(key, cursor.value(), seqno, cursor.kind)) {
            throwIfCancelled(out.cancel);
            await writer.drain();
          }
        }
      }
      if (cursor.advance() === NEEDS_IO) await cursor.resume();
    }
    if (outputTombstones) writer.setRangeTombstones(outputTombstones.forOutput(undefined));
    throwIfCancelled(out.cancel);
    const meta = await writer.finish();
    writer = undefined;
    if (meta) results.push(meta);
    return results;
  } catch (error) {
    await writer?.abort();
    throw error;
  }
}
