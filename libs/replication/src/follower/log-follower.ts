import type { StrataError } from '@strata/core';
import { isStrataError } from '@strata/core';
import type { Store } from '@strata/store';
import { decodeRecord, newRecordHeader, readRecordHeader } from '@strata/wal';
import { DeliverPolicy } from 'nats';
import type { ConsumerMessages, JetStreamClient } from 'nats';
import { abortableDelay, errorMessage } from '../timing.js';
import type { ReplicationLogger } from '../logger.js';
import { LOG_HEADERS, parsePartHeader } from '../names.js';
import type { ClusterNames } from '../names.js';
import type { StreamIndex } from '../stream-index.js';
import { splitLogMessage } from '../wire/log-message.js';
import {
  FOLLOWER_CONSUMER_CHECK_MS,
  FOLLOWER_CONSUMER_START_TIMEOUT_MS,
  FOLLOWER_PULL_EXPIRES_MS,
  RETRY_DELAY_MS,
} from '../settings.js';
import { ConsumerWatchdog, startWithin, stopForGood } from './consumer-health.js';

/** Why a follower stopped applying and needs its node to act. */
export type FollowerStop =
  /** The stream holds a record that conflicts with this node's log at `seqno`. */
  | { readonly kind: 'diverged'; readonly seqno: number; readonly reason: string }
  /** The stream no longer holds the records this node needs: bootstrap from a checkpoint. */
  | { readonly kind: 'behind-stream'; readonly firstSeqno: number }
  /** The store failed (fail-stop). */
  | { readonly kind: 'store-failed'; readonly error: StrataError };

/** Settings of a {@link LogFollower}. */
export interface LogFollowerOptions {
  readonly names: ClusterNames;
  /** Messages larger than this are refused. */
  readonly maxMessageBytes: number;
  readonly maxRecordBytes: number;
  /** Records handed to the store and not yet durable, at most (appends are pipelined). */
  readonly maxPendingRecords: number;
  /**
   * Messages the consumer may buffer ahead of the applier, at most (each at most
   * `maxMessageBytes`, so the buffer holds at most their product).
   */
  readonly maxBufferedMessages: number;
  readonly logger: ReplicationLogger;
  /** A message's records are durable in the store. */
  readonly onApplied?: (streamSequence: number, lastSeqno: number) => void;
  /** The follower stopped; the node decides (cut back, bootstrap, fail). */
  readonly onStop: (reason: FollowerStop) => void;
}

/** A follower's position and counters. */
export interface FollowerStats {
  /** Stream sequence of the last message handled (applied, skipped or refused). */
  readonly streamSequence: number;
  readonly appliedMessages: number;
  readonly appliedRecords: number;
  readonly duplicateRecords: number;
  readonly refusedMessages: number;
  /** Why the last refused message was refused. */
  readonly lastRefusal: string | undefined;
  readonly consumerRestarts: number;
}

interface PendingAppend {
  readonly done: Promise<unknown>;
  readonly streamSequence: number;
  readonly lastSeqno: number;
}

class RestartAt extends Error {
  constructor(readonly streamSequence: number) {
    super(`restart at stream sequence ${streamSequence}`);
  }
}

class Stop extends Error {
  constructor(readonly reason: FollowerStop) {
    super(reason.kind);
  }
}

/**
 * The follower's side of replication: an ordered consumer on the log stream, from a stream
 * sequence on. Each message is split into records (length and CRC checked), each record is
 * checked for position and epoch and applied through `store.appendReplicated`, byte for byte.
 * Appends are pipelined (up to `maxPendingRecords` await their fsync together).
 *
 * Records this node already holds are compared byte for byte with its own log: equal ones are
 * duplicates and dropped, a different one means the histories diverged (`onStop`). A record
 * beyond the next seqno (a gap) makes it look the seqno up in the stream: held earlier, it
 * restarts the consumer there; no longer held, it stops for a bootstrap; otherwise the message
 * is refused as forged. Garbage, bad checksums, oversized messages and lower epochs are refused
 * and logged; replication goes on with the next message. A consumer that is not created in time,
 * or that died with its NATS server, is replaced by a new one at the next stream sequence
 * (consumer-health.ts).
 */
export class LogFollower {
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private messages: ConsumerMessages | undefined;
  private admittedSeqno: number;
  private sessionStart = 0;
  private appendFailed = false;
  private readonly scratchHeader = newRecordHeader();
  private assembly:
    { parts: number; next: number; chunks: Buffer[]; sizeBytes: number } | undefined;
  private readonly pending: PendingAppend[] = [];
  private statsValue = {
    streamSequence: 0,
    appliedMessages: 0,
    appliedRecords: 0,
    duplicateRecords: 0,
    refusedMessages: 0,
    lastRefusal: undefined as string | undefined,
    consumerRestarts: 0,
  };

