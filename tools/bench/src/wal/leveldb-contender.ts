import { ClassicLevel } from 'classic-level';
import type { WalContender } from './contender.js';

/**
 * LevelDB through classic-level with its defaults; durable puts use `{ sync: true }` (LevelDB
 * fsyncs its log on each such write, on the libuv thread pool).
 */
export async function openLevelContender(directory: string): Promise<WalContender> {
  const db = new ClassicLevel<Buffer, Buffer>(directory, {
    keyEncoding: 'buffer',
    valueEncoding: 'buffer',
  });
  await db.open();
  return {
    putDurable: (key, value) => db.put(key, value, { sync: true }),
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
