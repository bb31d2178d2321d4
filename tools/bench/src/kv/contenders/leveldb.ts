import { ClassicLevel } from 'classic-level';
import type { KvContender, SyncMode } from '../contender.js';
import { levelOperations } from './level-operations.js';

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
    ...levelOperations(db),
    put: (key, value) => db.put(key, value, { sync }),
    get: (key) => db.get(key),
    close: () => db.close(),
  };
}
