import { Counter, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import type { Store, StoreStats } from '@strata/store';
import { ReadMetric } from './read-metric.js';

/** Latencies of one request, write or log operation: 100 µs to 5 s. */
export const LATENCY_BUCKETS_SECONDS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];
/** Durations of flushes and compaction steps: 5 ms to 2 min. */
const BACKGROUND_BUCKETS_SECONDS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120,
];
const GROUP_RECORD_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];
const GROUP_BYTES_BUCKETS = [256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304];

/** The store's counters that have no event (read at scrape time), by metric name. */
const FOLLOWED_COUNTERS = {
  strata_block_cache_hits_total: (stats: StoreStats) => stats.blockCache.hits,
  strata_block_cache_misses_total: (stats: StoreStats) => stats.blockCache.misses,
  strata_wal_dropped_segments_total: (stats: StoreStats) => stats.background.droppedLogSegments,
} as const;

type FollowedCounter = keyof typeof FOLLOWED_COUNTERS;

/**
 * The store's metrics, all from the store itself: histograms and counters fed by its typed events
 * (`store.events`: group commits and fsyncs of the log, flushes, compaction steps, write stalls,
 * expiries) and gauges read from `store.stats()` at scrape time. Nothing watches files.
 *
 * A cluster node replaces its store (after a cut-back or a bootstrap): {@link attach} follows the
 * new one, and the counters go on from where they were (a new store counts from zero; what the
 * old one counted is kept), so they never go down within a process.
 */
export class StoreMetrics {
  private store: Store | undefined;
  private detach: (() => void) | undefined;
  /** What the counters without events had counted, over the stores before the current one. */
  private readonly countedBefore = new Map<FollowedCounter, number>();

  private readonly walGroupRecords: Histogram;
  private readonly walGroupBytes: Histogram;
  private readonly walWriteDuration: Histogram;
  private readonly walFsyncDuration: Histogram;
  private readonly flushDuration: Histogram;
  private readonly flushBytes: Counter;
  private readonly compactionDuration: Histogram<'kind'>;
  private readonly compactionInputBytes: Counter;
  private readonly compactionOutputBytes: Counter;
  private readonly stallDuration: Histogram<'cause'>;
  private readonly expiredKeys: Counter;

  constructor(registry: Registry) {
    const registers = [registry];
    this.walGroupRecords = new Histogram({
      name: 'strata_wal_write_group_records',
      help: 'Records per log group commit (its _count is the number of group commits)',
      buckets: GROUP_RECORD_BUCKETS,
      registers,
    });
    this.walGroupBytes = new Histogram({
      name: 'strata_wal_write_group_bytes',
      help: 'Bytes per log group commit',
      buckets: GROUP_BYTES_BUCKETS,
      registers,
    });
    this.walWriteDuration = new Histogram({
      name: 'strata_wal_write_duration_seconds',
      help: 'Latency of one log group write (durable on return for O_DSYNC segments)',
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    });
    this.walFsyncDuration = new Histogram({
      name: 'strata_wal_fsync_duration_seconds',
      help: 'Latency of log syncs (fdatasync calls, and O_DSYNC group writes)',
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    });
    this.flushDuration = new Histogram({
      name: 'strata_flush_duration_seconds',
      help: 'Memtable flushes: log sync, segment write and registration (its _count is the number of flushes)',
      buckets: BACKGROUND_BUCKETS_SECONDS,
      registers,
    });
    this.flushBytes = new Counter({
      name: 'strata_flush_bytes_total',
      help: 'Bytes of segment files written by memtable flushes',
      registers,
    });
    this.compactionDuration = new Histogram({
      name: 'strata_compaction_duration_seconds',
      help: 'Compaction steps that changed the levels, by kind (merge, move, drop)',
      labelNames: ['kind'],
      buckets: BACKGROUND_BUCKETS_SECONDS,
      registers,
    });
    this.compactionInputBytes = new Counter({
      name: 'strata_compaction_input_bytes_total',
      help: 'Bytes of segment files compaction took out of the levels (read by merges, or dropped)',
      registers,
    });
    this.compactionOutputBytes = new Counter({
      name: 'strata_compaction_output_bytes_total',
      help: 'Bytes of segment files written by compaction merges',
      registers,
    });
    this.stallDuration = new Histogram({
      name: 'strata_write_stall_duration_seconds',
      help: 'Writes that waited for background work, by cause (sealed-memtables, level0-segments), and how long',
      labelNames: ['cause'],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    });
    this.expiredKeys = new Counter({
      name: 'strata_expired_keys_total',
      help: 'Keys whose time to live ended, deleted by expiry events this node wrote',
      registers,
    });
    this.registerStatsMetrics(registry);
  }

