import { posix } from 'node:path';
import { NodeFileSystem, StrataError, invariant, ioError, nodeFileSystem } from '@strata/core';
import { BlockCache } from './cache/block-cache.js';
import { DescriptorTable } from './cache/descriptor-table.js';
import type { TreeConfig, TreeOptions } from './config.js';
import { MAX_KEY_SIZE_BYTES, compressionForLevel, resolveConfig } from './config.js';
import type { InternalEntry, KeyValue } from './entry.js';
import { MAX_SEQNO, ValueKind } from './entry.js';
import { SEGMENTS_FOLDER, segmentPath } from './file-names.js';
import { Version } from './levels/version.js';
import { writeManifest } from './levels/manifest.js';
import { Memtable, NIL } from './memtable/memtable.js';
import { MemtableCursor } from './memtable/memtable-cursor.js';
import type { Cursor, Direction } from './iterators/cursor.js';
import { MergeCursor } from './iterators/merge-cursor.js';
import type { KeyRange, ResolvedRange } from './iterators/tree-iterator.js';
import { TreeIterator, resolveRange } from './iterators/tree-iterator.js';
import type { SegmentMetadata } from './segment/metadata.js';
import { metadataFromJson, metadataToJson } from './segment/metadata.js';
import { NOT_CACHED, Segment } from './segment/segment.js';
import type { SegmentContext } from './segment/segment.js';
import { SegmentCursor } from './segment/segment-cursor.js';
import { hashKey } from './segment/bloom-filter.js';
import type { CompactionStrategy, CompactionView } from './compaction/strategy.js';
import { LeveledStrategy } from './compaction/leveled.js';
import { MajorCompactionStrategy } from './compaction/major.js';
import type { JobRunner } from './compaction/job-runner.js';
import { InlineJobRunner, sharedWorkerPool } from './compaction/job-runner.js';
import type { WriterSettings } from './compaction/merge-job.js';
import { compareKeys, prefixSuccessor } from './util/bytes.js';
import { higherSeqno, isAtOrBelow } from './util/seqno.js';
import { createTreeFiles, recoverTreeFiles, treeExists, writeTreeFiles } from './recovery.js';
import { Snapshot } from './snapshot.js';

/** A sealed memtable as handed out by {@link Tree.rotateMemtable}. */
export interface SealedMemtable {
  /** Id of the sealed memtable; the segment flushed from it gets the same id. */
  readonly id: number;
  readonly memtable: Memtable;
}

const finalizer = new FinalizationRegistry<() => void>((release) => release());

/**
 * A log-structured merge tree: the storage engine of Strata, carried over from the Rust crate
 * lsm-tree's `Tree`. It knows nothing of the log; the store feeds it entries with seqnos.
 *
 * Writes go to the active memtable. {@link rotateMemtable} seals it (it stays readable);
 * {@link flushActiveMemtable} writes it to an immutable segment in level 0 and
 * {@link registerSegments} swaps the two atomically. {@link compact} reorganizes the levels. Every
 * read can be taken at a seqno and sees only entries below it.
 *
 * Seqno semantics follow the reference: a read "at" `s` sees entries whose seqno is `< s`.
 *
 * @example
 * ```ts
 * const tree = await Tree.open('/data/tree');
 * tree.insert(Buffer.from('a'), Buffer.from('1'), 0);
 * await tree.get(Buffer.from('a')); // <Buffer 31>
 * await tree.flushActiveMemtable();
 * await tree.compact(new LeveledStrategy());
 * await tree.close();
 * ```
 */
export class Tree {
  private active = new Memtable();
  private readonly sealed = new Map<number, Memtable>();
  private version: Version;
  private nextSegmentId: number;
  private readonly snapshots = new Map<number, number>();
  /**
   * One above the highest seqno written or recovered: a read without a seqno is taken here, so an
   * iterator never sees an entry inserted after it was created.
   */
  private readSeqno = 0;
  private flushedSeqno: number | undefined;
  private compactions = 0;
  private compactionChain: Promise<void> = Promise.resolve();
  private flushChain: Promise<unknown> = Promise.resolve();
  private manifestChain: Promise<void> = Promise.resolve();
  private readonly deletions = new Set<Promise<void>>();
  private readonly context: SegmentContext;
  private readonly jobs: JobRunner;
  private closed = false;

