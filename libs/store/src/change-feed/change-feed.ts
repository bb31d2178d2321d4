import { StrataError, isStrataError } from '@strata/core';
import { decodeRecord } from '@strata/wal';
import type { LogBatch, Wal } from '@strata/wal';
import type { CommitNotifier } from '../commit-notifier.js';
import type { Lifecycle } from '@strata/core';
import type { RecentRecords } from './recent-records.js';

/** A committed batch as the change feed yields it: decoded, plus the record bytes as stored. */
export interface ChangeBatch extends LogBatch {
  /** The framed log record, byte for byte (what replication ships). */
  readonly record: Buffer;
}

/** Options of {@link Store.subscribe}. */
export interface SubscribeOptions {
  /** First seqno to deliver (a batch holding it is delivered whole). Default: the next write. */
  readonly from?: number;
  /** Ends the subscription when aborted. */
  readonly signal?: AbortSignal;
}

/**
 * The committed batches as a feed: from the recent records in memory when they still hold the
 * next seqno, else from the log, then live as batches are applied. Also answers for single
 * records (replication compares histories with them).
 */
export class ChangeFeed {
  private subscriberCount = 0;
  /** Aborted when the store closes: ends every subscription waiting at the head. */
  private readonly closeController = new AbortController();

  constructor(
    private readonly wal: Wal,
    private readonly notifier: CommitNotifier,
    private readonly recent: RecentRecords,
    private readonly lifecycle: Lifecycle,
  ) {}

  /** Subscriptions open now. */
  get subscribers(): number {
    return this.subscriberCount;
  }

  /** See {@link Store.subscribe}. */
  async *subscribe(options: SubscribeOptions = {}): AsyncGenerator<ChangeBatch, void, undefined> {
    this.lifecycle.checkReadable();
    let next = options.from ?? this.notifier.applied + 1;
    if (!Number.isSafeInteger(next) || next < 1)
      throw new StrataError('INVALID_ARGUMENT', `from must be a positive integer, got ${next}`);
    if (next < this.wal.firstSeqno) {
      throw new StrataError(
        'HISTORY_TRUNCATED',
        `seqno ${next} is below the retained history, which starts at ${this.wal.firstSeqno}`,
        {
          details: { requestedSeqno: next, firstSeqno: this.wal.firstSeqno },
        },
      );
    }
    const signal = options.signal;
    this.subscriberCount++;
    try {
      while (!signal?.aborted) {
        const applied = this.notifier.applied;
        if (next > applied) {
          if (this.lifecycle.closing) return;
          const woke = await this.waitForNext(next, signal);
          if (!woke) return;
          continue;
        }
        const recent = this.recent.find(next);
        if (recent) {
          yield { ...decodeRecord(recent.bytes), record: recent.bytes };
          next = recent.lastSeqno + 1;
          continue;
        }
        for await (const record of this.wal.readRecords({ fromSeqno: next, toSeqno: applied })) {
          if (record.lastSeqno < next) continue;
          // Copy: a view would keep the reader's whole read chunk alive for as long as the
          // subscriber holds the batch.
          const bytes = Buffer.from(record.bytes);
          yield { ...decodeRecord(bytes), record: bytes };
          next = record.lastSeqno + 1;
          if (signal?.aborted) return;
        }
      }
    } finally {
      this.subscriberCount--;
    }
  }

  /** See {@link Store.readRecord}. */
  async readRecord(seqno: number): Promise<Buffer | undefined> {
    this.lifecycle.checkReadable();
    if (seqno < this.wal.firstSeqno || seqno > this.notifier.applied) return undefined;
    const recent = this.recent.find(seqno);
    if (recent && recent.firstSeqno <= seqno) return Buffer.from(recent.bytes);
    for await (const record of this.wal.readRecords({ fromSeqno: seqno, toSeqno: seqno })) {
      if (record.firstSeqno <= seqno && record.lastSeqno >= seqno) return Buffer.from(record.bytes);
    }
    return undefined;
  }

  /** Ends the subscriptions waiting at the head (the store is closing). */
  close(): void {
    this.closeController.abort();
  }

  /** Waits until `seqno` is applied; false when the subscriber's signal aborts or the store closes. */
  private async waitForNext(seqno: number, signal: AbortSignal | undefined): Promise<boolean> {
    try {
      return await this.notifier.waitFor(seqno, undefined, signal, this.closeController.signal);
    } catch (error) {
      if (isStrataError(error, 'CLOSED')) return false;
      throw error;
    }
  }
}
