import { isStrataError } from '@strata/core';
import type { Store } from '@strata/store';
import { headers } from 'nats';
import type { JetStreamClient, PubAck } from 'nats';
import { abortableDelay, errorMessage } from '../timing.js';
import type { ReplicationLogger } from '../logger.js';
import { LOG_HEADERS, logMessageId } from '../names.js';
import type { ClusterNames } from '../names.js';
import type { StreamIndex } from '../stream-index.js';
import { apiErrorCode } from '../stream-index.js';
import { RETRY_DELAY_MS } from '../settings.js';

/** Settings of a {@link LogPublisher}. */
export interface LogPublisherOptions {
  readonly names: ClusterNames;
  /** The leader's term; records of a higher epoch in the stream mean it was deposed. */
  readonly epoch: number;
  /** Records are packed into messages up to this size. */
  readonly maxMessageBytes: number;
  /** Messages published and not yet acknowledged by JetStream, at most. */
  readonly maxInFlightMessages: number;
  readonly publishTimeoutMs: number;
  readonly logger: ReplicationLogger;
  /**
   * Called once when the stream shows another leader; the publisher has stopped.
   * `divergedAtSeqno` is set when the stream holds a different record at that seqno: this
   * leader's log from there on never reached the stream (another leader's record did) and must
   * be cut back before this node can follow.
   */
  readonly onFenced: (reason: string, divergedAtSeqno: number | undefined) => void;
}

const WRONG_LAST_SEQUENCE = 10071;

/** A publisher's position and counters. */
export interface PublisherStats {
  /** Last seqno JetStream acknowledged. */
  readonly publishedSeqno: number;
  readonly messages: number;
  readonly records: number;
  readonly bytes: number;
  /** Times the publisher re-read the stream's tail after an error or a reconnect. */
  readonly resyncs: number;
}

class Fenced extends Error {
  constructor(
    message: string,
    readonly divergedAtSeqno?: number,
  ) {
    super(message);
  }
}

/**
 * The leader's side of replication: streams the store's change feed into the log stream.
 * Consecutive records are packed into messages of up to `maxMessageBytes`; up to
 * `maxInFlightMessages` publishes are in flight, each with `Nats-Msg-Id: <epoch>:<first_seqno>`
 * and the expected last stream sequence, so a publish by another leader in between fails the
 * expectation and fences this one. After any error it re-reads the stream's tail and continues
 * from the seqno after it: no gap, no duplicate.
 */
export class LogPublisher {
  private readonly index: StreamIndex;
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private published = 0;
  private messageCount = 0;
  private recordCount = 0;
  private byteCount = 0;
  private resyncCount = 0;
  private readonly publishedWaiters = new Set<{ seqno: number; resolve: () => void }>();

  constructor(
    private readonly store: Store,
    private readonly js: JetStreamClient,
    index: StreamIndex,
    private readonly options: LogPublisherOptions,
  ) {
    this.index = index;
  }

  /** Starts publishing in the background. */
  start(): void {
    this.running ??= this.run();
  }

  /** Counters for status and metrics. */
  stats(): PublisherStats {
    return {
      publishedSeqno: this.published,
      messages: this.messageCount,
      records: this.recordCount,
      bytes: this.byteCount,
      resyncs: this.resyncCount,
    };
  }

  /** Resolves once JetStream acknowledged every record up to `seqno` (or the publisher stops). */
  async waitForPublished(seqno: number): Promise<void> {
    if (this.published >= seqno || this.abort.signal.aborted) return;
    await new Promise<void>((resolve) => this.publishedWaiters.add({ seqno, resolve }));
  }