  private constructor(
    /** The resolved configuration (persisted parts as recovered). */
    readonly config: TreeConfig,
    levels: readonly (readonly SegmentMetadata[])[],
    nextSegmentId: number,
    flushedSeqno: number | undefined,
  ) {
    this.flushedSeqno = flushedSeqno;
    this.context = {
      blockCache: new BlockCache(config.blockCacheSizeBytes),
      descriptorTable: new DescriptorTable(config.fileSystem, config.maxOpenFiles),
    };
    const useWorker =
      config.jobExecution === 'worker' ||
      (config.jobExecution === 'auto' &&
        (config.fileSystem === nodeFileSystem || config.fileSystem instanceof NodeFileSystem));
    this.jobs = useWorker ? sharedWorkerPool() : new InlineJobRunner(config.fileSystem);
    this.nextSegmentId = nextSegmentId;
    this.version = Version.arrange(
      levels.map((level) => level.map((meta) => this.openSegment(meta))),
      (segment) => this.onSegmentUnused(segment),
    );
    this.version.acquire();
    const persisted = this.getHighestPersistedSeqno();
    if (persisted !== undefined) this.readSeqno = persisted + 1;
  }

  /**
   * Opens the tree at `path`: recovers it if it exists (persisted configuration, levels manifest;
   * orphaned segment files removed), otherwise creates it. Recovery reads no segment data, so it
   * is fast; after it, replay the log into a memtable and call {@link setActiveMemtable}.
   *
   * @throws StrataError `CORRUPTION` naming the damaged file, `UNSUPPORTED_FORMAT` for an unknown
   * format version, `IO_ERROR`, `INVALID_ARGUMENT` for bad options.
   */
  static async open(path: string, options: TreeOptions = {}): Promise<Tree> {
    let config = resolveConfig(path, options);
    const fs = config.fileSystem;
    if (await treeExists(fs, path)) {
      const recovered = await recoverTreeFiles(fs, path);
      config = { ...config, ...recovered.config };
      const { manifest } = recovered;
      return new Tree(config, manifest.levels, manifest.nextSegmentId, manifest.flushedSeqno);
    }
    await createTreeFiles(fs, path, config);
    return new Tree(
      config,
      Array.from({ length: config.levelCount }, () => []),
      1,
      undefined,
    );
  }

  // ---------------------------------------------------------------- writes

  /**
   * Inserts a version of `key`. Returns `[itemSizeBytes, memtableSizeBytes]`.
   *
   * @throws StrataError `KEY_TOO_LARGE`, `VALUE_TOO_LARGE`, `INVALID_ARGUMENT`, `CLOSED`
   */
  insert(key: Uint8Array, value: Uint8Array, seqno: number): [number, number] {
    this.checkWrite(key, seqno);
    if (!(value instanceof Uint8Array)) {
      throw new StrataError('INVALID_ARGUMENT', 'value must be a Uint8Array');
    }
    this.checkValueLength(value.length);
    if (seqno >= this.readSeqno) this.readSeqno = seqno + 1;
    return this.active.insert(key, value, seqno, ValueKind.Value);
  }

  /**
   * Inserts a value whose key and value are byte ranges of `source` (a log record being replayed,
   * say), with the checks of {@link insert} but without a view or a result array per entry.
   * Returns the active memtable's size in bytes.
   *
   * @example
   * ```ts
   * tree.insertFrom(record, keyStart, keyLength, valueStart, valueLength, seqno);
   * ```
   */
  insertFrom(
    source: Uint8Array,
    keyStart: number,
    keyLength: number,
    valueStart: number,
    valueLength: number,
    seqno: number,
  ): number {
    this.checkWriteRange(keyLength, seqno);
    this.checkValueLength(valueLength);
    if (seqno >= this.readSeqno) this.readSeqno = seqno + 1;
    return this.active.insertFrom(
      source,
      keyStart,
      keyLength,
      valueStart,
      valueLength,
      seqno,
      ValueKind.Value,
    );
  }

  /** Like {@link remove}, with the key a byte range of `source`. Returns the memtable's size. */
  removeFrom(source: Uint8Array, keyStart: number, keyLength: number, seqno: number): number {
    this.checkWriteRange(keyLength, seqno);
    if (seqno >= this.readSeqno) this.readSeqno = seqno + 1;
    return this.active.insertFrom(source, keyStart, keyLength, 0, 0, seqno, ValueKind.Tombstone);
  }

  /** Writes a tombstone for `key`. Returns `[itemSizeBytes, memtableSizeBytes]`. */
  remove(key: Uint8Array, seqno: number): [number, number] {
    this.checkWrite(key, seqno);
    if (seqno >= this.readSeqno) this.readSeqno = seqno + 1;
    return this.active.insert(key, EMPTY, seqno, ValueKind.Tombstone);
  }

  // ---------------------------------------------------------------- point reads

  /**
   * The newest version of `key` below `seqno` (default: all), as stored: tombstones are returned
   * unless `evictTombstone`.
   */
  async getInternalEntry(
    key: Uint8Array,
    evictTombstone = true,
    seqno: number = MAX_SEQNO,
  ): Promise<InternalEntry | undefined> {
    this.checkKey(key);
    this.checkOpen();
    const fromMemory = this.getFromMemtables(key, seqno);
    if (fromMemory !== undefined) return evict(fromMemory, evictTombstone);
    const version = this.version;
    if (version.segmentCount === 0) return undefined;
    version.acquire();
    try {
      const entry = await getFromVersion(version, key, seqno);
      return entry === undefined ? undefined : evict(entry, evictTombstone);
    } finally {
      version.release();
    }
  }

