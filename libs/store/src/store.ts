// The Store facade: the public API, each member documented, each body delegating to the part
// that holds the concept (write/, apply/, read/, change-feed/, recovery.ts, checkpoint.ts,
// log-check.ts). Over 400 lines for a stated reason: it is the whole public surface (about 35
// members) with its TSDoc, and splitting it would split the API a user reads in one place.
import { Lifecycle, StrataError, invariant } from '@strata/core';
import type { FileSystem, LifecycleStatus } from '@strata/core';
import { ValueKind, expiresAtMsOf, userValueOf } from '@strata/engine';
import type { Tree } from '@strata/engine';
import type { RecoveryReport, Wal } from '@strata/wal';
import { BatchApplier } from './apply/batch-applier.js';
import { BackgroundJobs } from './background-jobs.js';
import type { BackgroundStats } from './background-jobs.js';
import { ChangeFeed } from './change-feed/change-feed.js';
import type { ChangeBatch, SubscribeOptions } from './change-feed/change-feed.js';
import { RecentRecords } from './change-feed/recent-records.js';
import { writeCheckpoint } from './checkpoint.js';
import type { CheckpointOptions, CheckpointResult } from './checkpoint.js';
import { CloseSteps } from './close-steps.js';
import { CommitNotifier } from './commit-notifier.js';
import type { DataDirectory } from './data-directory.js';
import type { DirectoryLock } from './directory-lock.js';
import { keyBytes } from './input.js';
import type { BytesLike } from './input.js';
import { checkUnverifiedLog, firstVerifiedSeqno } from './log-check.js';
import type { LogCheckOptions, LogCheckReport } from './log-check.js';
import { resolveStoreOptions } from './options.js';
import type { ResolvedStoreOptions, StoreOptions } from './options.js';
import { HistoryWindow } from './read/history-window.js';
import { keyHistory } from './read/key-history.js';
import type { HistoryOptions, HistoryPage } from './read/key-history.js';
import { openRange } from './read/range-read.js';
import type { RangeOptions, ReadOptions } from './read/range-read.js';
import type { StoreIterator } from './read/store-iterator.js';
import { StoreSnapshot } from './read/store-snapshot.js';
import { abandonParts, openParts, replayLog } from './recovery.js';
import type { OpenedParts } from './recovery.js';
import { StoreEventEmitter } from './store-events.js';
import { Scrubber } from './scrub/scrubber.js';
import { SCRUB_DEFAULTS } from './scrub/scrub-types.js';
import type { ScrubStatus } from './scrub/scrub-types.js';
import type { StoreEvents } from './store-events.js';
import { truncateStoreLog } from './truncate-log.js';
import { forgetStore, watchStore } from './unclosed-stores.js';
import { DeadlineIndex } from './expiry/deadline-index.js';
import { ExpiryWriter } from './expiry/expiry-writer.js';
import { EarlyApply } from './write/early-apply.js';
import { batchEntries, deleteEntry, deleteRangeEntry, putEntry } from './write/log-entries.js';
import type { BatchOperation, KeyRangeToDelete } from './write/log-entries.js';
import { ConditionCheck } from './write/condition-check.js';
import { batchConditions, writeConditions } from './write/conditions.js';
import type { PrefixCheck, WriteConditions } from './write/conditions.js';
import { OrderedCommit } from './write/ordered-commit.js';
import { UnpublishedBatches } from './write/unpublished-batches.js';
import { WritePath } from './write/write-path.js';
import type { BatchResult, ReplicatedResult, WriteResult } from './write/write-path.js';

/** A point-in-time view of the store for status pages and metrics. */
/** Lifecycle of a {@link Store}. `failed`: a write or fsync failed; reads go on, writes are refused. */
export type StoreStatus = LifecycleStatus;

/** Options of {@link Store.put} and {@link Store.delete}. */
export interface WriteOptions {
  /** Write only if the key's version (its last put's seqno, 0 when absent) equals this. */
  readonly ifSeqno?: number;
}

