/** How a contender is opened: durable single writes, or unsynced bulk batches. */
export type WriteMode = 'durable' | 'bulk';

/** The operations the log workloads need from each store. */
export interface WalContender {
  /**
   * Writes one key/value; resolves once it is on stable storage (fsync/fdatasync). Callers await
   * the returned promise itself (see strata-contender.ts for why the wrapping depth matters).
   */
  putDurable(key: Buffer, value: Buffer): Promise<unknown>;
  /** Writes the pairs as one batch without waiting for stable storage. */
  writeBatch(keys: readonly Buffer[], values: readonly Buffer[]): Promise<unknown>;
  close(): Promise<void>;
}

/** Names of the contenders of the log benchmark. */
export const WAL_CONTENDERS = ['strata-wal', 'rocksdb', 'leveldb'] as const;

/** One of {@link WAL_CONTENDERS}. */
export type WalContenderName = (typeof WAL_CONTENDERS)[number];

/**
 * Opens a contender in `directory`. Each is loaded on demand, so a worker process only loads the
 * store it measures.
 */
export async function openContender(
  name: string,
  directory: string,
  mode: WriteMode,
): Promise<WalContender> {
  switch (name) {
    case 'strata-wal':
      return (await import('./strata-contender.js')).openStrataContender(directory, mode);
    case 'rocksdb':
      return (await import('./rocksdb-contender.js')).openRocksContender(directory);
    case 'leveldb':
      return (await import('./leveldb-contender.js')).openLevelContender(directory);
    default:
      throw new Error(`unknown contender ${name}`);
  }
}
