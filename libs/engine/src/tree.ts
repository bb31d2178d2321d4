// Over 400 lines on purpose: this file is the facade and holds the whole public API of the
// reference Tree (about 45 methods, each with its TSDoc) and nothing else. Each method checks its
// arguments and the open state, then calls one part: memtable/, levels/, flush.ts, compaction/,
// read/, checkpoint.ts. Splitting it would scatter one API over several files.
import { StrataError, invariant, nodeFileSystem } from '@strata/core';
import { BlockCache } from './cache/block-cache.js';
import { DescriptorTable } from './cache/descriptor-table.js';
import { writeCheckpoint } from './checkpoint.js';
import { Compactor } from './compaction/compactor.js';
import type { CompactionStepResult } from './compaction/compactor.js';
import { JobCancellation } from './compaction/job-cancellation.js';
import { jobRunnerFor } from './compaction/job-runner.js';
import type { JobRunner } from './compaction/job-runner.js';
import { LeveledStrategy } from './compaction/leveled.js';
import { MajorCompactionStrategy } from './compaction/major.js';
import type { CompactionStrategy } from './compaction/strategy.js';
import type { TreeConfig, TreeOptions } from './config.js';
import { resolveConfig } from './config.js';
import type { InternalEntry, KeyValue } from './entry.js';
import { MAX_SEQNO, ValueKind } from './entry.js';
import type { ExpiringEntry } from './expiring.js';
import { checkExpiresAtMs, expiringValue, visibleValue } from './expiring.js';
import { Flusher } from './flush.js';
import { checkKey, checkKeyLength, checkSeqno, checkValueLength } from './input-checks.js';
import type { KeyRange, ResolvedRange, TreeIterator } from './iterators/tree-iterator.js';
import { resolveRange } from './iterators/tree-iterator.js';
import type { ManifestState } from './levels/manifest.js';
import { VersionSet } from './levels/version-set.js';
import type { Memtable } from './memtable/memtable.js';
import { MemtableSet } from './memtable/memtable-set.js';
import type { SealedMemtable } from './memtable/memtable-set.js';
import { listExpiringEntries } from './read/expiring-entries.js';
import { countPairs, firstPair, lastPair } from './read/iterator-reads.js';
import { openTreeIterator } from './read/open-iterator.js';
import { evict, getFromMemory, readEntry } from './read/point-read.js';
import { Snapshot } from './read/snapshot.js';
import type { ReadsAtSeqno } from './read/snapshot.js';
import { SnapshotTracker } from './read/snapshot-tracker.js';
import { createTreeFiles, emptyLevels, recoverTreeFiles, treeExists } from './recovery.js';
import { NOT_CACHED } from './segment/segment.js';
import type { Segment, SegmentContext } from './segment/segment.js';
import { prefixSuccessor } from './util/bytes.js';
import { higherSeqno } from './util/seqno.js';

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
 * This class is the facade: it checks arguments and the open state, and hands the work to its
 * parts: the memtables ({@link MemtableSet}), the levels and manifest ({@link VersionSet}),
 * {@link Flusher}, {@link Compactor}, the reads of `read/` and {@link writeCheckpoint}.
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
export class Tree implements ReadsAtSeqno {
  private readonly memtables = new MemtableSet();
  private readonly versions: VersionSet;
  private readonly snapshots = new SnapshotTracker();
  private readonly flusher: Flusher;
  /** Set when the tree closes: running flush and compaction jobs stop at their next write. */
  private readonly cancellation = new JobCancellation();
  private readonly compactor: Compactor;
  /** Block cache and descriptor table, shared by the tree's segments. */
  private readonly context: SegmentContext;
  /**
   * One above the highest seqno written or recovered: a read without a seqno is taken here, so an
   * iterator never sees an entry inserted after it was created.
   */
  private readSeqno = 0;
  private closed = false;

