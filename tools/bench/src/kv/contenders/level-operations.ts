import type { KvContender } from '../contender.js';

/** The part of an abstract-level database (classic-level, @nxtedition/rocksdb) the bench uses. */
export interface LevelDatabase {
  batch(): {
    put(key: Buffer, value: Buffer): unknown;
    write(options: { sync: boolean }): Promise<void>;
  };
  iterator(options?: { gte?: Buffer; limit?: number }): {
    nextv(size: number): Promise<unknown[]>;
    all(): Promise<unknown[]>;
    close(): Promise<void>;
  };
}

/**
 * Batches, full scans and range scans the same way for every abstract-level database: chained
 * batches without sync, iterators read with `nextv` and `all`.
 */
export function levelOperations(
  db: LevelDatabase,
): Pick<KvContender, 'writeBatch' | 'scanAll' | 'scanFrom' | 'settle'> {
  return {
    async writeBatch(keys, values) {
      const batch = db.batch();
      for (let index = 0; index < keys.length; index++) {
        batch.put(keys[index] as Buffer, values[index] as Buffer);
      }
      await batch.write({ sync: false });
    },
    async scanAll() {
      const iterator = db.iterator();
      let count = 0;
      try {
        for (;;) {
          const entries = await iterator.nextv(1000);
          count += entries.length;
          if (entries.length === 0) return count;
        }
      } finally {
        await iterator.close();
      }
    },
    async scanFrom(start, limit) {
      return (await db.iterator({ gte: start, limit }).all()).length;
    },
    settle: () => Promise.resolve(),
  };
}
