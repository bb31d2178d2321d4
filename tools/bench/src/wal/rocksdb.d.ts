// @nxtedition/rocksdb ships no type declarations; these cover what the benchmark calls.
declare module '@nxtedition/rocksdb' {
  /** One operation of {@link RocksLevel.batch}. */
  export interface RocksBatchOperation {
    readonly type: 'put' | 'del';
    readonly key: Buffer;
    readonly value?: Buffer;
  }

  /** A batch built operation by operation (`db.batch()` without arguments). */
  export interface RocksChainedBatch {
    put(key: Buffer, value: Buffer): RocksChainedBatch;
    write(options?: { sync?: boolean }): Promise<void>;
  }

  /** The abstract-level database backed by RocksDB. */
  export class RocksLevel {
    constructor(location: string, options?: { keyEncoding?: 'buffer'; valueEncoding?: 'buffer' });
    open(): Promise<void>;
    batch(operations: readonly RocksBatchOperation[], options?: { sync?: boolean }): Promise<void>;
    batch(): RocksChainedBatch;
    put(key: Buffer, value: Buffer, options?: { sync?: boolean }): Promise<void>;
    close(): Promise<void>;
  }
}