/** Options of {@link Store.put}. */
export interface PutOptions extends WriteOptions {
  /**
   * Time to live in milliseconds: the value is not served once the store's clock passes the put's
   * time + `ttlMs` (a deadline stored with the event, so every replica agrees), and an expiry event
   * (a delete marked `expired`) follows. A later put without `ttlMs` makes the key permanent.
   */
  readonly ttlMs?: number;
}

/** Options of {@link Store.batch}. */
export interface BatchOptions {
  /** Prefix checks, made with the operations' own `ifSeqno` checks as one atomic step. */
  readonly checks?: readonly PrefixCheck[];
}

export interface StoreStats {
  readonly status: StoreStatus;
  readonly epoch: number;
  readonly lastSeqno: number;
  readonly durableSeqno: number;
  readonly firstRetainedSeqno: number;
  readonly memtableSizeBytes: number;
  readonly segmentCount: number;
  readonly firstLevelSegmentCount: number;
  readonly diskSpaceBytes: number;
  /** Each level's segments and their file bytes, level 0 first. */
  readonly levels: readonly { readonly segmentCount: number; readonly sizeBytes: number }[];
  /**
   * The tree's block cache: lookups that found their block, lookups that read it, what it holds,
   * the index and filter blocks charged to it (`pinnedBytes`), and what its blocks may take now
   * (`limitBytes`: the memory budget less memtables and pinned blocks).
   */
  readonly blockCache: {
    readonly hits: number;
    readonly misses: number;
    readonly entries: number;
    readonly sizeBytes: number;
    readonly pinnedBytes: number;
    readonly limitBytes: number;
  };
  readonly background: BackgroundStats;
  readonly subscribers: number;
}

/**
 * The durable store: every write is appended to the write-ahead log (group commit), then applied
 * to the LSM tree's memtable; a write resolves once durable under the sync mode and visible to
 * reads. Recovery replays the log above the tree's flushed seqno.
 *
 * @example
 * ```ts
 * const store = await Store.open('./data', { sync: 'always' });
 * const { seqno } = await store.put('user/1', 'ada');
 * await store.get('user/1'); // Buffer 'ada'
 * await store.get('user/1', { at: seqno - 1 }); // undefined: the state before the put
 * for await (const batch of store.subscribe({ from: 1 })) console.log(batch.firstSeqno);
 * await store.close();
 * ```
 */
export class Store {
  /** The paths of the store's data directory. */
  readonly directory: DataDirectory;
  /** Flushes, compaction steps, group commits and log syncs as they finish, for metrics (see {@link StoreEvents}). */
  readonly events: StoreEvents;
  private readonly emitter: StoreEventEmitter;
  private readonly tree: Tree;
  private readonly wal: Wal;
  private readonly lock: DirectoryLock;
  /** A new store's creation being made durable (settled for a store that existed). */
  private readonly created: Promise<void>;
  private readonly lifecycle = new Lifecycle('the store');
  private readonly notifier: CommitNotifier;
  private readonly recent: RecentRecords;
  private readonly jobs: BackgroundJobs;
  private readonly historyWindow: HistoryWindow;
  private readonly early: EarlyApply;
  private readonly applier: BatchApplier;
  private readonly commit: OrderedCommit;
  private readonly writes: WritePath;
  private readonly feed: ChangeFeed;
  private readonly deadlines: DeadlineIndex;
  private readonly expiry: ExpiryWriter;
  /** The background scrub, when `options.scrub` asks for one. */
  private readonly scrubber: Scrubber | undefined;
  /** Log segments starting below this seqno were not read when the log was opened. */
  private readonly logVerifiedFromSeqno: number;