  private constructor(
    /** The resolved configuration (persisted parts as recovered). */
    readonly config: TreeConfig,
    manifest: ManifestState,
    /** A new tree's commit still running (see {@link Tree.create}); settled for a recovered one. */
    private readonly created: Promise<void> = Promise.resolve(),
  ) {
    const budget = config.memoryBudgetBytes;
    this.context = {
      blockCache:
        budget === undefined
          ? new BlockCache(config.blockCacheSizeBytes)
          : new BlockCache(budget, () => this.memtables.sizeBytes()),
      descriptorTable: new DescriptorTable(config.fileSystem, config.maxOpenFiles),
    };
    const runner = jobRunnerFor(config);
    // No segment file is written into a tree that may not exist yet (see create): a power loss
    // would leave it in a folder the next open creates a tree in again.
    const jobs: JobRunner = { run: (job) => created.then(() => runner.run(job)) };
    this.versions = new VersionSet(config, this.context, manifest, created);
    this.flusher = new Flusher(config, jobs, this.versions, this.snapshots, this.cancellation);
    this.compactor = new Compactor({
      config,
      jobs,
      cancellation: this.cancellation,
      versions: this.versions,
      memtables: this.memtables,
      snapshots: this.snapshots,
      checkOpen: () => this.checkOpen(),
    });
    this.readAbove(this.versions.highestPersistedSeqno());
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
    const config = resolveConfig(path, options);
    const fs = config.fileSystem;
    if (await treeExists(fs, path)) {
      const recovered = await recoverTreeFiles(fs, path);
      return new Tree({ ...config, ...recovered.config }, recovered.manifest);
    }
    const tree = await Tree.create(path, options);
    try {
      await tree.whenCreated();
    } catch (error) {
      await tree.close().catch(() => undefined);
      throw error;
    }
    return tree;
  }

  /**
   * Creates a new tree at `path`, which must hold none (a caller that checked with
   * {@link exists}, under a lock of its own, skips {@link open}'s second look). Resolves once the
   * tree's files are written, with their fdatasyncs and the commit point after them (the
   * marker's rename, the folders' fsyncs) still running: {@link whenCreated} settles with them.
   * Until then a power loss may leave no tree at `path` (the next open creates an empty one
   * again), so a caller must not acknowledge anything that lives only in this tree before
   * `whenCreated()` resolves; the tree's own flushes and compactions (their segment files and
   * manifest writes) and {@link close} wait for it. A store overlaps this wait with its first
   * log write, which the log holds too.
   *
   * @throws StrataError `IO_ERROR`, `INVALID_ARGUMENT` for bad options.
   *
   * @example
   * ```ts
   * const tree = await Tree.create('/data/tree');
   * tree.insert(Buffer.from('a'), Buffer.from('1'), 0); // readable now
   * await tree.whenCreated(); // and the tree survives a power loss from here on
   * ```
   */
  static async create(path: string, options: TreeOptions = {}): Promise<Tree> {
    const config = resolveConfig(path, options);
    const { committed } = await createTreeFiles(config.fileSystem, path, config);
    return new Tree(
      config,
      { nextSegmentId: 1, flushedSeqno: undefined, levels: emptyLevels(config.levelCount) },
      committed,
    );
  }

  /**
   * Settles once the tree exists on stable storage: at once for a tree that was opened, and for
   * one from {@link create} once its commit is durable. Rejects (`IO_ERROR`) when that commit
   * failed: the tree then refuses its manifest writes, and its close reports the failure.
   */
  whenCreated(): Promise<void> {
    return this.created;
  }

  /**
   * True when `path` holds a created tree (its marker is there): {@link open} then recovers it
   * instead of creating one. A caller that opens more than the tree (a store with its log) can
   * start work that depends only on the tree being new before the tree has opened.
   *
   * @throws StrataError `IO_ERROR`
   */
  static exists(path: string, options: Pick<TreeOptions, 'fileSystem'> = {}): Promise<boolean> {
    return treeExists(options.fileSystem ?? nodeFileSystem, path);
  }

  // ---------------------------------------------------------------- writes

