import { ClassicLevel } from 'classic-level';
import type { KvContender, SyncMode } from '../contender.js';

/**
 * LevelDB through classic-level with its defaults: chained batches for batches, `put` with
 * `sync: true` for durable writes (`sync: false` otherwise), async `get`, iterators read with
 * `nextv`.
 */
export async function openLevelDb(directory: string, mode: SyncMode): Promise<KvContender> {
  const db = new ClassicLevel<Buffer, Buffer>(directory, {
    keyEncoding: 'buffer',
    valueEncoding: 'buffer',
  });
  await db.open();
  const sync = mode === 'durable';
  return {
    async writeBatch(keys, values) {
      const batch = db.batch();
      for (let index = 0; index < keys.length; index++) {
        batch.put(keys[index] as Buffer, values[index] as Buffer);
      }
      await batch.write({ sync: false });
    },
    put: (key, value) => db.put(key, value, { sync }),
    get: (key) => db.get(key),
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
    close: () => db.close(),
  };
}