  private constructor(
    parts: OpenedParts,
    private readonly options: ResolvedStoreOptions,
  ) {
    const { tree, wal } = parts;
    this.directory = parts.directory;
    this.tree = tree;
    this.wal = wal;
    this.lock = parts.lock;
    this.created = parts.created;
    this.logVerifiedFromSeqno = firstVerifiedSeqno(wal);
    this.notifier = new CommitNotifier(parts.flushedSeqno);
    this.recent = new RecentRecords(options.recentRecordsBytes);
    this.emitter = new StoreEventEmitter(wal);
    this.events = this.emitter;
    this.jobs = new BackgroundJobs(
      tree,
      wal,
      options.compactionStrategy,
      options,
      this.emitter,
      (error) => this.writes.failStop(error, 'background flush or compaction failed'),
    );
    this.historyWindow = new HistoryWindow(tree, this.notifier, options.historyRetentionSeqnos);
    this.deadlines = new DeadlineIndex(options.maxDeadlinesInMemory);
    const onDeadline = (key: Buffer, seqno: number, expiresAtMs: number): void => {
      this.deadlines.add(key, seqno, expiresAtMs);
      this.expiry.noteDeadline(expiresAtMs);
    };
    this.early = new EarlyApply(
      tree,
      wal,
      this.jobs,
      options.memtableSizeBytes,
      this.lifecycle,
      onDeadline,
    );
    this.applier = new BatchApplier(
      tree,
      this.notifier,
      this.recent,
      this.historyWindow,
      this.jobs,
      options.memtableSizeBytes,
      this.early,
      onDeadline,
    );
    this.commit = new OrderedCommit(this.notifier, this.applier);
    const unpublished = new UnpublishedBatches();
    this.writes = new WritePath(
      wal,
      this.jobs,
      this.lifecycle,
      this.early,
      this.commit,
      this.applier,
      unpublished,
      new ConditionCheck(tree, wal, this.notifier, this.recent, unpublished, options.clock),
      Math.max(options.epoch, wal.lastEpoch),
    );
    this.feed = new ChangeFeed(wal, this.notifier, this.recent, this.lifecycle);
    this.expiry = new ExpiryWriter(
      this.deadlines,
      tree,
      (entries, conditions) => this.writes.write(entries, conditions),
      options.clock,
      this.lifecycle,
      options.expiryWrites,
      (written) => this.emitter.emit('expiry', written),
    );
    wal.onAppendsRefused((nextSeqno) => this.early.discardRefused(nextSeqno));
    this.scrubber =
      options.scrub === false
        ? undefined
        : new Scrubber(
            { wal, tree, jobs: this.jobs, fileSystem: options.fileSystem },
            { ...SCRUB_DEFAULTS, ...options.scrub },
          );
  }

  /**
   * Opens the store in `path` (creating it if needed): takes the directory lock, opens the tree,
   * replays the log records above the tree's flushed seqno into the memtable (see recovery.ts).
   *
   * A new store's creation is durable once its first write is acknowledged or its close
   * resolves (the open does not wait for the creation's last fsyncs: the first write waits for
   * them alongside its own); a power loss before either may leave no store in `path`, with
   * nothing in it acknowledged.
   *
   * @throws StrataError `LOCKED` (another process has it), `UNSUPPORTED_FORMAT`, `CORRUPTION`
   * (naming file and offset), `IO_ERROR`, `INVALID_ARGUMENT`.
   */
  static async open(path: string, options: StoreOptions = {}): Promise<Store> {
    const resolved = resolveStoreOptions(options);
    const parts = await openParts(path, resolved);
    try {
      const store = new Store(parts, resolved);
      store.historyWindow.move();
      await replayLog(parts, store.notifier, store.jobs, resolved.memtableSizeBytes);
      store.historyWindow.move();
      // The deadlines of every expiring put the tree holds, from the segments' expiry blocks and
      // the memtable the replay filled: no key is scanned.
      await store.deadlines.rebuild(parts.tree.expiringEntries());
      // A crash may have left level 0 at the stop trigger: compaction must run now, or writes
      // would wait for a flush that never comes.
      store.jobs.scheduleCompaction();
      store.lifecycle.opened();
      store.expiry.setEnabled(resolved.expiryWrites);
      store.scrubber?.start();
      watchStore(store, parts.directory.root, parts.lock);
      return store;
    } catch (error) {
      await abandonParts(parts);
      throw error;
    }
  }

