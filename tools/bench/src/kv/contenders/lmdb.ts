import path from 'node:path';
import { open } from 'lmdb';
import type { KvContender, SyncMode } from '../contender.js';

/**
 * LMDB through lmdb-js with its defaults (overlapping sync), raw binary keys and values. Writes
 * use the asynchronous `put`, which queues into a transaction committed off the main thread: a
 * batch is its puts issued in one turn, resolved when the last commits. Its promise resolves at
 * commit; a durable write also awaits `db.flushed` (the commit synced to disk). `get` and
 * `getRange` are synchronous.
 */
export function openLmdb(directory: string, mode: SyncMode): Promise<KvContender> {
  const db = open<Buffer, Buffer>({
    path: path.join(directory, 'data.mdb'),
    keyEncoding: 'binary',
    encoding: 'binary',
  });
  const durable = mode === 'durable';
  return Promise.resolve({
    async writeBatch(keys, values) {
      let last: Promise<boolean> | undefined;
      for (let index = 0; index < keys.length; index++) {
        last = db.put(keys[index] as Buffer, values[index] as Buffer);
      }
      await last;
    },
    async put(key, value) {
      await db.put(key, value);
      if (durable) await db.flushed;
    },
    get: (key) => db.get(key),
    scanAll() {
      let count = 0;
      for (const { value } of db.getRange()) if (value.length >= 0) count++;
      return Promise.resolve(count);
    },
    scanFrom(start, limit) {
      let count = 0;
      for (const { value } of db.getRange({ start, limit })) if (value.length >= 0) count++;
      return Promise.resolve(count);
    },
    settle: () => Promise.resolve(),
    close: () => db.close(),
  });
}