  constructor(
    private readonly store: Store,
    private readonly js: JetStreamClient,
    private readonly index: StreamIndex,
    private readonly options: LogFollowerOptions,
  ) {
    this.admittedSeqno = store.lastSeqno;
  }

  /** Stops a consumer's messages, and any pull nats.js binds to them later (consumer-health.ts). */
  private stopMessages(messages: ConsumerMessages): void {
    stopForGood(messages, () =>
      this.options.logger.info(
        { stream: this.options.names.stream },
        'stopped a log consumer nats.js re-created after the follower had given it up',
      ),
    );
  }

  /** Starts consuming at `streamSequence` (1 for the stream's start). */
  start(streamSequence: number): void {
    this.running ??= this.run(Math.max(1, streamSequence));
  }

  /** Counters and position. */
  stats(): FollowerStats {
    return { ...this.statsValue };
  }

  /** Stops consuming; appends already handed to the store settle first. */
  async stop(): Promise<void> {
    this.abort.abort();
    if (this.messages) this.stopMessages(this.messages);
    await this.running;
  }

  private async run(firstSequence: number): Promise<void> {
    const signal = this.abort.signal;
    let next = firstSequence;
    while (!signal.aborted) {
      try {
        this.sessionStart = next;
        const consumer = await this.js.consumers.get(this.options.names.stream, {
          filterSubjects: this.options.names.logSubject,
          deliver_policy: DeliverPolicy.StartSequence,
          opt_start_seq: next,
        });
        // A message count, not max_bytes: nats.js 2.29 adds a default max_messages to the options
        // object it is given and, when an ordered consumer resets (a reconnect), reuses it and
        // throws "only specify one of max_messages or max_bytes". Messages are at most
        // maxMessageBytes, so the count bounds the bytes too. Short pulls with heartbeats notice a
        // restarted server within seconds.
        const messages = await startWithin(
          consumer.consume({
            max_messages: this.options.maxBufferedMessages,
            expires: FOLLOWER_PULL_EXPIRES_MS,
          }),
          FOLLOWER_CONSUMER_START_TIMEOUT_MS,
          signal,
        );
        this.messages = messages;
        if (signal.aborted) this.stopMessages(messages);
        // How many log messages the stream holds past the last one handled: the stream leader's
        // view, for when the consumer's own view is stale (consumer-health.ts).
        const streamAhead = async (): Promise<number> => {
          const tail = await this.index.tail();
          return tail.last === undefined ? 0 : Math.max(0, tail.last.streamSequence - next + 1);
        };
        const watchdog = new ConsumerWatchdog(
          () => consumer.info(false),
          () => this.stopMessages(messages),
          FOLLOWER_CONSUMER_CHECK_MS,
          streamAhead,
        );
        try {
          for await (const message of messages) {
            watchdog.delivered();
            const part = message.headers?.get(LOG_HEADERS.part);
            if (part) await this.handlePart(message.seq, message.data, part);
            else {
              if (this.assembly) this.dropAssembly(message.seq, 'a whole message arrived');
              await this.handle(message.seq, message.data);
            }
            next = message.seq + 1;
            if (signal.aborted) break;
          }
        } finally {
          watchdog.stop();
          // However the messages ended (a give-up, an error, their own end), nothing nats.js
          // starts for them later may run on.
          this.stopMessages(messages);
        }
        await this.settleAll();
        if (watchdog.unreachable !== undefined && !signal.aborted) {
          this.statsValue.consumerRestarts++;
          this.options.logger.warn(
            { err: watchdog.unreachable, streamSequence: next },
            'log consumer unreachable; creating a new one',
          );
        }
      } catch (error) {
        if (this.messages) this.stopMessages(this.messages);
        await Promise.allSettled(this.pending.map((entry) => entry.done));
        this.pending.length = 0;
        this.appendFailed = false;
        this.assembly = undefined;
        this.admittedSeqno = this.store.lastSeqno;
        if (error instanceof Stop) {
          this.abort.abort();
          this.options.onStop(error.reason);
          return;
        }
        if (error instanceof RestartAt) {
          next = error.streamSequence;
          this.statsValue.consumerRestarts++;
          continue;
        }
        if (signal.aborted) break;
        this.statsValue.consumerRestarts++;
        this.options.logger.warn(
          { err: errorMessage(error), streamSequence: next },
          'log consumer failed; restarting it',
        );
        await abortableDelay(RETRY_DELAY_MS, signal);
      }
    }
  }