  /**
   * Cuts the log of the closed store in `path` back to `lastKeptSeqno`: a deposed leader drops
   * the writes the new leader never received. Only the log can be cut: when the tree already
   * flushed a seqno above the cut, it fails with `DIVERGED` (details.flushedSeqno) and the node
   * must bootstrap from a checkpoint instead.
   *
   * @example
   * ```ts
   * await store.close();
   * const { droppedEntries } = await Store.truncateLog('./data', commonSeqno);
   * store = await Store.open('./data');
   * ```
   */
  static truncateLog(
    path: string,
    lastKeptSeqno: number,
    options: Pick<StoreOptions, 'fileSystem'> = {},
  ): Promise<{ droppedFromSeqno: number; droppedEntries: number }> {
    return truncateStoreLog(path, lastKeptSeqno, options);
  }

  /** Current lifecycle state. */
  get status(): StoreStatus {
    return this.lifecycle.status;
  }

  /** The epoch stamped on new writes. */
  get epoch(): number {
    return this.writes.epoch;
  }

  /** The last applied (readable) seqno; 0 for an empty store. */
  get lastSeqno(): number {
    return this.notifier.applied;
  }

  /**
   * Bytes of log records applied since this store was opened (a running total: the difference
   * between two readings is what was written in between; replication bounds a leader's
   * unreplicated bytes with it).
   */
  get appliedLogBytes(): number {
    return this.applier.appliedBytes;
  }

  /** The last seqno on stable storage. */
  get durableSeqno(): number {
    return this.wal.durableSeqno;
  }

  /** The first seqno the log still holds (events before it were dropped by retention). */
  get firstRetainedSeqno(): number {
    return this.wal.firstSeqno;
  }

  /** The file system the store writes through. */
  get fileSystem(): FileSystem {
    return this.options.fileSystem;
  }

  /** What opening the log found and repaired: a torn tail cut, a point-in-time cut. */
  get logRecovery(): RecoveryReport {
    return this.wal.recovery;
  }

  /**
   * Reads the retained sealed log segments that opening the store did not read (it trusts all
   * but the last) and reports damage in them with file and offset; see {@link checkUnverifiedLog}.
   * Retention keeps every segment until it is done. Damage below the flushed seqno does not stop
   * the store from opening or serving, but a reader of the change feed or a checkpoint would meet
   * it: run this after opening to find it first.
   */
  async checkLog(options: LogCheckOptions = {}): Promise<LogCheckReport> {
    this.lifecycle.checkReadable();
    const unpin = this.jobs.pinLog();
    try {
      return await checkUnverifiedLog(this.wal, this.logVerifiedFromSeqno, options);
    } finally {
      unpin();
    }
  }

  // ------------------------------------------------------------------ writes

  /**
   * Sets `key` to `value`. Resolves with the write's seqno once durable (per the sync mode).
   *
   * With `ifSeqno`, a compare-and-set: the put happens only if the key's version (the seqno of
   * its last put; 0 when it is absent or deleted) equals it, checked against every write ordered
   * before this one. `ifSeqno: 0` creates the key only if it is absent.
   *
   * With `ttlMs`, the value lives that many milliseconds (see {@link PutOptions.ttlMs}); a key
   * whose time to live ended reads as absent (version 0) everywhere, `at` and history included.
   *
   * @throws StrataError `CONFLICT` when the version differs: nothing is written, no seqno is
   * taken; `details.conflicts` holds the expected and the actual version. `INVALID_ARGUMENT` for
   * a `ttlMs` that is not a whole number of milliseconds from 1 to about 100 years.
   *
   * @example
   * ```ts
   * await store.put('session/ab12', token, { ttlMs: 30 * 60_000 }); // gone in 30 minutes
   * const current = await store.getEntry('counter');
   * const next = Number(current?.value ?? 0) + 1;
   * await store.put('counter', String(next), { ifSeqno: current?.seqno ?? 0 }); // or CONFLICT
   * ```
   */
  async put(key: BytesLike, value: BytesLike, options: PutOptions = {}): Promise<WriteResult> {
    const entry = putEntry(
      key,
      value,
      this.options.maxKeyBytes,
      options.ttlMs,
      this.options.clock(),
    );
    const result = await this.writes.write([entry], this.keyCondition(entry.key, options));
    return { seqno: result.firstSeqno, epoch: result.epoch };
  }