  /** The value of `key` visible below `seqno` (default: latest), or `undefined`. */
  get(key: Uint8Array, seqno: number = MAX_SEQNO): Promise<Buffer | undefined> {
    try {
      this.checkKey(key);
      this.checkOpen();
      const entry = this.getFromMemory(key, seqno);
      if (entry !== NOT_CACHED) {
        return Promise.resolve(
          entry === undefined || entry.kind === ValueKind.Tombstone ? undefined : entry.value,
        );
      }
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return this.getInternalEntry(key, true, seqno).then((entry) => entry?.value);
  }

  /** True when `key` has a visible value below `seqno`. */
  async containsKey(key: Uint8Array, seqno: number = MAX_SEQNO): Promise<boolean> {
    return (await this.get(key, seqno)) !== undefined;
  }

  // ---------------------------------------------------------------- iteration

  /** Iterates over every visible pair (both directions: `next` / `nextBack`). */
  iter(seqno?: number): TreeIterator {
    return this.createIterator(resolveRange({}), seqno);
  }

  /** Iterates over the pairs within `range`. */
  range(range: KeyRange, seqno?: number): TreeIterator {
    return this.createIterator(resolveRange(range), seqno);
  }

  /** Iterates over the pairs whose key starts with `prefix`. */
  prefix(prefix: Uint8Array, seqno?: number): TreeIterator {
    const end = prefixSuccessor(prefix);
    return this.createIterator(
      resolveRange(end === undefined ? { gte: prefix } : { gte: prefix, lt: end }),
      seqno,
    );
  }

  /** The pair with the smallest key, or `undefined`. */
  async firstKeyValue(seqno?: number): Promise<KeyValue | undefined> {
    const iterator = this.iter(seqno);
    try {
      return await iterator.next();
    } finally {
      iterator.close();
    }
  }

  /** The pair with the largest key, or `undefined`. */
  async lastKeyValue(seqno?: number): Promise<KeyValue | undefined> {
    const iterator = this.iter(seqno);
    try {
      return await iterator.nextBack();
    } finally {
      iterator.close();
    }
  }

  /** Counts visible pairs by scanning the whole tree: O(n). Use {@link isEmpty} to test emptiness. */
  async len(seqno?: number): Promise<number> {
    const iterator = this.iter(seqno);
    let count = 0;
    for (;;) {
      const chunk = await iterator.nextChunk(4096);
      count += chunk.length;
      if (chunk.length < 4096) return count;
    }
  }

  /** True when no pair is visible. */
  async isEmpty(seqno?: number): Promise<boolean> {
    return (await this.firstKeyValue(seqno)) === undefined;
  }

  /**
   * A point-in-time view: reads see entries below `seqno`, whatever writes, flushes and compactions
   * happen meanwhile. Compaction keeps every version an open snapshot can see. Close it when done.
   */
  snapshot(seqno: number): Snapshot {
    this.checkOpen();
    if (!Number.isSafeInteger(seqno) || seqno < 0) {
      throw new StrataError('INVALID_ARGUMENT', `snapshot seqno must be a safe integer >= 0`);
    }
    this.snapshots.set(seqno, (this.snapshots.get(seqno) ?? 0) + 1);
    let open = true;
    return new Snapshot(this, seqno, () => {
      if (!open) return;
      open = false;
      const n = (this.snapshots.get(seqno) ?? 1) - 1;
      if (n === 0) this.snapshots.delete(seqno);
      else this.snapshots.set(seqno, n);
    });
  }

  // ---------------------------------------------------------------- memtables

  /**
   * The active memtable, for exclusive use by the caller until it next awaits (the equivalent of
   * the reference's write lock: JavaScript runs one task at a time).
   */
  lockActiveMemtable(): Memtable {
    return this.active;
  }

  /** Approximate size of the active memtable in bytes; flush when it grows too large. */
  activeMemtableSize(): number {
    return this.active.approximateSizeBytes();
  }

  /**
   * Seals the active memtable and starts a new one. The sealed memtable stays readable until a
   * segment with its id is registered. Returns `undefined` when the active memtable is empty.
   */
  rotateMemtable(): SealedMemtable | undefined {
    this.checkOpen();
    if (this.active.isEmpty()) return undefined;
    const memtable = this.active;
    const id = this.nextSegmentId++;
    this.sealed.set(id, memtable);
    // Sized like the one just sealed: under a steady workload the next memtable then never grows
    // (growing copies its arrays on the main thread and leaves the old copies as garbage).
    this.active = new Memtable(Math.min(memtable.length, MAX_PRESIZED_ENTRIES));
    return { id, memtable };
  }

  /** Replaces the active memtable (recovery: fill one from the log, then install it). */
  setActiveMemtable(memtable: Memtable): void {
    this.checkOpen();
    this.active = memtable;
    this.readAbove(memtable.getHighestSeqno());
  }

  /** Adds a sealed memtable under `id` (recovery from journals). */
  addSealedMemtable(id: number, memtable: Memtable): void {
    this.checkOpen();
    invariant(!this.sealed.has(id), 'sealed memtable id already in use');
    this.sealed.set(id, memtable);
    if (id >= this.nextSegmentId) this.nextSegmentId = id + 1;
    this.readAbove(memtable.getHighestSeqno());
  }

  /**
   * Drops the active memtable's entries above `seqno`, by copying the others into a fresh active
   * memtable; returns how many were dropped. For a store that inserts a batch while its log write
   * is in flight: if the log then refuses the write (ENOSPC) and will reuse its seqnos, the early
   * entries must go. Sealed memtables and segments must hold nothing above `seqno`. Readers of the
   * old memtable keep it (it no longer changes).
   *
   * @example
   * ```ts
   * tree.discardActiveAbove(lastAcknowledgedSeqno);
   * ```
   */
  discardActiveAbove(seqno: number): number {
    this.checkOpen();
    for (const memtable of this.sealed.values()) {
      invariant(
        isAtOrBelow(memtable.getHighestSeqno(), seqno),
        'a sealed memtable holds entries to discard',
      );
    }
    invariant(
      isAtOrBelow(this.getHighestPersistedSeqno(), seqno),
      'a segment holds entries to discard',
    );
    const old = this.active;
    if (isAtOrBelow(old.getHighestSeqno(), seqno)) return 0;
    const kept = new Memtable(Math.min(old.length, MAX_PRESIZED_ENTRIES));
    // Backwards: an insert places an entry before an equal (key, seqno), so copying from the last
    // entry keeps repeated writes of one key at one seqno in their order (the last one wins).
    for (let at = old.last(); at !== NIL; at = old.previous(at)) {
      if (old.seqnoAt(at) > seqno) continue;
      const keyOffset = old.keyOffsetAt(at);
      const keyLength = old.keyLengthAt(at);
      kept.insertFrom(
        old.slabAt(at),
        keyOffset,
        keyLength,
        keyOffset + keyLength,
        old.valueLengthAt(at),
        old.seqnoAt(at),
        old.kindAt(at),
      );
    }
    this.active = kept;
    this.readSeqno = Math.min(this.readSeqno, seqno + 1);
    return old.length - kept.length;
  }

  /** Drops a sealed memtable. */
  freeSealedMemtable(id: number): void {
    this.sealed.delete(id);
  }

  // ---------------------------------------------------------------- flush

  /**
   * Writes a sealed memtable to a level-0 segment file (in a worker with the real file system) and
   * returns the segment, not yet registered.
   */
  async flushMemtable(id: number, memtable: Memtable): Promise<Segment> {
    this.checkOpen();
    const [json] = await this.jobs.run({
      kind: 'flush',
      memtable: memtable.toShared(),
      folder: posix.join(this.config.path, SEGMENTS_FOLDER),
      segmentId: id,
      writer: this.writerSettings(0),
      gcWatermark: this.gcWatermark(),
      nowMs: Date.now(),
    });
    invariant(json !== undefined, 'flush of a non-empty memtable wrote no segment');
    return this.openSegment(metadataFromJson(json, segmentPath(this.config.path, id)));
  }

  /**
   * Adds flushed segments to level 0 and drops their sealed memtables in one step (readers never
   * see both or neither), then persists the manifest.
   */
  async registerSegments(segments: readonly Segment[]): Promise<void> {
    this.checkOpen();
    this.install(this.version.derive({ add: segments.map((segment) => ({ level: 0, segment })) }));
    for (const segment of segments) {
      this.flushedSeqno = higherSeqno(this.flushedSeqno, segment.meta.maxSeqno);
    }
    for (const segment of segments) this.sealed.delete(segment.id);
    await this.persistManifest();
  }

  /**
   * Seals the active memtable, writes it to a segment and registers it. Returns the segment's path,
   * or `undefined` when there was nothing to flush. Flushes run one at a time, in order.
   */
  async flushActiveMemtable(): Promise<string | undefined> {
    const run = async (): Promise<string | undefined> => {
      const sealed = this.rotateMemtable();
      if (!sealed) return undefined;
      const segment = await this.flushMemtable(sealed.id, sealed.memtable);
      await this.registerSegments([segment]);
      return segment.path;
    };
    const result = this.flushChain.then(run, run);
    this.flushChain = result.catch(() => undefined);
    return result;
  }

  // ---------------------------------------------------------------- compaction

  /** Runs one compaction step chosen by `strategy`; compactions run one at a time. */
  async compact(strategy: CompactionStrategy = new LeveledStrategy()): Promise<void> {
    this.checkOpen();
    // Counted from the call on, so isCompacting() is true as soon as a compaction is requested.
    this.compactions++;
    const run = (): Promise<void> => this.runCompaction(strategy);
    const result = this.compactionChain.then(run, run).finally(() => {
      this.compactions--;
    });
    this.compactionChain = result.catch(() => undefined);
    return result;
  }

  /** Merges every segment into the last level, dropping all garbage no snapshot needs. */
  async majorCompact(targetSegmentSizeBytes?: number): Promise<void> {
    return this.compact(new MajorCompactionStrategy(targetSegmentSizeBytes));
  }

  /** True while a compaction runs. */
  isCompacting(): boolean {
    return this.compactions > 0;
  }

  // ---------------------------------------------------------------- checkpoint

  /**
   * Writes a consistent copy of the tree's current segments to `targetPath` (a new or empty
   * folder on the same file system), openable with {@link Tree.open}: hard links of the current version's segment files
   * (no data is copied; the files are immutable), the persisted config, and a manifest listing
   * exactly those segments, all written durably (config, manifest and marker by
   * temp + fsync + rename, then the new folders fsynced). The version is pinned while linking, so a
   * concurrent compaction cannot delete a file before it is linked.
   *
   * Active and sealed memtables are NOT included: the copy holds what was flushed. The caller (the
   * store) adds the newer entries, e.g. by copying its log from just above the returned seqno.
   *
   * Returns the copy's flushed seqno (its {@link getHighestPersistedSeqno}), or `undefined` when
   * it is empty.
   *
   * @throws StrataError `INVALID_ARGUMENT` when `targetPath` already holds a tree, `IO_ERROR`,
   * `CLOSED`.
   */
  async checkpoint(targetPath: string): Promise<number | undefined> {
    this.checkOpen();
    const fs = this.config.fileSystem;
    // Taken together, synchronously: the version, its flushed seqno and the id counter agree.
    const version = this.version;
    const flushedSeqno = this.flushedSeqno;
    const nextSegmentId = this.nextSegmentId;
    version.acquire();
    try {
      if (await treeExists(fs, targetPath)) {
        throw new StrataError('INVALID_ARGUMENT', `${targetPath} already holds a tree`, {
          details: { path: targetPath },
        });
      }
      const folder = posix.join(targetPath, SEGMENTS_FOLDER);
      try {
        await fs.mkdir(folder);
      } catch (error) {
        throw ioError('mkdir', folder, error);
      }
      for (const segment of version.allSegments()) {
        const target = segmentPath(targetPath, segment.id);
        try {
          await fs.link(segment.path, target);
        } catch (error) {
          throw ioError('link', target, error);
        }
      }
      // writeTreeFiles fsyncs the segments folder (making the links durable) before it writes the
      // marker, and the marker last: a crash before it leaves no openable (half) copy.
      await writeTreeFiles(fs, targetPath, this.config, {
        nextSegmentId,
        flushedSeqno,
        levels: version.levels.map((level) => level.map((s) => s.meta)),
      });
      return highestPersistedSeqno(version, flushedSeqno);
    } finally {
      version.release();
    }
  }

  // ---------------------------------------------------------------- statistics

  /** Segments in level 0. */
  firstLevelSegmentCount(): number {
    return this.version.levels[0]!.length;
  }

  /** Segments in the tree. */
  segmentCount(): number {
    return this.version.segmentCount;
  }

  /** Segment ids per level (for tools and tests). */
  levelSegmentIds(): number[][] {
    return this.version.levels.map((level) => level.map((s) => s.id));
  }

  /** Entries in memtables and segments, versions and tombstones included: an upper bound. */
  approximateLen(): number {
    let n = this.active.length;
    for (const memtable of this.sealed.values()) n += memtable.length;
    for (const segment of this.version.allSegments()) n += segment.meta.itemCount;
    return n;
  }

  /** Bytes taken by segment files. */
  diskSpace(): number {
    let n = 0;
    for (const segment of this.version.allSegments()) n += segment.meta.fileSizeBytes;
    return n;
  }

  /**
   * Highest seqno in the tree (memtables and segments), or `undefined` when empty. The reference's
   * `get_lsn`, named `get_highest_seqno` in current lsm-tree.
   */
  getHighestSeqno(): number | undefined {
    let highest = this.getHighestPersistedSeqno();
    highest = higherSeqno(highest, this.active.getHighestSeqno());
    for (const memtable of this.sealed.values()) {
      highest = higherSeqno(highest, memtable.getHighestSeqno());
    }
    return highest;
  }

  /**
   * Highest seqno flushed to segments, or `undefined`. The reference's `get_segment_lsn`, named
   * `get_highest_persisted_seqno` in current lsm-tree. It never goes down, even when compaction
   * drops the newest entry (a tombstone): the store replays its log from above it.
   */
  getHighestPersistedSeqno(): number | undefined {
    return highestPersistedSeqno(this.version, this.flushedSeqno);
  }

  /**
   * Highest seqno of the active memtable, or `undefined`. The reference's `get_memtable_lsn`,
   * named `get_highest_memtable_seqno` in current lsm-tree.
   */
  getHighestMemtableSeqno(): number | undefined {
    return this.active.getHighestSeqno();
  }

  /** Block cache statistics. */
  cacheStats(): ReturnType<BlockCache['stats']> {
    return this.context.blockCache.stats();
  }

  /**
   * Waits for running flushes and compactions, closes files. Unflushed memtable contents are
   * dropped (the log has them).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flushChain.catch(() => undefined);
    await this.compactionChain.catch(() => undefined);
    await this.manifestChain.catch(() => undefined);
    this.closed = true;
    await Promise.all([...this.deletions]);
    this.context.descriptorTable.closeAll();
  }

  // ---------------------------------------------------------------- internals

  /** @internal Creates an iterator pinned to the current state. */
  createIterator(range: ResolvedRange, seqno: number | undefined): TreeIterator {
    this.checkOpen();
    const readSeqno = seqno ?? this.readSeqno;
    const memtables = [this.active, ...this.sealed.values()];
    const version = this.version;
    version.acquire();
    const segments = version.allSegments().filter((s) => overlapsRange(s, range));
    const makeCursor = (direction: Direction): Cursor => {
      const start = direction === 'forward' ? range.lower : range.upper;
      const children: Cursor[] = memtables.map((m) => new MemtableCursor(m, direction, start));
      for (const segment of segments) children.push(new SegmentCursor(segment, direction, start));
      return new MergeCursor(children, direction);
    };
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      finalizer.unregister(token);
      version.release();
    };
    const token = {};
    const iterator = new TreeIterator(makeCursor, range, readSeqno, release);
    finalizer.register(
      iterator,
      () => {
        if (!released) {
          released = true;
          version.release();
        }
      },
      token,
    );
    return iterator;
  }

