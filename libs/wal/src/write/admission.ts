import { StrataError, invariant } from '@strata/core';
import type { LogTail } from '../format/log-tail.js';
import { INITIAL_CHAIN, nextChain } from '../format/record-format.js';
import { PendingQueue } from './pending-queue.js';
import type { AppendResult } from './pending-queue.js';

/**
 * Where the next append must continue, as far as appends were accepted: the next seqno, the chain
 * and checksum it chains from, the epoch it must not go below. It advances when an append is
 * admitted, before the append is written, so that appends can be accepted while a group commit is
 * in flight; a refused write rewinds it to what was committed. Admitted appends wait in
 * {@link queue} for the group-commit writer.
 */
export class Admission {
  /** The appends admitted but not yet written, and the backpressure on them. */
  readonly queue: PendingQueue;
  private nextSeqnoValue: number;
  private chain: number;
  private checksum: number;
  private epoch: number;
  /** False while the log holds no record: the next record starts the chain. */
  private hasPredecessor: boolean;

  /**
   * @param tail the last record of the log, if it holds one.
   * @param emptyNextSeqno where an empty log continues (its last segment's name, or the log's
   * configured first seqno).
   */
  constructor(tail: LogTail | undefined, emptyNextSeqno: number, maxPendingBytes: number) {
    this.queue = new PendingQueue(maxPendingBytes);
    this.nextSeqnoValue = emptyNextSeqno;
    this.chain = 0;
    this.checksum = 0;
    this.epoch = 0;
    this.hasPredecessor = false;
    this.rewind(tail, emptyNextSeqno);
  }

  /** The seqno the next append must start at. */
  get nextSeqno(): number {
    return this.nextSeqnoValue;
  }

  /** Epoch of the last admitted append. */
  get lastEpoch(): number {
    return this.epoch;
  }

  /** The chain value the next record must carry. */
  get nextChain(): number {
    return this.hasPredecessor ? nextChain(this.chain, this.checksum) : INITIAL_CHAIN;
  }

  /**
   * @throws StrataError `OUT_OF_SEQUENCE` unless the batch starts at {@link nextSeqno},
   * `STALE_EPOCH` when its epoch is below {@link lastEpoch}.
   */
  checkPosition(firstSeqno: number, epoch: number): void {
    if (firstSeqno !== this.nextSeqnoValue) {
      throw new StrataError(
        'OUT_OF_SEQUENCE',
        `batch starts at seqno ${firstSeqno}; the log expects ${this.nextSeqnoValue}`,
        { details: { expectedSeqno: this.nextSeqnoValue, actualSeqno: firstSeqno } },
      );
    }
    if (epoch < this.epoch) {
      throw new StrataError(
        'STALE_EPOCH',
        `batch has epoch ${epoch}, below the log's ${this.epoch}`,
        {
          details: { epoch, currentEpoch: this.epoch },
        },
      );
    }
  }

  /**
   * @throws StrataError `DIVERGED` when the log holds a record and a record produced elsewhere
   * carries a chain other than {@link nextChain} (the two histories differ).
   */
  checkChain(firstSeqno: number, chain: number): void {
    if (this.hasPredecessor && chain !== this.nextChain) {
      throw new StrataError(
        'DIVERGED',
        `record ${firstSeqno} does not chain from this log's history`,
        {
          details: { seqno: firstSeqno, expectedChain: this.nextChain, actualChain: chain },
        },
      );
    }
  }

  /**
   * Accepts a checked record: the log continues after it, and it waits in the queue. The promise
   * settles when its group commit does.
   */
  admit(
    bytes: Buffer,
    firstSeqno: number,
    lastSeqno: number,
    epoch: number,
    chain: number,
    checksum: number,
  ): Promise<AppendResult> {
    invariant(lastSeqno >= firstSeqno, 'record with no entries');
    this.nextSeqnoValue = lastSeqno + 1;
    this.chain = chain;
    this.checksum = checksum;
    this.epoch = epoch;
    this.hasPredecessor = true;
    const result: AppendResult = { firstSeqno, lastSeqno, chain, checksum, bytes };
    return new Promise<AppendResult>((resolve, reject) => {
      this.queue.push({ bytes, result, epoch, resolve, reject });
    });
  }

  /**
   * Continues from `tail`, the last record written (or from `emptyNextSeqno` when the log holds
   * none): every admitted append after it was refused, and its seqnos are handed out again.
   */
  rewind(tail: LogTail | undefined, emptyNextSeqno: number): void {
    this.nextSeqnoValue = tail ? tail.lastSeqno + 1 : emptyNextSeqno;
    this.chain = tail?.chain ?? 0;
    this.checksum = tail?.checksum ?? 0;
    this.epoch = tail?.epoch ?? 0;
    this.hasPredecessor = tail !== undefined;
  }
}