  /**
   * Inserts a version of `key`. Returns `[itemSizeBytes, memtableSizeBytes]`.
   *
   * With `expiresAtMs` above 0 (ms since the Unix epoch) the version is an expiring value
   * ({@link ValueKind.Expiring}): once the tree's clock (`TreeOptions.clock`) reaches the
   * deadline, every read treats it as a tombstone, hiding older versions of the key; a later
   * version without a deadline is a plain value again. Such an insert allocates the stored value
   * (deadline prefix + value); one without a deadline allocates nothing.
   *
   * @throws StrataError `KEY_TOO_LARGE`, `VALUE_TOO_LARGE`, `INVALID_ARGUMENT` (also for an
   * `expiresAtMs` that is not a safe integer >= 0), `CLOSED`
   *
   * @example
   * ```ts
   * tree.insert(Buffer.from('session'), Buffer.from('x'), 7, Date.now() + 60_000); // for a minute
   * ```
   */
  insert(
    key: Uint8Array,
    value: Uint8Array,
    seqno: number,
    expiresAtMs: number = 0,
  ): [number, number] {
    this.checkWrite(key, seqno);
    if (!(value instanceof Uint8Array)) {
      throw new StrataError('INVALID_ARGUMENT', 'value must be a Uint8Array');
    }
    checkValueLength(value.length, this.config.maxValueSizeBytes);
    if (expiresAtMs !== 0) {
      checkExpiresAtMs(expiresAtMs);
      const stored = expiringValue(value, 0, value.length, expiresAtMs);
      if (seqno >= this.readSeqno) this.readSeqno = seqno + 1;
      return this.memtables.active.insert(key, stored, seqno, ValueKind.Expiring);
    }
    if (seqno >= this.readSeqno) this.readSeqno = seqno + 1;
    return this.memtables.active.insert(key, value, seqno, ValueKind.Value);
  }

