import { fileURLToPath } from 'node:url';
import type { BenchGroup, BenchSuite, MetricSpec } from '../runner/types.js';
import { WAL_CONTENDERS } from './contender.js';

/** Sizes of one run: the full run, or a quick smoke run. */
export interface WalSuiteSizes {
  readonly sequentialOps: number;
  readonly concurrentOps: number;
  readonly maxDurationMs: number;
  readonly bulkBatches: number;
  readonly replayEntries: number;
}

/** Sizes of the committed results. */
export const FULL_SIZES: WalSuiteSizes = {
  sequentialOps: 2_000,
  concurrentOps: 20_000,
  maxDurationMs: 5_000,
  bulkBatches: 1_000,
  replayEntries: 1_000_000,
};

/** Sizes of `--quick`: checks that everything runs, in well under a minute. */
export const QUICK_SIZES: WalSuiteSizes = {
  sequentialOps: 200,
  concurrentOps: 2_000,
  maxDurationMs: 1_000,
  bulkBatches: 50,
  replayEntries: 100_000,
};

const durableMetrics: MetricSpec[] = [
  { key: 'opsPerSec', label: 'appends/s', better: 'higher' },
  { key: 'p50Us', label: 'p50 us', better: 'lower' },
  { key: 'p99Us', label: 'p99 us', better: 'lower' },
  { key: 'ops', label: 'ops', better: 'higher' },
];

/** The write-ahead-log suite: durable appends at 1, 8 and 64 writers, bulk batches, replay. */
export function walSuite(sizes: WalSuiteSizes): BenchSuite {
  const durable = (writers: number): BenchGroup => ({
    id: `durable-appends/writers-${writers}`,
    label: `durable appends, ${writers} writer${writers === 1 ? '' : 's'}`,
    workload: 'durable-appends',
    params: {
      writers,
      ops: writers === 1 ? sizes.sequentialOps : sizes.concurrentOps,
      warmupOps: Math.max(writers * 4, 100),
      maxDurationMs: sizes.maxDurationMs,
    },
    contenders: WAL_CONTENDERS,
    metrics: durableMetrics,
    ...(writers === 8 ? { target: { kind: 'ratio-vs-best-peer', value: 2 } as const } : {}),
    ...(writers === 64 ? { target: { kind: 'at-least', value: 50_000 } as const } : {}),
  });
  return {
    name: 'wal',
    title: 'Write-ahead log: Strata WAL vs RocksDB and LevelDB',
    description:
      'Durable appends: one entry (16-byte key, 100-byte value) per append, each writer awaiting ' +
      "its append before the next; Strata with `sync: 'always'` (group commit), RocksDB and LevelDB " +
      'with `sync: true` writes. Bulk: 1,000-entry batches, Strata `sync: none`, peers `sync: false`, ' +
      'MB/s of user payload (keys + values, 10^6 bytes). Replay: Strata only, a 1M-entry log of ' +
      '1,000-entry batches read back with `read()` (decoded) and `readRecords()` (raw), warm page cache.',
    workerPath: fileURLToPath(new URL('./worker.ts', import.meta.url)),
    subject: 'strata-wal',
    packages: [
      '@strata/wal',
      '@strata/core',
      'protobufjs',
      '@node-rs/crc32',
      '@nxtedition/rocksdb',
      'classic-level',
      'tsx',
    ],
    groups: [
      durable(1),
      durable(8),
      durable(64),
      {
        id: 'bulk-none',
        label: 'bulk, 1,000-entry batches, no sync',
        workload: 'bulk-none',
        params: { batches: sizes.bulkBatches, batchEntries: 1_000, warmupBatches: 5 },
        contenders: WAL_CONTENDERS,
        metrics: [
          { key: 'userMBPerSec', label: 'MB/s', better: 'higher', digits: 1 },
          { key: 'entriesPerSec', label: 'entries/s', better: 'higher' },
        ],
      },
      {
        id: 'replay',
        label: `replay of ${sizes.replayEntries.toLocaleString('en-US')} entries`,
        workload: 'replay',
        params: { entries: sizes.replayEntries, batchEntries: 1_000 },
        contenders: ['strata-wal'],
        metrics: [
          { key: 'entriesPerSec', label: 'entries/s (decoded)', better: 'higher' },
          { key: 'rawEntriesPerSec', label: 'raw entries/s', better: 'higher' },
          { key: 'openMs', label: 'open ms', better: 'lower', digits: 1 },
          { key: 'logMiB', label: 'log MiB', better: 'lower', digits: 1 },
        ],
        target: { kind: 'at-least', value: 1_500_000 },
      },
    ],
  };
}
