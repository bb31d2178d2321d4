// What the key-value benchmark calls on @nxtedition/rocksdb beyond src/wal/rocksdb.d.ts (the
// declarations merge with that file's).
declare module '@nxtedition/rocksdb' {
  /** An abstract-level 1 iterator. */
  export interface RocksIterator {
    nextv(size: number): Promise<[Buffer, Buffer][]>;
    all(): Promise<[Buffer, Buffer][]>;
    close(): Promise<void>;
  }

  interface RocksLevel {
    get(key: Buffer): Promise<Buffer>;
    iterator(options?: { gte?: Buffer; limit?: number }): RocksIterator;
  }
}
