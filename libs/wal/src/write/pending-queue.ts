/** What an append resolves with. */
export interface AppendResult {
  readonly firstSeqno: number;
  readonly lastSeqno: number;
  /** The record's chain value (commits to the log before it). */
  readonly chain: number;
  /** The record's payload checksum. */
  readonly checksum: number;
  /** The framed record as written (do not mutate). */
  readonly bytes: Buffer;
}

/** An admitted append waiting for the group commit that writes it. */
export interface PendingAppend {
  readonly bytes: Buffer;
  readonly result: AppendResult;
  readonly epoch: number;
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * The appends admitted but not yet written, in seqno order, and the backpressure on them: producers
 * that do not await each append wait in {@link whenWritable} while more than `maxPendingBytes` of
 * encoded records wait, which bounds memory. Appends past the bound are still accepted: waiting is
 * the producer's part.
 */
export class PendingQueue {
  /** Oldest first; the writer takes groups from the front. */
  readonly appends: PendingAppend[] = [];
  /** Encoded bytes of {@link appends}. */
  bytes = 0;
  private drainWaiters: (() => void)[] = [];

  constructor(private readonly maxPendingBytes: number) {}

  /** False while more than `maxPendingBytes` wait to be written. */
  get isWritable(): boolean {
    return this.bytes < this.maxPendingBytes;
  }

  push(append: PendingAppend): void {
    this.appends.push(append);
    this.bytes += append.bytes.length;
  }

  /**
   * Resolves when the bytes waiting fall below `maxPendingBytes`, or at once when they already
   * are or when `open` is false (a failed or closing log holds no producer back: its appends are
   * refused).
   */
  whenWritable(open: boolean): Promise<void> {
    if (this.bytes < this.maxPendingBytes || !open) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** `count` bytes were written or refused: releases the waiting producers once below the bound. */
  settled(count: number): void {
    this.bytes -= count;
    if (this.bytes < this.maxPendingBytes) this.releaseWaiters();
  }

  /** Removes every waiting append (they are refused); their bytes leave the count. */
  takeAll(): PendingAppend[] {
    const taken = this.appends.splice(0);
    this.bytes -= taken.reduce((sum, append) => sum + append.bytes.length, 0);
    return taken;
  }

  /** Releases every producer waiting in {@link whenWritable} (a fail-stop, close). */
  releaseWaiters(): void {
    // Runs after every group commit: without waiters, allocate nothing (splice(0) makes an array).
    if (this.drainWaiters.length === 0) return;
    for (const resolve of this.drainWaiters.splice(0)) resolve();
  }
}
