import type Database from 'better-sqlite3';

/** `fn` as a better-sqlite3 transaction that takes the write lock at BEGIN. */
export function transactionImmediate<A extends unknown[], R>(
  db: Database.Database,
  fn: (...args: A) => R,
): (...args: A) => R {
  const transaction = db.transaction(fn);
  // Taking the lock up front: a read-then-write deferred transaction could fail with
  // SQLITE_BUSY_SNAPSHOT instead of waiting out the busy timeout.
  return (...args: A) => transaction.immediate(...args);
}

/**
 * Runs `write` with `synchronous=NORMAL`, then restores FULL. The setting is per connection and
 * applies per transaction, so writes around it keep their fsync, and their fsync of the WAL
 * makes the relaxed writes before them durable too.
 */
export function withRelaxedDurability<T>(db: Database.Database, write: () => T): T {
  db.exec('PRAGMA synchronous = NORMAL');
  try {
    return write();
  } finally {
    db.exec('PRAGMA synchronous = FULL');
  }
}

/** Closes `db`, ignoring a failure (the error that led here is the one worth reporting). */
export function closeQuietly(db: Database.Database): void {
  try {
    db.close();
  } catch {
    // The error that led here is the one worth reporting.
  }
}