  /**
   * A point lookup that succeeds only if everything it needs is in memory (memtables, loaded
   * indexes, cached blocks): the hot path of `get`, with no promise per level or segment. It runs
   * without yielding, so it needs no version pin.
   */
  private getFromMemory(
    key: Uint8Array,
    seqno: number,
  ): InternalEntry | undefined | typeof NOT_CACHED {
    const fromMemory = this.getFromMemtables(key, seqno);
    if (fromMemory !== undefined) return fromMemory;
    const version = this.version;
    const levels = version.levels;
    if (version.segmentCount === 0) return undefined;
    // Hashed once for the bloom filters of every segment consulted (level 0 has several).
    const keyHash = hashKey(key);
    for (let level = 0; level < levels.length; level++) {
      const segments = levels[level]!;
      if (segments.length === 0) continue;
      if (version.disjoint[level]) {
        const segment = version.segmentFor(level, key);
        if (segment === undefined) continue;
        const entry = segment.getCached(key, seqno, keyHash);
        if (entry !== undefined) return entry;
        continue;
      }
      let best: InternalEntry | undefined;
      for (const segment of segments) {
        const entry = segment.getCached(key, seqno, keyHash);
        if (entry === NOT_CACHED) return NOT_CACHED;
        if (entry !== undefined && (best === undefined || entry.seqno > best.seqno)) best = entry;
      }
      if (best !== undefined) return best;
    }
    return undefined;
  }

