import { RocksLevel } from '@nxtedition/rocksdb';
import type { KvContender, SyncMode } from '../contender.js';
import { levelOperations } from './level-operations.js';

/**
 * RocksDB through @nxtedition/rocksdb with its defaults. Durable single writes go through
 * `batch([put], { sync: true })` because this binding's `put` drops its write options (see
 * tools/bench/README.md); unsynced single writes use `put`. `get` of a missing key rejects with
 * `LEVEL_NOT_FOUND` (abstract-level 1), which counts as "missing".
 */
export async function openRocksDb(directory: string, mode: SyncMode): Promise<KvContender> {
  const db = new RocksLevel(directory, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  return {
    ...levelOperations(db),
    put:
      mode === 'durable'
        ? (key, value) => db.batch([{ type: 'put', key, value }], { sync: true })
        : (key, value) => db.put(key, value),
    get: (key) =>
      db.get(key).catch((error: unknown) => {
        if ((error as { code?: unknown }).code === 'LEVEL_NOT_FOUND') return undefined;
        throw error;
      }),
    close: () => db.close(),
  };
}