  /** Collects the parts of a record larger than a message; the final part applies it. */
  private async handlePart(
    streamSequence: number,
    data: Uint8Array,
    header: string,
  ): Promise<void> {
    const part = parsePartHeader(header);
    if (part === undefined) return this.refuse(streamSequence, `a bad part header ${header}`);
    if (part.part === 1) {
      if (this.assembly) this.dropAssembly(streamSequence, 'a new record began');
      this.assembly = { parts: part.parts, next: 1, chunks: [], sizeBytes: 0 };
    }
    const assembly = this.assembly;
    if (assembly === undefined || assembly.next !== part.part || assembly.parts !== part.parts) {
      if (assembly) this.dropAssembly(streamSequence, `part ${header} out of order`);
      return this.refuse(streamSequence, `part ${header} without the parts before it`);
    }
    assembly.sizeBytes += data.byteLength;
    if (assembly.sizeBytes > this.options.maxRecordBytes) {
      this.assembly = undefined;
      return this.refuse(
        streamSequence,
        `a record in parts exceeds ${this.options.maxRecordBytes} bytes`,
      );
    }
    // Copied: the consumer may reuse the message buffer.
    assembly.chunks.push(Buffer.from(data));
    assembly.next++;
    if (part.part < part.parts) return;
    this.assembly = undefined;
    await this.handle(streamSequence, Buffer.concat(assembly.chunks, assembly.sizeBytes), true);
  }

  private dropAssembly(streamSequence: number, why: string): void {
    this.assembly = undefined;
    this.refuse(streamSequence, `an incomplete record in parts was dropped: ${why}`);
  }

  private async handle(streamSequence: number, data: Uint8Array, assembled = false): Promise<void> {
    this.statsValue.streamSequence = streamSequence;
    this.pruneSettled();
    // A refused append surfaces here, before anything after it is handed to the store.
    if (this.appendFailed) await this.settleAll();
    if (!assembled && data.byteLength > this.options.maxMessageBytes) {
      return this.refuse(
        streamSequence,
        `the message has ${data.byteLength} bytes, above the limit of ${this.options.maxMessageBytes}`,
      );
    }
    let records: { bytes: Buffer }[];
    try {
      records = splitLogMessage(data, this.options.maxRecordBytes);
    } catch (error) {
      return this.refuse(streamSequence, (error as Error).message);
    }
    // Check every record's position before applying any: a message is applied whole or not.
    const toApply: { bytes: Buffer; lastSeqno: number }[] = [];
    let expected = this.admittedSeqno + 1;
    for (const record of records) {
      // The top-level fields only: the store decodes the entries once, when it applies them (a
      // full decode here too cost a third of catch-up time).
      const scanned = readRecordHeader(record.bytes, this.scratchHeader);
      if (scanned === undefined || scanned.entryCount === 0 || scanned.firstSeqno < 1) {
        return this.refuse(streamSequence, 'a record is not a well-formed log batch');
      }
      const header = {
        epoch: scanned.epoch,
        firstSeqno: scanned.firstSeqno,
        lastSeqno: scanned.firstSeqno + scanned.entryCount - 1,
      };
      if (header.lastSeqno < expected) {
        if (toApply.length > 0)
          return this.refuse(streamSequence, 'records out of order within the message');
        await this.checkDuplicate(record.bytes, header, streamSequence);
        this.statsValue.duplicateRecords++;
        continue;
      }
      if (header.firstSeqno < expected) {
        throw new Stop({
          kind: 'diverged',
          seqno: header.firstSeqno,
          reason: `record ${header.firstSeqno}..${header.lastSeqno} straddles this log's end at ${expected - 1}`,
        });
      }
      if (header.firstSeqno > expected) {
        if (toApply.length > 0)
          return this.refuse(streamSequence, 'a gap between records within the message');
        return this.onGap(streamSequence, expected, header.firstSeqno);
      }
      if (header.epoch < this.store.epoch) {
        return this.refuse(
          streamSequence,
          `record ${header.firstSeqno} has epoch ${header.epoch}, below this node's ${this.store.epoch}`,
        );
      }
      toApply.push({ bytes: record.bytes, lastSeqno: header.lastSeqno });
      expected = header.lastSeqno + 1;
    }
    if (toApply.length === 0) return;
    for (let index = 0; index < toApply.length; index++) {
      const record = toApply[index] as { bytes: Buffer; lastSeqno: number };
      const done = this.store.appendReplicated(record.bytes);
      const endsMessage = index === toApply.length - 1;
      // Report progress as soon as it is durable, not when the next message arrives.
      done.then(
        () => {
          this.statsValue.appliedRecords++;
          if (!endsMessage) return;
          this.statsValue.appliedMessages++;
          this.options.onApplied?.(streamSequence, record.lastSeqno);
        },
        () => {
          this.appendFailed = true;
        },
      );
      this.pending.push({ done, streamSequence, lastSeqno: record.lastSeqno });
      this.admittedSeqno = record.lastSeqno;
    }
    while (this.pending.length > this.options.maxPendingRecords) await this.settleOldest();
  }

