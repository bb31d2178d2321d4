import { StrataError, invariant } from '@strata/core';
import type Database from 'better-sqlite3';

/** One step of the metadata schema: applied to a database at version `i`, it leaves version `i + 1`. */
export interface MetaMigration {
  /** What the step changes, for logs and reviewers. */
  readonly description: string;
  /** The statements of the step; they run inside the step's transaction. */
  readonly sql: string;
}

/**
 * The schema of `meta.sqlite`, oldest first: `META_MIGRATIONS[i]` brings `PRAGMA user_version`
 * from `i` to `i + 1`. Append only: a published step is never edited, a change is a new step.
 */
export const META_MIGRATIONS: readonly MetaMigration[] = [
  {
    description: 'node identity, term, peers, stream positions, checkpoints',
    sql: `
      CREATE TABLE node (
        singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
        node_id TEXT NOT NULL CHECK (node_id <> ''),
        cluster TEXT NOT NULL CHECK (cluster <> ''),
        created_at_ms INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE term (
        singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
        epoch INTEGER NOT NULL CHECK (epoch >= 0),
        leader_id TEXT,
        leader_url TEXT,
        updated_at_ms INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE peers (
        node_id TEXT PRIMARY KEY CHECK (node_id <> ''),
        url TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('leader', 'follower', 'candidate', 'unknown')),
        epoch INTEGER NOT NULL CHECK (epoch >= 0),
        applied_seqno INTEGER NOT NULL CHECK (applied_seqno >= 0),
        durable_seqno INTEGER NOT NULL CHECK (durable_seqno >= 0),
        last_contact_ms INTEGER NOT NULL
      ) STRICT, WITHOUT ROWID;

      -- stream_sequence is the rowid, so pruning the oldest rows walks the table's own b-tree.
      CREATE TABLE stream_positions (
        stream_sequence INTEGER PRIMARY KEY CHECK (stream_sequence > 0),
        first_seqno INTEGER NOT NULL CHECK (first_seqno >= 0),
        last_seqno INTEGER NOT NULL CHECK (last_seqno >= first_seqno)
      ) STRICT;
      -- The index also carries the rowid: ORDER BY first_seqno DESC, stream_sequence DESC is a
      -- single index seek.
      CREATE INDEX stream_positions_by_first_seqno ON stream_positions (first_seqno);

      CREATE TABLE checkpoints (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL CHECK (kind IN ('taken', 'installed')),
        seqno INTEGER NOT NULL CHECK (seqno >= 0),
        location TEXT NOT NULL CHECK (location <> ''),
        size_bytes INTEGER NOT NULL CHECK (size_bytes >= 0),
        created_at_ms INTEGER NOT NULL
      ) STRICT;
    `,
  },
];

/** The schema version this code reads and writes: the number of migration steps. */
export const META_SCHEMA_VERSION = META_MIGRATIONS.length;

/** `PRAGMA user_version` of `db`: 0 for a new file. */
export function readSchemaVersion(db: Database.Database): number {
  const version = db.pragma('user_version', { simple: true });
  invariant(
    typeof version === 'number' && Number.isSafeInteger(version),
    'user_version is an integer',
  );
  return version;
}

/**
 * Refuses a file written by a newer Strata before anything in it is touched: its schema may mean
 * something this code cannot read, and migrating "down" would lose data.
 */
export function checkSchemaVersionKnown(version: number, file: string): void {
  if (version > META_SCHEMA_VERSION) {
    throw new StrataError(
      'UNSUPPORTED_FORMAT',
      `${file} has metadata schema version ${version}; this Strata knows versions up to ${META_SCHEMA_VERSION}`,
      { details: { file, version, supportedVersion: META_SCHEMA_VERSION } },
    );
  }
}

/**
 * Brings `db` to {@link META_SCHEMA_VERSION}, one step per transaction, and returns the version
 * found before. Each step takes the write lock first (BEGIN IMMEDIATE) and re-reads the version
 * under it, so two processes migrating the same file at once apply every step exactly once, and a
 * crash leaves the file at a whole version.
 */
export function migrateMetaSchema(db: Database.Database, file: string): number {
  const initialVersion = readSchemaVersion(db);
  checkSchemaVersionKnown(initialVersion, file);
  const step = db.transaction((): boolean => {
    const version = readSchemaVersion(db);
    checkSchemaVersionKnown(version, file);
    if (version === META_SCHEMA_VERSION) return false;
    const migration = META_MIGRATIONS[version];
    invariant(migration !== undefined, `a migration exists from schema version ${version}`);
    db.exec(migration.sql);
    // user_version lives in the file header, which is written in the same transaction.
    db.pragma(`user_version = ${version + 1}`);
    return true;
  });
  while (step.immediate()) {
    // One step per iteration: each leaves the file at a whole version.
  }
  invariant(readSchemaVersion(db) === META_SCHEMA_VERSION, 'migrations reach the current version');
  return initialVersion;
}