  /** Moves the default read seqno above `seqno` (a memtable installed whole). */
  private readAbove(seqno: number | undefined): void {
    if (seqno !== undefined && seqno >= this.readSeqno) this.readSeqno = seqno + 1;
  }

  private getFromMemtables(key: Uint8Array, seqno: number): InternalEntry | undefined {
    const fromActive = this.active.get(key, seqno);
    if (fromActive !== undefined) return fromActive;
    if (this.sealed.size === 0) return undefined;
    const sealed = [...this.sealed.values()];
    for (let i = sealed.length - 1; i >= 0; i--) {
      const entry = sealed[i]!.get(key, seqno);
      if (entry !== undefined) return entry;
    }
    return undefined;
  }

  private async runCompaction(strategy: CompactionStrategy): Promise<void> {
    this.checkOpen();
    const view = this.compactionView();
    const choice = strategy.choose(view);
    const current = this.version;
    if (choice.kind === 'none') return;
    if (choice.kind === 'drop') {
      const ids = new Set(choice.ids);
      const dropped = current.allSegments().filter((s) => ids.has(s.id));
      this.install(current.derive({ remove: ids }));
      await this.persistManifest();
      for (const segment of dropped) this.markObsolete(segment);
      return;
    }
    if (choice.kind === 'move') {
      const ids = new Set(choice.ids);
      const moved = current.allSegments().filter((s) => ids.has(s.id));
      this.install(
        current.derive({
          remove: ids,
          add: moved.map((segment) => ({ level: choice.destLevel, segment })),
        }),
      );
      await this.persistManifest();
      return;
    }
    const ids = new Set(choice.inputIds);
    const inputs = current.allSegments().filter((s) => ids.has(s.id));
    invariant(inputs.length === ids.size, 'compaction input is not in the current version');
    invariant(
      choice.destLevel >= 0 && choice.destLevel < this.config.levelCount,
      'compaction destination level out of range',
    );
    const minInputLevel = Math.min(...inputs.map((s) => current.levelOf(s.id)));
    const olderRanges = current.levels
      .flatMap((level, n) => (n >= Math.max(1, minInputLevel) ? level : []))
      .filter((s) => !ids.has(s.id))
      .map((s) => ({ minKey: s.meta.minKey, maxKey: s.meta.maxKey }));
    const inputBytes = inputs.reduce((sum, s) => sum + s.meta.fileSizeBytes, 0);
    const idCount = Math.ceil((inputBytes * 4) / choice.targetSegmentSizeBytes) + inputs.length + 4;
    const firstSegmentId = this.nextSegmentId;
    this.nextSegmentId += idCount;
    for (const segment of inputs) segment.refCount++; // held by the job
    let outputs: Segment[];
    try {
      const metas = await this.jobs.run({
        kind: 'compact',
        inputs: inputs.map((s) => ({ path: s.path, meta: metadataToJson(s.meta) })),
        folder: posix.join(this.config.path, SEGMENTS_FOLDER),
        firstSegmentId,
        segmentIdCount: idCount,
        writer: this.writerSettings(choice.destLevel),
        targetSegmentSizeBytes: choice.targetSegmentSizeBytes,
        gcWatermark: this.gcWatermark(),
        olderRanges,
      });
      outputs = metas.map((json) =>
        this.openSegment(metadataFromJson(json, segmentPath(this.config.path, json.id))),
      );
    } catch (error) {
      await this.removeUnregisteredOutputs(firstSegmentId, idCount);
      throw error;
    } finally {
      for (const segment of inputs) {
        if (--segment.refCount === 0) this.onSegmentUnused(segment);
      }
    }
    this.install(
      this.version.derive({
        remove: ids,
        add: outputs.map((segment) => ({ level: choice.destLevel, segment })),
      }),
    );
    await this.persistManifest();
    for (const segment of inputs) this.markObsolete(segment);
  }

