import type { BenchGroup, BenchSuite, MetricSpec } from '../runner/types.js';
import { DURABLE_CONTENDERS, KV_CONTENDERS } from './contender.js';
import { KV_WORKER_PATH } from './workloads.js';

/** Sizes of one run. */
export interface KvSizes {
  /** N: keys per fill. */
  readonly n: number;
  /** Durable puts of W4 with 1 writer. */
  readonly syncSequentialOps: number;
  /** Durable puts of W4 with 8 and 64 writers (each run is also bounded in time). */
  readonly syncConcurrentOps: number;
  readonly syncMaxDurationMs: number;
  /** W3 stops after this long (in 10,000-put steps). */
  readonly putSingleMaxDurationMs: number;
}

/** N = 1,000,000 (the workloads in tools/bench/README.md). */
export const FULL_SIZES: KvSizes = {
  n: 1_000_000,
  syncSequentialOps: 2_000,
  syncConcurrentOps: 20_000,
  syncMaxDurationMs: 5_000,
  putSingleMaxDurationMs: 10_000,
};

/** `--quick`: N = 100,000, fewer durable writes. */
export const QUICK_SIZES: KvSizes = {
  n: 100_000,
  syncSequentialOps: 500,
  syncConcurrentOps: 2_000,
  syncMaxDurationMs: 1_000,
  putSingleMaxDurationMs: 2_000,
};

const metric = (
  key: string,
  label: string,
  better: 'higher' | 'lower',
  digits = 0,
): MetricSpec => ({
  key,
  label,
  better,
  digits,
});

/**
 * The measurement groups: one worker process per (group, contender, round). A process may measure
 * several things (W5 measures hits and misses on one store); the report splits them into rows.
 */
export function kvSuite(sizes: KvSizes): BenchSuite {
  const common = { n: sizes.n, batch: 1_000, seed: 20_261_124 };
  const fillMetrics = [
    metric('opsPerSec', 'ops/s', 'higher'),
    metric('settleMs', 'settle ms', 'lower'),
    metric('opsPerSecWithSettle', 'ops/s incl. settle', 'higher'),
    metric('loopDelayP99Ms', 'loop delay p99 ms', 'lower', 1),
    metric('diskOpenMiB', 'disk open MiB', 'lower', 1),
    metric('diskClosedMiB', 'disk closed MiB', 'lower', 1),
  ];
  const putSync = (writers: number): BenchGroup => ({
    id: `W4/writers-${writers}`,
    label: `W4 put-sync, ${writers} writer${writers === 1 ? '' : 's'}`,
    workload: 'put-sync',
    params: {
      ...common,
      writers,
      ops: writers === 1 ? sizes.syncSequentialOps : sizes.syncConcurrentOps,
      warmupOps: Math.max(100, writers * 4),
      maxDurationMs: sizes.syncMaxDurationMs,
    },
    contenders: DURABLE_CONTENDERS,
    metrics: [
      metric('opsPerSec', 'ops/s', 'higher'),
      metric('p50Us', 'p50 us', 'lower'),
      metric('p99Us', 'p99 us', 'lower'),
    ],
  });
  return {
    name: 'kv',
    title: 'Key-value workloads W1–W7: Strata vs LevelDB, RocksDB, LMDB and SQLite',
    description: 'See tools/bench/README.md ("The key-value workloads") for what each row runs.',
    workerPath: KV_WORKER_PATH,
    subject: 'strata-store',
    packages: [
      '@strata/store',
      '@strata/engine',
      '@strata/wal',
      'lz4-napi',
      'classic-level',
      '@nxtedition/rocksdb',
      'lmdb',
      'better-sqlite3',
      'tsx',
    ],
    groups: [
      {
        id: 'W1',
        label: 'W1 fill-seq',
        workload: 'fill-seq',
        params: common,
        contenders: KV_CONTENDERS,
        metrics: fillMetrics,
      },
      {
        id: 'W2',
        label: 'W2 fill-random',
        workload: 'fill-random',
        params: common,
        contenders: KV_CONTENDERS,
        metrics: fillMetrics,
      },
      {
        id: 'W3',
        label: 'W3 put-single',
        workload: 'put-single',
        params: { ...common, maxDurationMs: sizes.putSingleMaxDurationMs },
        contenders: KV_CONTENDERS,
        metrics: [
          metric('opsPerSec', 'ops/s', 'higher'),
          metric('ops', 'puts', 'higher'),
          metric('closeMs', 'close ms', 'lower', 1),
        ],
      },
      putSync(1),
      putSync(8),
      putSync(64),
      {
        id: 'W5',
        label: 'W5 gets',
        workload: 'gets',
        params: common,
        contenders: KV_CONTENDERS,
        metrics: [
          metric('getHitOpsPerSec', 'hit gets/s', 'higher'),
          metric('getMissOpsPerSec', 'missing gets/s', 'higher'),
        ],
      },
      {
        id: 'W6',
        label: 'W6 scans',
        workload: 'scans',
        params: common,
        contenders: KV_CONTENDERS,
        metrics: [
          metric('scanItemsPerSec', 'items/s', 'higher'),
          metric('rangeScansPerSec', 'range scans/s', 'higher'),
        ],
      },
      {
        id: 'W7',
        label: 'W7 reopen',
        workload: 'reopen',
        params: common,
        contenders: KV_CONTENDERS,
        metrics: [
          metric('reopenMs', 'reopen ms', 'lower', 1),
          metric('recoveryMs', 'recovery ms', 'lower', 1),
        ],
      },
    ],
  };
}