  /**
   * Inserts a value whose key and value are byte ranges of `source` (a log record being replayed,
   * say), with the checks of {@link insert} but without a view or a result array per entry (with
   * `expiresAtMs` above 0, an expiring value as in {@link insert}, which allocates its stored
   * value). Returns the active memtable's size in bytes.
   *
   * @example
   * ```ts
   * tree.insertFrom(record, keyStart, keyLength, valueStart, valueLength, seqno);
   * tree.insertFrom(record, keyStart, keyLength, valueStart, valueLength, seqno, expiresAtMs);
   * ```
   */
  insertFrom(
    source: Uint8Array,
    keyStart: number,
    keyLength: number,
    valueStart: number,
    valueLength: number,
    seqno: number,
    expiresAtMs: number = 0,
  ): number {
    this.checkWriteRange(keyLength, seqno);
    checkValueLength(valueLength, this.config.maxValueSizeBytes);
    if (expiresAtMs !== 0) {
      checkExpiresAtMs(expiresAtMs);
      invariant(
        keyStart >= 0 &&
          keyStart + keyLength <= source.length &&
          valueStart >= 0 &&
          valueStart + valueLength <= source.length,
        'key or value range outside its source',
      );
      const stored = expiringValue(source, valueStart, valueLength, expiresAtMs);
      if (seqno >= this.readSeqno) this.readSeqno = seqno + 1;
      const key = source.subarray(keyStart, keyStart + keyLength);
      return this.memtables.active.insert(key, stored, seqno, ValueKind.Expiring)[1];
    }
    if (seqno >= this.readSeqno) this.readSeqno = seqno + 1;
    return this.memtables.active.insertFrom(
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
    return this.memtables.active.insertFrom(
      source,
      keyStart,
      keyLength,
      0,
      0,
      seqno,
      ValueKind.Tombstone,
    );
  }

  /** Writes a tombstone for `key`. Returns `[itemSizeBytes, memtableSizeBytes]`. */
  remove(key: Uint8Array, seqno: number): [number, number] {
    this.checkWrite(key, seqno);
    if (seqno >= this.readSeqno) this.readSeqno = seqno + 1;
    return this.memtables.active.insert(key, EMPTY, seqno, ValueKind.Tombstone);
  }

  /**
   * Deletes every key in `[start, end)` (start inclusive, end exclusive) as of `seqno` with one
   * range tombstone, whatever the number of keys: reads at a seqno above it no longer see versions
   * written below it, a version written later (a higher seqno) is visible again, and reads and
   * snapshots below it still see the old versions. Compaction drops the covered versions once no
   * snapshot needs them. Returns `[itemSizeBytes, memtableSizeBytes]`.
   *
   * `start` may be the empty key (the smallest key): `[empty, end)` covers the empty key and every
   * key below `end`. The end is after the start, so it is never empty.
   *
   * @throws StrataError `INVALID_ARGUMENT` unless `start < end` (and for a bad seqno),
   * `KEY_TOO_LARGE`, `CLOSED`
   *
   * @example
   * ```ts
   * tree.removeRange(Buffer.from('user/'), Buffer.from('user0'), 42); // every key under "user/"
   * ```
   */
  removeRange(start: Uint8Array, end: Uint8Array, seqno: number): [number, number] {
    this.checkWrite(start, seqno);
    checkKey(end);
    // Inserted first: the memtable refuses start >= end.
    const sizes = this.memtables.active.insertRangeTombstone(start, end, seqno);
    if (seqno >= this.readSeqno) this.readSeqno = seqno + 1;
    return sizes;
  }

  /**
   * Like {@link removeRange}, with the bounds byte ranges of `source` (a log record being replayed:
   * a range delete's key is its start and its value its end), without a view or a result array.
   * Returns the active memtable's size in bytes.
   *
   * @example
   * ```ts
   * tree.removeRangeFrom(record, keyStart, keyLength, valueStart, valueLength, seqno);
   * ```
   */
  removeRangeFrom(
    source: Uint8Array,
    startOffset: number,
    startLength: number,
    endOffset: number,
    endLength: number,
    seqno: number,
  ): number {
    this.checkWriteRange(startLength, seqno);
    checkKeyLength(endLength);
    const sizeBytes = this.memtables.active.insertRangeTombstoneFrom(
      source,
      startOffset,
      startLength,
      source,
      endOffset,
      endLength,
      seqno,
    );
    if (seqno >= this.readSeqno) this.readSeqno = seqno + 1;
    return sizeBytes;
  }

  // ---------------------------------------------------------------- point reads

  /**
   * The newest version of `key` below `seqno` (default: all), as stored: tombstones are returned
   * unless `evictTombstone`; expiring values are returned as stored (kind
   * {@link ValueKind.Expiring}, deadline prefix included), expired or not: read them with
   * `expiresAtMsOf` and `userValueOf`.
   */
  async getInternalEntry(
    key: Uint8Array,
    evictTombstone = true,
    seqno: number = MAX_SEQNO,
  ): Promise<InternalEntry | undefined> {
    checkKey(key);
    this.checkOpen();
    const entry = await readEntry(this.memtables, this.versions.current, key, seqno);
    return entry === undefined ? undefined : evict(entry, evictTombstone);
  }

  /**
   * The value of `key` visible below `seqno` (default: latest), or `undefined` (for an expiring
   * value whose deadline the clock has reached, too: it hides older versions like a tombstone).
   */
  get(key: Uint8Array, seqno: number = MAX_SEQNO): Promise<Buffer | undefined> {
    const clock = this.config.clock;
    try {
      checkKey(key);
      this.checkOpen();
      // Everything in memory (the common case): answered without a promise per level.
      const entry = getFromMemory(this.memtables, this.versions.current, key, seqno);
      if (entry !== NOT_CACHED) {
        return Promise.resolve(entry === undefined ? undefined : visibleValue(entry, clock));
      }
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return this.getInternalEntry(key, true, seqno).then((entry) =>
      entry === undefined ? undefined : visibleValue(entry, clock),
    );
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
    return firstPair(this.iter(seqno));
  }

  /** The pair with the largest key, or `undefined`. */
  async lastKeyValue(seqno?: number): Promise<KeyValue | undefined> {
    return lastPair(this.iter(seqno));
  }

  /** Counts visible pairs by scanning the whole tree: O(n). Use {@link isEmpty} to test emptiness. */
  async len(seqno?: number): Promise<number> {
    return countPairs(this.iter(seqno));
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
    return new Snapshot(this, seqno, this.snapshots.open(seqno));
  }

  /**
   * Every expiring version stored in the tree ({@link ValueKind.Expiring} entries of the active
   * and sealed memtables and of every segment), to rebuild an index of deadlines: segments are
   * read through their expiry blocks, never their data blocks, one segment at a time. The view is
   * the tree's state at the first step (its version stays pinned until the loop ends). The order
   * is unspecified, and versions already superseded by a newer version (or a tombstone, or a
   * range tombstone) are listed too: check the key's current version before acting. Keys are
   * read-only views.
   *
   * @throws StrataError `CORRUPTION` naming the file and offset of a damaged expiry block,
   * `IO_ERROR`, `CLOSED`.
   *
   * @example
   * ```ts
   * for await (const { key, seqno, expiresAtMs } of tree.expiringEntries()) {
   *   deadlines.add(Buffer.from(key), seqno, expiresAtMs);
   * }
   * ```
   */
  expiringEntries(): AsyncIterable<ExpiringEntry> {
    this.checkOpen();
    return listExpiringEntries(this.memtables, this.versions);
  }

  // ---------------------------------------------------------------- memtables

  /**
   * The active memtable, for exclusive use by the caller until it next awaits (the equivalent of
   * the reference's write lock: JavaScript runs one task at a time).
   */
  lockActiveMemtable(): Memtable {
    return this.memtables.active;
  }

  /** Approximate size of the active memtable in bytes; flush when it grows too large. */
  activeMemtableSize(): number {
    return this.memtables.active.approximateSizeBytes();
  }

  /**
   * Seals the active memtable and starts a new one. The sealed memtable stays readable until a
   * segment with its id is registered. Returns `undefined` when the active memtable is empty.
   */
  rotateMemtable(): SealedMemtable | undefined {
    this.checkOpen();
    if (this.memtables.active.isEmpty()) return undefined;
    const sealed = this.memtables.seal(this.versions.reserveSegmentIds(1));
    // The memtable's growth since the last block was cached, and the fresh one's arrays.
    this.context.blockCache.enforceLimit();
    return sealed;
  }

  /** Replaces the active memtable (recovery: fill one from the log, then install it). */
  setActiveMemtable(memtable: Memtable): void {
    this.checkOpen();
    this.memtables.setActive(memtable);
    this.readAbove(memtable.getHighestSeqno());
    this.context.blockCache.enforceLimit();
  }

  /** Adds a sealed memtable under `id` (recovery from journals). */
  addSealedMemtable(id: number, memtable: Memtable): void {
    this.checkOpen();
    this.memtables.addSealed(id, memtable);
    this.versions.reserveUpTo(id);
    this.readAbove(memtable.getHighestSeqno());
    this.context.blockCache.enforceLimit();
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
    const persisted = this.versions.highestPersistedSeqno();
    invariant(persisted === undefined || persisted <= seqno, 'a segment holds entries to discard');
    const dropped = this.memtables.discardActiveAbove(seqno);
    if (dropped > 0) this.readSeqno = Math.min(this.readSeqno, seqno + 1);
    return dropped;
  }

  /** Drops a sealed memtable. */
  freeSealedMemtable(id: number): void {
    this.memtables.freeSealed(id);
  }

  // ---------------------------------------------------------------- flush

  /**
   * Writes a sealed memtable to a level-0 segment file (in a worker with the real file system) and
   * returns the segment, not yet registered.
   */
  async flushMemtable(id: number, memtable: Memtable): Promise<Segment> {
    this.checkOpen();
    return this.flusher.write(id, memtable);
  }

  /**
   * Adds flushed segments to level 0 and drops their sealed memtables in one step (readers never
   * see both or neither), then persists the manifest.
   */
  async registerSegments(segments: readonly Segment[]): Promise<void> {
    this.checkOpen();
    this.versions.addToLevel0(segments);
    for (const segment of segments) this.memtables.freeSealed(segment.id);
    await this.versions.persist();
  }

  /**
   * Seals the active memtable, writes it to a segment and registers it. Returns the segment's path,
   * or `undefined` when there was nothing to flush. Flushes run one at a time, in order.
   */
  async flushActiveMemtable(): Promise<string | undefined> {
    return this.flusher.serially(async () => {
      const sealed = this.rotateMemtable();
      if (!sealed) return undefined;
      const segment = await this.flushMemtable(sealed.id, sealed.memtable);
      await this.registerSegments([segment]);
      return segment.path;
    });
  }

  // ---------------------------------------------------------------- compaction

  /**
   * Runs one compaction step chosen by `strategy`; compactions run one at a time. Resolves with
   * what the step did (segments and bytes in and out), or `undefined` when there was nothing to do.
   */
  async compact(
    strategy: CompactionStrategy = new LeveledStrategy(),
  ): Promise<CompactionStepResult | undefined> {
    this.checkOpen();
    return this.compactor.compact(strategy);
  }

  /** Merges every segment into the last level, dropping all garbage no snapshot needs. */
  async majorCompact(targetSegmentSizeBytes?: number): Promise<void> {
    await this.compact(new MajorCompactionStrategy(targetSegmentSizeBytes));
  }

  /** True while a compaction runs. */
  isCompacting(): boolean {
    return this.compactor.isCompacting();
  }

  // ---------------------------------------------------------------- checkpoint

  /**
   * Writes a consistent copy of the tree's current segments to `targetPath` (a new or empty
   * folder on the same file system), openable with {@link Tree.open}; see
   * {@link writeCheckpoint}. Active and sealed memtables are NOT included: the copy holds what was
   * flushed. The caller (the store) adds the newer entries, e.g. by copying its log from just
   * above the returned seqno.
   *
   * Returns the copy's flushed seqno (its {@link getHighestPersistedSeqno}), or `undefined` when
   * it is empty.
   *
   * @throws StrataError `INVALID_ARGUMENT` when `targetPath` already holds a tree, `IO_ERROR`,
   * `CLOSED`.
   */
  async checkpoint(targetPath: string): Promise<number | undefined> {
    this.checkOpen();
    return writeCheckpoint(this.config, this.versions, targetPath);
  }

  // ---------------------------------------------------------------- statistics

  /** Segments in level 0. */
  firstLevelSegmentCount(): number {
    return this.versions.current.levels[0]!.length;
  }

  /** Segments in the tree. */
  segmentCount(): number {
    return this.versions.current.segmentCount;
  }

  /** Segment ids per level (for tools and tests). */
  levelSegmentIds(): number[][] {
    return this.versions.current.levels.map((level) => level.map((s) => s.id));
  }

  /**
   * Each level's segments (level 0 first) with their ids and file sizes: per-level sizes for
   * metrics, and what a compaction step read and wrote (the segments it replaced and added).
   */
  levelSegments(): { readonly id: number; readonly fileSizeBytes: number }[][] {
    return this.versions.current.levels.map((level) =>
      level.map((segment) => ({ id: segment.id, fileSizeBytes: segment.meta.fileSizeBytes })),
    );
  }

  /**
   * Holds the segment `id` of the current version so that compaction does not delete its file
   * until `release()` (a scrub reading it outside any read; see {@link verifySegment}), or
   * `undefined` when the current version no longer has it. Hold one at a time and briefly: an
   * obsolete segment's disk space is freed only once released.
   */
  holdSegment(
    id: number,
  ): { readonly segment: Segment; readonly level: number; release(): void } | undefined {
    this.checkOpen();
    const levels = this.versions.current.levels;
    for (let level = 0; level < levels.length; level++) {
      const segment = levels[level]!.find((candidate) => candidate.id === id);
      if (segment === undefined) continue;
      this.versions.hold([segment]);
      let released = false;
      return {
        segment,
        level,
        release: () => {
          if (released) return;
          released = true;
          this.versions.letGo([segment]);
        },
      };
    }
    return undefined;
  }

  /** Entries in memtables and segments, versions and tombstones included: an upper bound. */
  approximateLen(): number {
    return this.memtables.entryCount() + this.versions.current.itemCount();
  }

  /** Bytes taken by segment files. */
  diskSpace(): number {
    return this.versions.current.fileSizeBytes();
  }

  /**
   * Highest seqno in the tree (memtables and segments), or `undefined` when empty. The reference's
   * `get_lsn`, named `get_highest_seqno` in current lsm-tree.
   */
  getHighestSeqno(): number | undefined {
    return higherSeqno(this.versions.highestPersistedSeqno(), this.memtables.highestSeqno());
  }

  /**
   * Highest seqno flushed to segments, or `undefined`. The reference's `get_segment_lsn`, named
   * `get_highest_persisted_seqno` in current lsm-tree. It never goes down, even when compaction
   * drops the newest entry (a tombstone): the store replays its log from above it.
   */
  getHighestPersistedSeqno(): number | undefined {
    return this.versions.highestPersistedSeqno();
  }

  /**
   * Highest seqno of the active memtable, or `undefined`. The reference's `get_memtable_lsn`,
   * named `get_highest_memtable_seqno` in current lsm-tree.
   */
  getHighestMemtableSeqno(): number | undefined {
    return this.memtables.active.getHighestSeqno();
  }

  /** Block cache statistics. */
  cacheStats(): ReturnType<BlockCache['stats']> {
    return this.context.blockCache.stats();
  }

  /**
   * Cancels running and later flush and compaction jobs: each stops at its next write, removes
   * what it wrote and rejects with `CLOSED` (`details.cancelled`; see {@link isJobCancelledError}).
   * Nothing is lost: the memtables they were writing are still in the caller's log, and their
   * output was never in the manifest. A store calls it when it closes, so that close does not
   * wait for file work (the tree alone keeps its memtables nowhere else, so {@link close} does not
   * cancel: it waits). It cannot be undone.
   */
  cancelBackgroundJobs(): void {
    this.cancellation.cancel();
  }

  /**
   * Waits for running flushes and compactions (or for their cancellation, after
   * {@link cancelBackgroundJobs}), closes files. Unflushed memtable contents are dropped (the log
   * has them).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flusher.idle();
    await this.compactor.idle();
    await this.versions.manifestWritten();
    this.closed = true;
    await this.versions.deletionsDone();
    this.context.descriptorTable.closeAll();
    // A failed creation (see create) is reported once everything is closed.
    await this.created;
  }

  // ---------------------------------------------------------------- internals

  /** An iterator pinned to the current state, at `seqno` or at everything written so far. */
  private createIterator(range: ResolvedRange, seqno: number | undefined): TreeIterator {
    this.checkOpen();
    return openTreeIterator(
      this.memtables.all(),
      this.versions.current,
      range,
      seqno ?? this.readSeqno,
      this.config.clock(),
    );
  }

  /** Moves the default read seqno above `seqno` (a memtable installed whole). */
  private readAbove(seqno: number | undefined): void {
    if (seqno !== undefined && seqno >= this.readSeqno) this.readSeqno = seqno + 1;
  }

  private checkOpen(): void {
    if (this.closed) throw new StrataError('CLOSED', 'the tree is closed');
  }

  private checkWrite(key: Uint8Array, seqno: number): void {
    this.checkOpen();
    checkKey(key);
    checkSeqno(seqno);
  }

  private checkWriteRange(keyLength: number, seqno: number): void {
    this.checkOpen();
    checkKeyLength(keyLength);
    checkSeqno(seqno);
  }
}

const EMPTY = Buffer.alloc(0);