  /** Deletes outputs a failed compaction finished before it failed (else recovery would). */
  private async removeUnregisteredOutputs(firstId: number, count: number): Promise<void> {
    const fs = this.config.fileSystem;
    for (let id = firstId; id < firstId + count; id++) {
      const path = segmentPath(this.config.path, id);
      try {
        if (await fs.exists(path)) await fs.unlink(path);
      } catch {
        // Left for the next recovery, which removes segment files the manifest does not list.
      }
    }
  }

  private compactionView(): CompactionView {
    // Level-0 segments newer than a sealed memtable still being flushed are held back: merging
    // them down before the older data lands in level 0 would let that older data shadow them.
    let oldestSealed = Infinity;
    for (const id of this.sealed.keys()) oldestSealed = Math.min(oldestSealed, id);
    return {
      levels: this.version.levels.map((level, n) =>
        level.filter((s) => n > 0 || s.id < oldestSealed).map((s) => s.meta),
      ),
      targetSegmentSizeBytes: this.config.targetSegmentSizeBytes,
      nowMs: Date.now(),
    };
  }

  private writerSettings(level: number): WriterSettings {
    return {
      blockSizeBytes: this.config.blockSizeBytes,
      restartInterval: this.config.restartInterval,
      bloomBitsPerKey: this.config.bloomBitsPerKey,
      compression: compressionForLevel(this.config, level),
    };
  }