  /** Stops publishing; in-flight publishes settle first. */
  async stop(): Promise<void> {
    this.abort.abort();
    for (const waiter of this.publishedWaiters) waiter.resolve();
    this.publishedWaiters.clear();
    await this.running;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      try {
        const from = await this.resync();
        await this.pump(from);
      } catch (error) {
        if (error instanceof Fenced) {
          this.abort.abort();
          this.options.logger.warn({ reason: error.message }, 'publisher fenced: stepping down');
          this.options.onFenced(error.message, error.divergedAtSeqno);
          break;
        }
        if (signal.aborted) break;
        this.resyncCount++;
        this.options.logger.warn(
          { err: errorMessage(error) },
          'publish failed; re-reading the stream tail',
        );
        await abortableDelay(RETRY_DELAY_MS, signal);
      }
    }
    for (const waiter of this.publishedWaiters) waiter.resolve();
    this.publishedWaiters.clear();
  }

  /** Reads the stream's tail, checks it is this log's history, returns the next seqno to send. */
  private async resync(): Promise<{ seqno: number; streamSequence: number }> {
    const tail = await this.index.tail();
    if (tail.last === undefined) {
      // A new stream (or every message aged out): continue from what the store holds now;
      // followers behind it bootstrap from a checkpoint.
      const seqno = this.published > 0 ? this.published + 1 : this.store.firstRetainedSeqno;
      return { seqno, streamSequence: tail.lastStreamSequence };
    }
    const last = tail.last;
    if (last.epoch > this.options.epoch)
      throw new Fenced(
        `the stream holds epoch ${last.epoch}, above this leader's ${this.options.epoch}`,
      );
    if (last.lastSeqno > this.store.lastSeqno)
      throw new Fenced(
        `the stream holds seqno ${last.lastSeqno}, beyond this leader's log (${this.store.lastSeqno})`,
      );
    const mine = await this.store.readRecord(last.lastSeqno);
    if (mine !== undefined && !mine.equals(last.lastRecord))
      throw new Fenced(
        `the stream's record at seqno ${last.lastSeqno} differs from this leader's`,
        last.lastSeqno,
      );
    this.setPublished(last.lastSeqno);
    return { seqno: last.lastSeqno + 1, streamSequence: tail.lastStreamSequence };
  }

  private async pump(from: { seqno: number; streamSequence: number }): Promise<void> {
    const signal = this.abort.signal;
    const { maxMessageBytes, maxInFlightMessages, names } = this.options;
    let expectedStreamSequence = from.streamSequence;
    let packedSeqno = from.seqno - 1;
    const inFlight: {
      ack: Promise<PubAck>;
      lastSeqno: number;
      sequence: number;
      records: number;
      bytes: number;
    }[] = [];
    const settleOldest = async (): Promise<void> => {
      const oldest = inFlight.shift();
      if (!oldest) return;
      const ack = await oldest.ack;
      if (ack.duplicate || ack.seq !== oldest.sequence) {
        throw new Error(
          `stream acknowledged sequence ${ack.seq} (duplicate: ${ack.duplicate}), expected ${oldest.sequence}`,
        );
      }
      if (oldest.records > 0) this.messageCount++;
      this.recordCount += oldest.records;
      this.byteCount += oldest.bytes;
      this.setPublished(oldest.lastSeqno);
    };
    const feed = this.store.subscribe({ from: from.seqno, signal });
    let carried:
      { record: Buffer; epoch: number; firstSeqno: number; lastSeqno: number } | undefined;
    try {
      while (!signal.aborted) {
        const parts: Buffer[] = [];
        let sizeBytes = 0;
        let firstSeqno = 0;
        let lastSeqno = 0;
        let epoch = 0;
        const add = (batch: {
          record: Buffer;
          epoch: number;
          firstSeqno: number;
          lastSeqno: number;
        }): void => {
          if (parts.length === 0) {
            firstSeqno = batch.firstSeqno;
            epoch = batch.epoch;
          }
          parts.push(batch.record);
          sizeBytes += batch.record.length;
          lastSeqno = batch.lastSeqno;
        };
        if (carried) {
          add(carried);
          carried = undefined;
        } else {
          // Waits for the next committed batch; while acks are due, settle them instead of idling.
          // When nothing new is committed, settle the acks in flight first, so the published
          // position keeps up when writes pause (writes arriving meanwhile pack into one message).
          while (inFlight.length > 0 && this.store.lastSeqno <= packedSeqno) await settleOldest();
          const next = await feed.next();
          if (next.done) break;
          add(next.value);
        }
        // Pack what is already committed, without waiting for more.
        while (this.store.lastSeqno > lastSeqno) {
          const result = await feed.next();
          if (result.done) break;
          const batch = result.value;
          if (sizeBytes + batch.record.length > maxMessageBytes) {
            carried = batch;
            break;
          }
          add(batch);
        }
        packedSeqno = lastSeqno;
        const data = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, sizeBytes);
        // A record larger than a message travels as consecutive parts.
        const partCount = Math.ceil(data.length / maxMessageBytes);
        for (let part = 1; part <= partCount; part++) {
          const final = part === partCount;
          const messageHeaders = headers();
          messageHeaders.set(LOG_HEADERS.lastSeqno, String(lastSeqno));
          if (partCount > 1) messageHeaders.set(LOG_HEADERS.part, `${part}/${partCount}`);
          const sequence = expectedStreamSequence + 1;
          const ack = this.js.publish(
            names.logSubject,
            partCount === 1
              ? data
              : data.subarray((part - 1) * maxMessageBytes, part * maxMessageBytes),
            {
              msgID:
                partCount === 1
                  ? logMessageId(epoch, firstSeqno)
                  : `${logMessageId(epoch, firstSeqno)}:${part}`,
              expect: { lastSequence: expectedStreamSequence, streamName: names.stream },
              headers: messageHeaders,
              timeout: this.options.publishTimeoutMs,
            },
          );
          // The rejection is handled when the ack is settled, in order.
          ack.catch(() => undefined);
          inFlight.push({
            ack,
            // Only the final part makes the records published.
            lastSeqno: final ? lastSeqno : firstSeqno - 1,
            sequence,
            records: final ? parts.length : 0,
            bytes: final ? sizeBytes : 0,
          });
          expectedStreamSequence = sequence;
          while (inFlight.length >= maxInFlightMessages) await settleOldest();
        }
      }
      while (inFlight.length > 0) await settleOldest();
    } catch (error) {
      await Promise.allSettled(inFlight.map((entry) => entry.ack));
      if (apiErrorCode(error) === WRONG_LAST_SEQUENCE) {
        // Either another leader published (fenced) or one of ours failed: resync decides.
        throw new Error('the stream moved under this publisher', { cause: error });
      }
      if (isStrataError(error, 'CLOSED')) throw new Fenced('the store closed');
      throw error;
    } finally {
      await feed.return(undefined);
    }
  }

  private setPublished(seqno: number): void {
    if (seqno <= this.published) return;
    this.published = seqno;
    for (const waiter of this.publishedWaiters) {
      if (waiter.seqno <= seqno) {
        this.publishedWaiters.delete(waiter);
        waiter.resolve();
      }
    }
  }
}
