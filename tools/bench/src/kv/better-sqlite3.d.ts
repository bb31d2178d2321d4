// better-sqlite3 ships no type declarations (and @types/better-sqlite3 is not installed); these
// cover what the key-value benchmark calls.
declare module 'better-sqlite3' {
  /** A prepared statement. */
  export interface Statement {
    run(...parameters: unknown[]): { changes: number };
    get(...parameters: unknown[]): unknown;
    all(...parameters: unknown[]): unknown[];
    iterate(...parameters: unknown[]): IterableIterator<unknown>;
    raw(toggle?: boolean): Statement;
  }

  /** A database connection (synchronous API). */
  class Database {
    constructor(filename: string);
    pragma(source: string, options?: { simple?: boolean }): unknown;
    exec(source: string): Database;
    prepare(source: string): Statement;
    transaction<A extends unknown[]>(body: (...args: A) => void): (...args: A) => void;
    close(): Database;
  }

  export default Database;
}