  /** Drops appends already durable from the front (a failed one is left to settle and report). */
  private pruneSettled(): void {
    const durable = this.store.durableSeqno;
    let count = 0;
    while (
      count < this.pending.length &&
      (this.pending[count] as PendingAppend).lastSeqno <= durable
    )
      count++;
    if (count > 0) this.pending.splice(0, count);
  }

  private async settleAll(): Promise<void> {
    while (this.pending.length > 0) await this.settleOldest();
  }

  private async settleOldest(): Promise<void> {
    const oldest = this.pending.shift();
    if (!oldest) return;
    try {
      await oldest.done;
    } catch (error) {
      if (isStrataError(error, 'IO_ERROR') || isStrataError(error, 'CLOSED')) {
        throw new Stop({ kind: 'store-failed', error: error });
      }
      // The store refused the record (chain, epoch, content): later appends of this session
      // fail too, so refuse the message and resume right after it.
      await Promise.allSettled(this.pending.map((entry) => entry.done));
      this.pending.length = 0;
      this.refuseCounted(oldest.streamSequence, (error as Error).message);
      throw new RestartAt(oldest.streamSequence + 1);
    }
  }

  /** A record at or below this node's head must be the very record this node holds. */
  private async checkDuplicate(
    bytes: Buffer,
    header: { firstSeqno: number; lastSeqno: number; epoch: number },
    streamSequence: number,
  ): Promise<void> {
    await this.settleAll();
    const mine = await this.store.readRecord(header.firstSeqno);
    // Below the retained log: nothing to compare with (the chain of later records still is).
    if (mine === undefined || mine.equals(bytes)) return;
    const own = decodeRecord(mine);
    if (header.epoch < own.epoch && (await this.streamHolds(mine, header.firstSeqno))) {
      // A leftover of an older leader: the stream holds this node's newer record for the seqno.
      this.refuseCounted(
        streamSequence,
        `record ${header.firstSeqno} of epoch ${header.epoch} conflicts with this node's epoch ${own.epoch}`,
      );
      return;
    }
    // This node's record is nowhere in the stream (a leader fenced before its records were
    // published, whatever their epoch): it was never replicated, so it is cut back. Refusing the
    // stream's record instead would refuse every later one too, and the node would never follow.
    throw new Stop({
      kind: 'diverged',
      seqno: header.firstSeqno,
      reason: `the stream's record at seqno ${header.firstSeqno} (epoch ${header.epoch}) differs from this node's (epoch ${own.epoch})`,
    });
  }

  /** True when the stream's message for `seqno` carries `record` byte for byte. */
  private async streamHolds(record: Buffer, seqno: number): Promise<boolean> {
    const located = await this.index.locate(seqno);
    if (located.kind !== 'found') return false;
    const message = await this.index.message(located.place.streamSequence);
    return message?.records.some((candidate) => candidate.equals(record)) ?? false;
  }

  private async onGap(streamSequence: number, expected: number, got: number): Promise<void> {
    const located = await this.index.locate(expected);
    if (located.kind === 'before-stream')
      throw new Stop({ kind: 'behind-stream', firstSeqno: located.firstSeqno });
    if (located.kind === 'found' && located.place.streamSequence < this.sessionStart) {
      await this.settleAll();
      throw new RestartAt(located.place.streamSequence);
    }
    this.refuse(streamSequence, `a gap: expected seqno ${expected}, the message starts at ${got}`);
  }

  private refuse(streamSequence: number, reason: string): void {
    this.refuseCounted(streamSequence, reason);
  }

  private refuseCounted(streamSequence: number, reason: string): void {
    this.statsValue.refusedMessages++;
    this.statsValue.lastRefusal = reason;
    this.options.logger.warn({ streamSequence, reason }, 'replication message refused');
  }
}