  /**
   * Deletes `key` (a tombstone event; deleting a missing key is still an event). `ifSeqno` as
   * for {@link put}.
   *
   * @throws StrataError `CONFLICT` when `ifSeqno` is given and the key's version differs.
   */
  async delete(key: BytesLike, options: WriteOptions = {}): Promise<WriteResult> {
    const entry = deleteEntry(key, this.options.maxKeyBytes);
    const result = await this.writes.write([entry], this.keyCondition(entry.key, options));
    return { seqno: result.firstSeqno, epoch: result.epoch };
  }

  /**
   * Applies `operations` atomically: one log record, contiguous seqnos, visible all at once.
   * Operations may carry `ifSeqno` (as for {@link put}), and `options.checks` prefix checks:
   * the batch fails if any key under a prefix was written after the check's `noWritesAfter`.
   * Every check is made against the state before the batch; if any fails, nothing is written.
   *
   * @throws StrataError `CONFLICT` with every failed check in `details.conflicts`;
   * `HISTORY_TRUNCATED` when a prefix check reaches below the retained log.
   *
   * @example
   * ```ts
   * // Append event 8 to stream "order/17/" only if nothing was appended since seqno 1200.
   * await store.batch([{ type: 'put', key: 'order/17/0008', value: event }], {
   *   checks: [{ prefix: 'order/17/', noWritesAfter: 1200 }],
   * });
   * ```
   */
  async batch(
    operations: readonly BatchOperation[],
    options: BatchOptions = {},
  ): Promise<BatchResult> {
    const entries = batchEntries(operations, this.options.maxKeyBytes, this.options.clock());
    const conditions = batchConditions(
      operations,
      entries,
      options.checks,
      this.options.maxKeyBytes,
    );
    return this.writes.write(entries, conditions);
  }

  /**
   * Deletes every key in `[start, end)`, or under `prefix`, with one log entry and one seqno,
   * whatever the number of keys: covered keys read as absent at once; reads at an older seqno
   * still see them; compaction reclaims their space once no snapshot or history window needs it.
   *
   * @throws StrataError `INVALID_ARGUMENT` unless start < end, `KEY_TOO_LARGE`.
   *
   * @example
   * ```ts
   * await store.deleteRange({ prefix: 'session/' });
   * await store.deleteRange({ start: 'log/2024-01', end: 'log/2024-07' });
   * ```
   */
  async deleteRange(range: KeyRangeToDelete): Promise<WriteResult> {
    const result = await this.writes.write([deleteRangeEntry(range, this.options.maxKeyBytes)]);
    return { seqno: result.firstSeqno, epoch: result.epoch };
  }

  private keyCondition(key: Uint8Array, options: WriteOptions): WriteConditions | undefined {
    return options.ifSeqno === undefined
      ? undefined
      : writeConditions(
          [{ key: key as Buffer, ifSeqno: options.ifSeqno }],
          undefined,
          this.options.maxKeyBytes,
        );
  }

  /**
   * Applies a record produced by the leader's log, byte for byte, with the leader's seqnos. A
   * record already in the log is ignored (`duplicate`). Errors: `OUT_OF_SEQUENCE` (a gap),
   * `STALE_EPOCH`, `DIVERGED` (the chain does not continue this log), `CORRUPTION`.
   */
  appendReplicated(record: Uint8Array): Promise<ReplicatedResult> {
    return this.writes.appendReplicated(record);
  }

