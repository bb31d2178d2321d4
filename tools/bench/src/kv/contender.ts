/** How a contender is opened: writes without fsync, or durable writes (W4). */
export type SyncMode = 'none' | 'durable';

/** A get's result: synchronous stores return the value, asynchronous ones a promise. */
export type GetResult = Buffer | Uint8Array | undefined | Promise<Buffer | Uint8Array | undefined>;

/** The operations the key-value workloads need from each store, in each store's natural API. */
export interface KvContender {
  /** Writes the pairs as one batch; resolves once the store accepted it (no fsync). */
  writeBatch(keys: readonly Buffer[], values: readonly Buffer[]): Promise<void>;
  /** Writes one pair; resolves once accepted (durable when opened with `durable`). */
  put(key: Buffer, value: Buffer): Promise<void>;
  /** The value of `key`, or undefined (not awaited when the store answers synchronously). */
  get(key: Buffer): GetResult;
  /** Reads every pair in key order; returns how many. */
  scanAll(): Promise<number>;
  /** Reads up to `limit` pairs from `start` on; returns how many. */
  scanFrom(start: Buffer, limit: number): Promise<number>;
  /**
   * Brings written data into the store's durable-format files the way the store does it on its
   * own schedule: Strata flushes memtables to segments and waits for compaction; the peers do
   * nothing (their background work goes on by itself).
   */
  settle(): Promise<void>;
  /** Metrics specific to the store (for example bytes of log vs segments), sampled now. */
  extraMetrics?(): Record<string, number>;
  close(): Promise<void>;
}

/** Names of every contender; `strata-store` is the subject. */
export const KV_CONTENDERS = [
  'strata-store',
  'strata-engine',
  'leveldb',
  'rocksdb',
  'lmdb',
  'sqlite',
] as const;

/** The real peers (Strata's engine is measured beside the store, not as a peer). */
export const KV_PEERS = ['leveldb', 'rocksdb', 'lmdb', 'sqlite'] as const;

/** Contenders with a log, which can make single writes durable (the engine alone has none). */
export const DURABLE_CONTENDERS = KV_CONTENDERS.filter((name) => name !== 'strata-engine');

/**
 * Opens a contender in `directory` (created if missing, reopened if it holds data). Each store is
 * loaded on demand, so a worker process only loads the store it measures.
 */
export async function openContender(
  name: string,
  directory: string,
  mode: SyncMode,
): Promise<KvContender> {
  switch (name) {
    case 'strata-store':
      return (await import('./contenders/strata-store.js')).openStrataStore(directory, mode);
    case 'strata-engine':
      if (mode === 'durable') throw new Error('strata-engine has no log: no durable writes');
      return (await import('./contenders/strata-engine.js')).openStrataEngine(directory);
    case 'leveldb':
      return (await import('./contenders/leveldb.js')).openLevelDb(directory, mode);
    case 'rocksdb':
      return (await import('./contenders/rocksdb.js')).openRocksDb(directory, mode);
    case 'lmdb':
      return (await import('./contenders/lmdb.js')).openLmdb(directory, mode);
    case 'sqlite':
      return (await import('./contenders/sqlite.js')).openSqlite(directory, mode);
    default:
      throw new Error(`unknown contender ${name}`);
  }
}