  /** Oldest open snapshot: versions below it that it cannot see are garbage. */
  private gcWatermark(): number {
    let min = Infinity;
    for (const seqno of this.snapshots.keys()) if (seqno < min) min = seqno;
    return min;
  }

  private install(next: Version): void {
    const previous = this.version;
    next.acquire();
    this.version = next;
    previous.release();
  }

  private persistManifest(): Promise<void> {
    const write = async (): Promise<void> => {
      await writeManifest(this.config.fileSystem, this.config.path, {
        nextSegmentId: this.nextSegmentId,
        flushedSeqno: this.flushedSeqno,
        levels: this.version.levels.map((level) => level.map((s) => s.meta)),
      });
    };
    const result = this.manifestChain.then(write, write);
    this.manifestChain = result.catch(() => undefined);
    return result;
  }

  private openSegment(meta: SegmentMetadata): Segment {
    return new Segment(meta, segmentPath(this.config.path, meta.id), this.context);
  }

  private markObsolete(segment: Segment): void {
    segment.obsolete = true;
    if (segment.refCount === 0) this.deleteSegment(segment);
  }

  private onSegmentUnused(segment: Segment): void {
    if (segment.obsolete) this.deleteSegment(segment);
  }

  private deleteSegment(segment: Segment): void {
    segment.release();
    const deletion = this.config.fileSystem.unlink(segment.path).catch(() => {
      // A file that cannot be deleted now is an orphan the next recovery removes.
    });
    this.deletions.add(deletion);
    void deletion.finally(() => this.deletions.delete(deletion));
  }

