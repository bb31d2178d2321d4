import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ReplicationStatus } from '@strata/replication';
import type { Store } from '@strata/store';
import type { TreeManifest } from '../offline/tree-manifest.js';
import { readTreeManifest } from '../offline/tree-manifest.js';

const LATENCY_BUCKETS_SECONDS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];
const GROUP_RECORD_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];
const GROUP_BYTES_BUCKETS = [256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304];

/**
 * The node's Prometheus metrics (prom-client, one registry per node so several nodes can share a
 * process in tests). HTTP metrics are fed by the server's hooks; store gauges are read from
 * `store.stats()` at scrape time, and the levels manifest (per-level figures, flush and
 * compaction bytes) is read again after each flush and compaction step the store reports in
 * `store.events`, which also feeds the log's group-commit and fsync metrics.
 */
export class NodeMetrics {
  readonly registry = new Registry();
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route'>;
  readonly writes: Counter<'op'>;
  readonly writeEntries: Counter;
  readonly writeDuration: Histogram<'op'>;
  readonly eventStreams: Gauge;
  private readonly logGroups: Counter;
  private readonly logGroupRecords: Histogram;
  private readonly logGroupBytes: Histogram;
  private readonly logWriteDuration: Histogram;
  private readonly logSyncDuration: Histogram;
  private readonly writeStalls: Counter<'cause'>;
  private readonly writeStallDuration: Histogram;
  private readonly flushBytes: Counter;
  private readonly compactionOutputBytes: Counter;
  private readonly compactionInputBytes: Counter;
  private store: Store | undefined;
  /** Removes this object's listeners from the attached store's events. */
  private detachStore: (() => void) | undefined;
  private replication: (() => ReplicationStatus) | undefined;
  private treeDirectory: string | undefined;
  private lastManifest: TreeManifest | undefined;
  private manifestReading: Promise<void> | undefined;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.httpRequests = new Counter({
      name: 'strata_http_requests_total',
      help: 'HTTP requests by route, method and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'strata_http_request_duration_seconds',
      help: 'HTTP request latency by route (until the response is sent)',
      labelNames: ['method', 'route'],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    });
    this.writes = new Counter({
      name: 'strata_writes_total',
      help: 'Acknowledged write requests by kind (put, delete, batch)',
      labelNames: ['op'],
      registers,
    });
    this.writeEntries = new Counter({
      name: 'strata_write_entries_total',
      help: 'Acknowledged entries (one seqno each)',
      registers,
    });
    this.writeDuration = new Histogram({
      name: 'strata_write_duration_seconds',
      help: 'Time from a write call to its durable acknowledgement (group commit included)',
      labelNames: ['op'],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    });
    this.eventStreams = new Gauge({
      name: 'strata_event_streams',
      help: 'Open GET /v1/events streams',
      registers,
    });
    this.logGroups = new Counter({
      name: 'strata_wal_write_groups_total',
      help: 'Log group commits (one write each; one fsync each under sync=always)',
      registers,
    });
    this.logGroupRecords = new Histogram({
      name: 'strata_wal_write_group_records',
      help: 'Records per log group commit',
      buckets: GROUP_RECORD_BUCKETS,
      registers,
    });
    this.logGroupBytes = new Histogram({
      name: 'strata_wal_write_group_bytes',
      help: 'Bytes per log group commit',
      buckets: GROUP_BYTES_BUCKETS,
      registers,
    });
    this.logWriteDuration = new Histogram({
      name: 'strata_wal_write_duration_seconds',
      help: 'Latency of one log group write (durable on return for O_DSYNC segments)',
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    });
    this.writeStalls = new Counter({
      name: 'strata_write_stalls_total',
      help: 'Writes that waited for background work (cause: sealed-memtables or level0-segments)',
      labelNames: ['cause'],
      registers,
    });
    this.writeStallDuration = new Histogram({
      name: 'strata_write_stall_duration_seconds',
      help: 'How long a stalled write waited for a flush or compaction',
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    });
    this.logSyncDuration = new Histogram({
      name: 'strata_wal_fsync_duration_seconds',
      help: 'Latency of log fsyncs (fdatasync calls, and O_DSYNC group writes)',
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    });
    this.flushBytes = new Counter({
      name: 'strata_flush_bytes_total',
      help: 'Bytes of segments written by memtable flushes (seen in the levels manifest)',
      registers,
    });
    this.compactionOutputBytes = new Counter({
      name: 'strata_compaction_output_bytes_total',
      help: 'Bytes of segments written by compactions (seen in the levels manifest)',
      registers,
    });
    this.compactionInputBytes = new Counter({
      name: 'strata_compaction_input_bytes_total',
      help: 'Bytes of segments replaced by compactions (seen in the levels manifest)',
      registers,
    });
    this.defineStoreGauges(registers);
    this.defineReplicationGauges(registers);
  }

  /**
   * Starts reading gauges from `store` (whose tree lives in `treeDirectory`) and following its
   * events (flushes and compaction steps, log group commits and syncs); a store attached before (a cluster node reopens its store) is
   * no longer followed.
   */
  attach(store: Store, treeDirectory: string): void {
    this.detachStore?.();
    this.store = store;
    this.treeDirectory = treeDirectory;
    // Each flush and compaction step ends with the levels manifest written.
    const levelsChanged = (): void => this.readManifest();
    const stops = [
      store.events.on('flush', levelsChanged),
      store.events.on('compaction', levelsChanged),
      store.events.on('groupCommit', (commit) => {
        this.logGroups.inc();
        this.logGroupRecords.observe(commit.records);
        this.logGroupBytes.observe(commit.sizeBytes);
        this.logWriteDuration.observe(commit.writeDurationMs / 1000);
      }),
      store.events.on('fsync', (sync) => this.logSyncDuration.observe(sync.durationMs / 1000)),
      store.events.on('stall', (stall) => {
        this.writeStalls.inc({ cause: stall.cause });
        this.writeStallDuration.observe(stall.durationMs / 1000);
      }),
    ];
    this.detachStore = () => {
      for (const stop of stops) stop();
    };
    this.readManifest();
  }

  /** Reads the levels manifest (after the reads queued before), accounting what changed. */
  private readManifest(): void {
    const directory = this.treeDirectory;
    if (directory === undefined) return;
    const previous = this.manifestReading ?? Promise.resolve();
    this.manifestReading = previous
      .then(async () => {
        const next = await readTreeManifest(directory);
        if (next) this.account(this.lastManifest, next);
        this.lastManifest = next ?? this.lastManifest;
      })
      .catch(() => undefined);
  }

  /** The Prometheus text exposition. */
  async text(): Promise<string> {
    await this.manifestReading;
    return this.registry.metrics();
  }

  /** Flush and compaction bytes from the difference between two manifests. */
  private account(before: TreeManifest | undefined, after: TreeManifest): void {
    if (before === undefined) return;
    const old = new Map(before.levels.flat().map((segment) => [segment.id, segment]));
    const current = new Set(after.levels.flat().map((segment) => segment.id));
    let added = 0;
    for (const segment of after.levels.flat())
      if (!old.has(segment.id)) added += segment.fileSizeBytes;
    let removed = 0;
    for (const [id, segment] of old) if (!current.has(id)) removed += segment.fileSizeBytes;
    // A flush adds a level-0 segment and removes none; a compaction replaces segments.
    if (removed === 0) this.flushBytes.inc(added);
    else {
      this.compactionOutputBytes.inc(added);
      this.compactionInputBytes.inc(removed);
    }
  }

  /** Starts reading replication gauges from `status` (cluster nodes). */
  attachReplication(status: () => ReplicationStatus): void {
    this.replication = status;
  }

  private defineReplicationGauges(registers: Registry[]): void {
    const status = (): ReplicationStatus | undefined => this.replication?.();
    const gauge = (name: string, help: string, read: () => number | undefined): void =>
      defineCollectedGauge(registers, name, help, read);
    gauge('strata_replication_is_leader', '1 on the leader, 0 on a follower', () => {
      const role = status()?.role;
      return role === undefined ? undefined : role === 'leader' ? 1 : 0;
    });
    gauge(
      'strata_replication_lag_seqnos',
      'Seqnos between the stream head and what this node applied',
      () => status()?.lagSeqnos,
    );
    gauge(
      'strata_replication_published_seqno',
      'Last seqno JetStream acknowledged (leader)',
      () => status()?.publishedSeqno,
    );
    gauge(
      'strata_replication_quorum_seqno',
      'Highest seqno a majority has durable (leader)',
      () => status()?.quorumSeqno,
    );
    gauge(
      'strata_replication_refused_messages_total',
      'Stream messages a follower refused (bad checksum, epoch, gap, garbage, size)',
      () => status()?.follower?.refusedMessages,
    );
    gauge(
      'strata_replication_dropped_entries_total',
      'Unreplicated log entries cut back after this node was deposed',
      () => status()?.droppedEntries,
    );
    gauge(
      'strata_replication_bootstraps_total',
      'Checkpoints of the leader installed',
      () => status()?.bootstraps,
    );
  }

  private defineStoreGauges(registers: Registry[]): void {
    const stats = () => this.store?.stats();
    const gauge = (name: string, help: string, read: () => number | undefined): void =>
      defineCollectedGauge(registers, name, help, read);
    gauge('strata_last_seqno', 'Last applied seqno', () => stats()?.lastSeqno);
    gauge('strata_durable_seqno', 'Last seqno on stable storage', () => stats()?.durableSeqno);
    gauge('strata_epoch', 'Current epoch', () => stats()?.epoch);
    gauge(
      'strata_first_retained_seqno',
      'First seqno in the log',
      () => stats()?.firstRetainedSeqno,
    );
    gauge(
      'strata_memtable_bytes',
      'Bytes in the active memtable',
      () => stats()?.memtableSizeBytes,
    );
    gauge(
      'strata_sealed_memtables',
      'Memtables waiting for their flush',
      () => stats()?.background.sealedMemtables,
    );
    gauge('strata_segments_total', 'Segments in the tree', () => stats()?.segmentCount);
    gauge('strata_disk_space_bytes', 'Bytes of segment files', () => stats()?.diskSpaceBytes);
    gauge(
      'strata_changefeed_subscribers',
      'Change-feed subscribers (event streams, replication)',
      () => stats()?.subscribers,
    );
    gauge(
      'strata_flushes_total',
      'Memtable flushes since start',
      () => stats()?.background.flushes,
    );
    gauge(
      'strata_compactions_total',
      'Compaction steps since start',
      () => stats()?.background.compactions,
    );
    gauge(
      'strata_flush_duration_seconds_total',
      'Time spent flushing memtables since start (worker time plus registration)',
      () => {
        const durationMs = stats()?.background.flushDurationMs;
        return durationMs === undefined ? undefined : durationMs / 1000;
      },
    );
    gauge(
      'strata_flushed_bytes_total',
      'Bytes of segment files written by flushes since start (reported by the store)',
      () => stats()?.background.flushedBytes,
    );
    gauge(
      'strata_compaction_duration_seconds_total',
      'Time spent in compaction steps since start',
      () => {
        const durationMs = stats()?.background.compactionDurationMs;
        return durationMs === undefined ? undefined : durationMs / 1000;
      },
    );
    gauge('strata_store_failed', '1 when the store refuses writes (fail-stop)', () =>
      this.store === undefined ? undefined : this.store.status === 'failed' ? 1 : 0,
    );
    const manifest = () => this.lastManifest;
    new Gauge({
      name: 'strata_level_segments',
      help: 'Segments per level (from the levels manifest)',
      labelNames: ['level'],
      registers,
      collect() {
        manifest()?.levels.forEach((segments, level) => this.set({ level }, segments.length));
      },
    });
    new Gauge({
      name: 'strata_level_bytes',
      help: 'Bytes of segment files per level (from the levels manifest)',
      labelNames: ['level'],
      registers,
      collect() {
        manifest()?.levels.forEach((segments, level) =>
          this.set(
            { level },
            segments.reduce((sum, segment) => sum + segment.fileSizeBytes, 0),
          ),
        );
      },
    });
  }
}

/** A gauge read at scrape time; `read` returning undefined leaves it unset (nothing to report). */
function defineCollectedGauge(
  registers: Registry[],
  name: string,
  help: string,
  read: () => number | undefined,
): void {
  new Gauge({
    name,
    help,
    registers,
    collect() {
      const value = read();
      if (value !== undefined) this.set(value);
    },
  });
}
