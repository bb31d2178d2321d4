import path from 'node:path';
import Database from 'better-sqlite3';
import type { KvContender, SyncMode } from '../contender.js';

/**
 * SQLite through better-sqlite3 in WAL mode: a `kv(key BLOB PRIMARY KEY, value BLOB) WITHOUT
 * ROWID` table, prepared statements, one transaction per batch. Unsynced workloads run with
 * `synchronous = NORMAL` (in WAL mode: no fsync per commit, only at checkpoints); durable writes
 * with `synchronous = FULL` (fsync of the WAL at each commit). The API is synchronous.
 */
export function openSqlite(directory: string, mode: SyncMode): Promise<KvContender> {
  const db = new Database(path.join(directory, 'kv.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${mode === 'durable' ? 'FULL' : 'NORMAL'}`);
  db.exec('CREATE TABLE IF NOT EXISTS kv (key BLOB PRIMARY KEY, value BLOB) WITHOUT ROWID');
  const insert = db.prepare('INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)');
  const select = db.prepare('SELECT value FROM kv WHERE key = ?').raw(true);
  const scan = db.prepare('SELECT key, value FROM kv ORDER BY key').raw(true);
  const scanFrom = db.prepare('SELECT key, value FROM kv WHERE key >= ? ORDER BY key LIMIT ?');
  scanFrom.raw(true);
  const insertMany = db.transaction((keys: readonly Buffer[], values: readonly Buffer[]) => {
    for (let index = 0; index < keys.length; index++) insert.run(keys[index], values[index]);
  });
  return Promise.resolve({
    writeBatch(keys, values) {
      insertMany(keys, values);
      return Promise.resolve();
    },
    put(key, value) {
      insert.run(key, value);
      return Promise.resolve();
    },
    get(key) {
      const row = select.get(key) as [Buffer] | undefined;
      return row?.[0];
    },
    scanAll() {
      let count = 0;
      for (const row of scan.iterate()) if (row !== undefined) count++;
      return Promise.resolve(count);
    },
    scanFrom(start, limit) {
      return Promise.resolve(scanFrom.all(start, limit).length);
    },
    settle: () => Promise.resolve(),
    close() {
      db.close();
      return Promise.resolve();
    },
  });
}