  /**
   * Opens leadership term `epoch` (replication: a new leader): raises the epoch and appends an
   * epoch-start record, which takes one seqno and changes no key. Resolves once it is durable.
   *
   * @throws StrataError `STALE_EPOCH` when `epoch` is not above the current epoch.
   */
  startEpoch(epoch: number): Promise<WriteResult> {
    return this.writes.startEpoch(epoch);
  }

  /**
   * The framed log record holding `seqno`, byte for byte (a copy), or undefined when the log does
   * not hold it (beyond the head, or dropped by retention). Replication compares histories with it.
   */
  readRecord(seqno: number): Promise<Buffer | undefined> {
    return this.feed.readRecord(seqno);
  }

  /**
   * Starts or stops writing expiry events (deletes marked `expired` for keys whose time to live
   * ended). A replicated node enables it while it leads; followers apply the leader's events.
   * Reads hide expired values either way.
   */
  setExpiryWrites(enabled: boolean): void {
    this.expiry.setEnabled(enabled);
  }

  /** Raises the epoch for new writes (replication: a new leadership term). Never lowers it. */
  setEpoch(epoch: number): void {
    this.writes.setEpoch(epoch);
  }

  private key(key: BytesLike): Buffer {
    return keyBytes(key, this.options.maxKeyBytes);
  }

  // ------------------------------------------------------------------ reads

