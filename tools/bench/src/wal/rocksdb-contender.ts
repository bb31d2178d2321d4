import { RocksLevel } from '@nxtedition/rocksdb';
import type { WalContender } from './contender.js';

/**
 * RocksDB through @nxtedition/rocksdb with its defaults. Durable puts go through
 * `batch([put], { sync: true })`: in 12.2.12 `put(key, value, { sync: true })` drops the write
 * options (`_put` calls `batch.write(callback)` without them), so it would not fsync. Writes run
 * synchronously on the main thread in this binding, so concurrent writers do not overlap.
 */
export async function openRocksContender(directory: string): Promise<WalContender> {
  const db = new RocksLevel(directory, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  return {
    putDurable: (key, value) => db.batch([{ type: 'put', key, value }], { sync: true }),
    // A chained batch: the fastest batch API of abstract-level stores (no per-operation objects).
    writeBatch: (keys, values) => {
      const batch = db.batch();
      for (let index = 0; index < keys.length; index++)
        batch.put(keys[index] as Buffer, values[index] as Buffer);
      return batch.write({ sync: false });
    },
    close: () => db.close(),
  };
}