  private checkOpen(): void {
    if (this.closed) throw new StrataError('CLOSED', 'the tree is closed');
  }

  private checkKey(key: Uint8Array): void {
    if (!(key instanceof Uint8Array)) {
      throw new StrataError('INVALID_ARGUMENT', 'key must be a Uint8Array');
    }
    this.checkKeyLength(key.length);
  }

  private checkKeyLength(keyLength: number): void {
    if (keyLength === 0) throw new StrataError('INVALID_ARGUMENT', 'key must not be empty');
    if (keyLength > MAX_KEY_SIZE_BYTES) {
      throw new StrataError(
        'KEY_TOO_LARGE',
        `key of ${keyLength} bytes exceeds the limit of ${MAX_KEY_SIZE_BYTES}`,
        { details: { sizeBytes: keyLength, limitBytes: MAX_KEY_SIZE_BYTES } },
      );
    }
  }

  private checkWrite(key: Uint8Array, seqno: number): void {
    this.checkOpen();
    this.checkKey(key);
    this.checkSeqno(seqno);
  }

  private checkWriteRange(keyLength: number, seqno: number): void {
    this.checkOpen();
    this.checkKeyLength(keyLength);
    this.checkSeqno(seqno);
  }

  private checkValueLength(length: number): void {
    if (length > this.config.maxValueSizeBytes) {
      throw new StrataError(
        'VALUE_TOO_LARGE',
        `value of ${length} bytes exceeds the limit of ${this.config.maxValueSizeBytes}`,
        { details: { sizeBytes: length, limitBytes: this.config.maxValueSizeBytes } },
      );
    }
  }

  private checkSeqno(seqno: number): void {
    if (!Number.isSafeInteger(seqno) || seqno < 0 || seqno >= MAX_SEQNO) {
      throw new StrataError('INVALID_ARGUMENT', `seqno must be a safe integer >= 0, got ${seqno}`);
    }
  }
}

const EMPTY = Buffer.alloc(0);
/** Cap on the presized capacity of a new memtable (a flood of tiny entries must not reserve GBs). */
const MAX_PRESIZED_ENTRIES = 4 * 1024 * 1024;

function evict(entry: InternalEntry, evictTombstone: boolean): InternalEntry | undefined {
  return evictTombstone && entry.kind === ValueKind.Tombstone ? undefined : entry;
}

/**
 * Looks a key up level by level. Within a level every covering segment is consulted and the
 * newest visible version wins (level 0 and size-tiered levels overlap); across levels the first
 * level with a visible version wins, because compaction only pushes older data down.
 */
async function getFromVersion(
  version: Version,
  key: Uint8Array,
  seqno: number,
): Promise<InternalEntry | undefined> {
  // A cold read (after a reopen) loads the index and filter of every segment it may consult: start
  // those loads together, so their file opens overlap instead of queueing one after another.
  let loads: Promise<void>[] | undefined;
  for (let level = 0; level < version.levels.length; level++) {
    for (const segment of version.segmentsCovering(level, key)) {
      if (!segment.isLoaded()) (loads ??= []).push(segment.load());
    }
  }
  // A failed load is reported by the segment's own get below (only if the lookup reaches it).
  if (loads !== undefined) await Promise.all(loads.map((load) => load.catch(() => undefined)));
  for (let level = 0; level < version.levels.length; level++) {
    if (version.levels[level]!.length === 0) continue;
    let best: InternalEntry | undefined;
    for (const segment of version.segmentsCovering(level, key)) {
      const entry = await segment.get(key, seqno);
      if (entry !== undefined && (best === undefined || entry.seqno > best.seqno)) best = entry;
    }
    if (best !== undefined) return best;
  }
  return undefined;
}

/** The highest seqno of a version's segments and of the flushed seqno kept beside them. */
function highestPersistedSeqno(
  version: Version,
  flushedSeqno: number | undefined,
): number | undefined {
  let highest = flushedSeqno;
  for (const segment of version.allSegments())
    highest = higherSeqno(highest, segment.meta.maxSeqno);
  return highest;
}

function overlapsRange(segment: Segment, range: ResolvedRange): boolean {
  const { lower, upper } = range;
  if (lower) {
    const c = compareKeys(segment.meta.maxKey, lower.key);
    if (c < 0 || (c === 0 && lower.exclusive)) return false;
  }
  if (upper) {
    const c = compareKeys(segment.meta.minKey, upper.key);
    if (c > 0 || (c === 0 && upper.exclusive)) return false;
  }
  return true;
}