  /** The value of `key`, or `undefined`; with `at`, as of that seqno. */
  get(key: BytesLike, options: ReadOptions = {}): Promise<Buffer | undefined> {
    // Not async: hand back the engine's promise instead of wrapping it in one more (hot path).
    try {
      this.lifecycle.checkReadable();
      return this.tree.get(this.key(key), this.historyWindow.readSeqno(options.at));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /**
   * The value of `key` and the seqno of the write that set it (with its deadline when it has a
   * time to live), or `undefined`.
   */
  async getEntry(
    key: BytesLike,
    options: ReadOptions = {},
  ): Promise<{ value: Buffer; seqno: number; expiresAtMs?: number } | undefined> {
    this.lifecycle.checkReadable();
    const entry = await this.tree.getInternalEntry(
      this.key(key),
      true,
      this.historyWindow.readSeqno(options.at),
    );
    if (entry === undefined) return undefined;
    if (entry.kind !== ValueKind.Expiring) return { value: entry.value, seqno: entry.seqno };
    const expiresAtMs = expiresAtMsOf(entry);
    if (this.options.clock() >= expiresAtMs) return undefined;
    return { value: userValueOf(entry), seqno: entry.seqno, expiresAtMs };
  }

  /**
   * The versions of `key`, newest first: each put and delete with its seqno, value and timestamp,
   * from the versions the store keeps (the history window, `historyRetentionSeqnos`), a page at a
   * time. Older events stay in the log (`subscribe`, `strata replay`).
   *
   * @throws StrataError `HISTORY_TRUNCATED` when `before` reaches below the history window,
   * `FUTURE_SEQNO` beyond the last applied seqno, `INVALID_ARGUMENT`.
   *
   * @example
   * ```ts
   * let page = await store.history('account/7', { limit: 50 });
   * for (const version of page.versions) console.log(version.seqno, version.type, version.value);
   * if (page.nextBefore !== undefined) page = await store.history('account/7', { before: page.nextBefore });
   * ```
   */
  async history(key: BytesLike, options: HistoryOptions = {}): Promise<HistoryPage> {
    this.lifecycle.checkReadable();
    return keyHistory(
      this.tree,
      this.historyWindow,
      this.notifier.applied,
      (seqno) => this.feed.readRecord(seqno),
      this.key(key),
      options,
      this.options.clock(),
    );
  }

  /**
   * The key-value pairs in a range or under a prefix, in key order (or reverse), at the latest or
   * a given seqno. The view is consistent: writes made during the iteration are not seen.
   * Throws at once (not on the first read) for bad options or a closed store.
   *
   * @example
   * ```ts
   * for await (const { key, value } of store.range({ prefix: 'user/' })) use(key, value);
   * const newestTen = await store.range({ reverse: true, limit: 10 }).all();
   * ```
   */
  range(options: RangeOptions = {}): StoreIterator {
    this.lifecycle.checkReadable();
    return openRange(this.tree, this.historyWindow.readSeqno(options.at), options);
  }

  /**
   * A point-in-time view at the last applied seqno, taken now: its reads (`get`, `range`) see no
   * later write. Not bounded by the history window; it keeps the versions it sees until closed.
   *
   * @example
   * ```ts
   * using snapshot = store.snapshot();
   * const [a, b] = await Promise.all([snapshot.get('a'), snapshot.get('b')]);
   * ```
   */
  snapshot(): StoreSnapshot {
    this.lifecycle.checkReadable();
    return new StoreSnapshot(
      this.tree,
      this.lifecycle,
      this.notifier.applied,
      this.options.maxKeyBytes,
    );
  }

  /**
   * Resolves once `seqno` is applied here (read-your-writes); TIMEOUT after `timeoutMs`, ABORTED
   * when `signal` aborts first, CLOSED when the store closes first.
   */
  async waitForSeqno(seqno: number, timeoutMs?: number, signal?: AbortSignal): Promise<void> {
    if (!(await this.notifier.waitFor(seqno, timeoutMs, signal))) {
      // False only when `signal` aborted (a closing store rejects with CLOSED instead).
      throw new StrataError('ABORTED', 'the wait was aborted', { cause: signal?.reason });
    }
  }

  /** Readers waiting for a seqno (subscribers at the head, `minSeqno` reads). */
  get waitingReaders(): number {
    return this.notifier.waiterCount;
  }

  /** The oldest seqno that `at` reads can still see exactly. */
  get oldestReadableSeqno(): number {
    return this.historyWindow.oldestReadableSeqno;
  }

  // ------------------------------------------------------------------ change feed

  /**
   * The committed batches from `from` on, in seqno order: first from the log, then live, with no
   * gap and no duplicate at the hand-over. Pull-based: a slow subscriber holds no more than one
   * read buffer. Fails with HISTORY_TRUNCATED (details.firstSeqno) if `from` was dropped by
   * retention.
   */
  subscribe(options: SubscribeOptions = {}): AsyncGenerator<ChangeBatch, void, undefined> {
    return this.feed.subscribe(options);
  }

  // ------------------------------------------------------------------ maintenance

  /** Flushes the active memtable to a segment and waits for queued flushes. */
  async flush(): Promise<void> {
    this.lifecycle.checkWritable();
    await this.early.sealAndFlush();
    await this.jobs.idle(false);
  }

  /** Waits until queued flushes and compactions are done. */
  async waitForBackgroundWork(): Promise<void> {
    await this.jobs.idle(true);
  }

  /**
   * Writes a consistent copy of the store into `targetDirectory` (new or empty) that opens as a
   * store: hard links of the tree's immutable segments, its manifest, and the log from the
   * segments' flushed seqno to the current head (at least the last record, so the copy keeps the
   * epoch and the chain a follower continues from). For backups and for bootstrapping followers.
   * Writes may go on meanwhile; the copy holds everything up to `result.seqno`. With
   * `log: 'retained'` the copy holds the whole retained log too (the event history, for backups),
   * its sealed segments as hard links rather than copies.
   */
  async checkpoint(
    targetDirectory: string,
    options: CheckpointOptions = {},
  ): Promise<CheckpointResult> {
    this.lifecycle.checkReadable();
    return writeCheckpoint(
      {
        fileSystem: this.options.fileSystem,
        tree: this.tree,
        wal: this.wal,
        jobs: this.jobs,
        notifier: this.notifier,
      },
      targetDirectory,
      options,
    );
  }

  /**
   * The background scrub (`options.scrub`): passes, bytes verified, the damage found with file
   * and offset; `undefined` when the store runs none.
   */
  scrubStatus(): ScrubStatus | undefined {
    return this.scrubber?.status();
  }

  /** Counters and sizes for status pages and metrics. */
  stats(): StoreStats {
    return {
      status: this.lifecycle.status,
      epoch: this.writes.epoch,
      lastSeqno: this.notifier.applied,
      durableSeqno: this.wal.durableSeqno,
      firstRetainedSeqno: this.wal.firstSeqno,
      memtableSizeBytes: this.tree.activeMemtableSize(),
      segmentCount: this.tree.segmentCount(),
      firstLevelSegmentCount: this.tree.firstLevelSegmentCount(),
      diskSpaceBytes: this.tree.diskSpace(),
      levels: this.tree.levelSegments().map((level) => ({
        segmentCount: level.length,
        sizeBytes: level.reduce((sum, segment) => sum + segment.fileSizeBytes, 0),
      })),
      blockCache: this.tree.cacheStats(),
      background: this.jobs.stats(),
      subscribers: this.feed.subscribers,
    };
  }

  /**
   * Stops accepting writes, waits for in-flight ones, stops background work (a running flush or
   * compaction is cancelled at its next write, queued ones are dropped), closes the tree and the
   * log (synced), releases the lock. The memtables are not written out: their writes are in the
   * log, and the next open replays them, as it does after a crash. So a close takes milliseconds
   * however much is unflushed, and {@link Store.truncateLog} can still cut those writes back (a
   * deposed leader rejoining). `flushMemtable: true` writes the memtables to segments first, so
   * that the next open replays nothing: a close then takes as long as the flush.
   *
   * Every step runs even when an earlier one fails (so the lock and file handles are released),
   * and the store ends `closed` either way; then the first failure is thrown, the later ones in
   * `details.otherFailures`: a failed final fsync means the last writes may not be on disk.
   *
   * @throws StrataError `IO_ERROR` / `NO_SPACE` (or the failing step's own code).
   */
  async close(options: { readonly flushMemtable?: boolean } = {}): Promise<void> {
    if (this.lifecycle.closing) return;
    const flushFirst = this.lifecycle.failure === undefined && options.flushMemtable === true;
    this.lifecycle.beginClose();
    // Before any wait: a flush or compaction running now must not finish work the log holds.
    if (!flushFirst) this.jobs.cancel();
    forgetStore(this);
    await this.scrubber?.stop();
    await this.expiry.stop();
    if (this.writes.inFlight > 0) await this.writes.drained();
    this.feed.close();
    this.notifier.close();
    const steps = new CloseSteps();
    const treeDirectory = this.directory.treeDirectory;
    await steps.run('flush', treeDirectory, async () => {
      if (flushFirst) {
        invariant(this.early.inFlight === 0, 'a batch still in flight after writes drained');
        await this.jobs.scheduleFlush();
        // A failed flush fail-stops the store instead of rejecting: report it here.
        this.lifecycle.throwIfFailed();
      }
    });
    await steps.run('background', treeDirectory, () => this.jobs.stop());
    this.historyWindow.close();
    // Neither needs the other: the tree's close writes nothing the log depends on (whatever the
    // memtable holds stays in the log), and the log's close does not touch the tree.
    await steps.runAtOnce([
      { step: 'tree', file: treeDirectory, action: () => this.tree.close() },
      { step: 'log', file: this.directory.walDirectory, action: () => this.wal.close() },
      // A store closed before its first write: its creation is durable once the close resolves.
      { step: 'creation', file: this.directory.root, action: () => this.created },
    ]);
    await steps.run('lock', this.lock.path, () => this.lock.release());
    this.lifecycle.closed();
    steps.throwIfFailed();
  }
}