  /** Follows `store` (its events and stats) instead of the store attached before, if any. */
  attach(store: Store): void {
    this.detach?.();
    if (this.store !== undefined) this.foldFollowedCounters(this.store);
    this.store = store;
    const stops = [
      store.events.on('groupCommit', (commit) => {
        this.walGroupRecords.observe(commit.records);
        this.walGroupBytes.observe(commit.sizeBytes);
        this.walWriteDuration.observe(commit.writeDurationMs / 1000);
      }),
      store.events.on('fsync', (sync) => this.walFsyncDuration.observe(sync.durationMs / 1000)),
      store.events.on('flush', (flush) => {
        this.flushDuration.observe(flush.durationMs / 1000);
        this.flushBytes.inc(flush.segmentBytes);
      }),
      store.events.on('compaction', (step) => {
        this.compactionDuration.observe({ kind: step.kind }, step.durationMs / 1000);
        this.compactionInputBytes.inc(step.inputBytes);
        this.compactionOutputBytes.inc(step.outputBytes);
      }),
      store.events.on('stall', (stall) =>
        this.stallDuration.observe({ cause: stall.cause }, stall.durationMs / 1000),
      ),
      store.events.on('expiry', (expiry) => this.expiredKeys.inc(expiry.keys)),
    ];
    this.detach = () => {
      for (const stop of stops) stop();
    };
  }

  /** Keeps what the outgoing store's counters counted; the next store's count adds to it. */
  private foldFollowedCounters(store: Store): void {
    const stats = store.stats();
    for (const name of Object.keys(FOLLOWED_COUNTERS) as FollowedCounter[]) {
      const before = this.countedBefore.get(name) ?? 0;
      this.countedBefore.set(name, before + FOLLOWED_COUNTERS[name](stats));
    }
  }

  private registerStatsMetrics(registry: Registry): void {
    const stats = (): StoreStats | undefined => this.store?.stats();
    const gauge = (name: string, help: string, read: (s: StoreStats) => number): void => {
      ReadMetric.register(registry, name, help, 'gauge', () => {
        const current = stats();
        return current === undefined ? undefined : read(current);
      });
    };
    gauge('strata_last_seqno', 'Last applied seqno', (s) => s.lastSeqno);
    gauge('strata_durable_seqno', 'Last seqno on stable storage', (s) => s.durableSeqno);
    gauge('strata_epoch', 'Current epoch', (s) => s.epoch);
    gauge('strata_first_retained_seqno', 'First seqno in the log', (s) => s.firstRetainedSeqno);
    gauge('strata_memtable_bytes', 'Bytes in the active memtable', (s) => s.memtableSizeBytes);
    gauge(
      'strata_sealed_memtables',
      'Memtables waiting for their flush',
      (s) => s.background.sealedMemtables,
    );
    gauge(
      'strata_changefeed_subscribers',
      'Change-feed subscribers (event streams, replication)',
      (s) => s.subscribers,
    );
    gauge('strata_store_failed', '1 when the store refuses writes (fail-stop), else 0', (s) =>
      s.status === 'failed' ? 1 : 0,
    );
    gauge(
      'strata_block_cache_bytes',
      'Bytes of blocks in the block cache',
      (s) => s.blockCache.sizeBytes,
    );
    gauge('strata_block_cache_blocks', 'Blocks in the block cache', (s) => s.blockCache.entries);
    type Level = StoreStats['levels'][number];
    const perLevel = (pick: (level: Level) => number) => () =>
      stats()?.levels.map((level, index) => ({ value: pick(level), labels: { level: index } }));
    ReadMetric.register(
      registry,
      'strata_level_segments',
      'Segments per level of the tree (their sum is the tree segment count)',
      'gauge',
      perLevel((level) => level.segmentCount),
    );
    ReadMetric.register(
      registry,
      'strata_level_bytes',
      'Bytes of segment files per level of the tree (their sum is its disk space)',
      'gauge',
      perLevel((level) => level.sizeBytes),
    );
    const helps: Record<FollowedCounter, string> = {
      strata_block_cache_hits_total: 'Block reads the block cache answered',
      strata_block_cache_misses_total: 'Block reads that went to a segment file',
      strata_wal_dropped_segments_total: 'Log segments retention dropped after flushes',
    };
    for (const name of Object.keys(FOLLOWED_COUNTERS) as FollowedCounter[]) {
      ReadMetric.register(registry, name, helps[name], 'counter', () => {
        const current = stats();
        if (current === undefined) return undefined;
        return (this.countedBefore.get(name) ?? 0) + FOLLOWED_COUNTERS[name](current);
      });
    }
  }
}
