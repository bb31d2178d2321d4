import { StrataError } from '@strata/core';
import { decodeRecord } from '@strata/wal';
import type { JetStreamManager, StoredMsg } from 'nats';
import { LOG_HEADERS, parseLogMessageId, parsePartHeader } from './names.js';
import type { ClusterNames } from './names.js';
import { splitLogMessage } from './wire/log-message.js';

/** Where a log message sits in the stream and which seqnos it carries. */
export interface LogMessagePlace {
  readonly streamSequence: number;
  readonly firstSeqno: number;
  readonly lastSeqno: number;
  /** Epoch of the message's last record. */
  readonly epoch: number;
}

/** The end of the stream as a leader or follower needs it. */
export interface StreamTail {
  /** Stream sequence of the last message (0: the stream never held one). */
  readonly lastStreamSequence: number;
  /** Stream sequence of the oldest message still held (0 when none). */
  readonly firstStreamSequence: number;
  /** The last log message, when the stream still holds one. */
  readonly last: (LogMessagePlace & { readonly lastRecord: Buffer }) | undefined;
}

/** Outcome of {@link StreamIndex.locate}. */
export type LocateResult =
  | { readonly kind: 'found'; readonly place: LogMessagePlace }
  /** The stream no longer holds it (limits dropped it): bootstrap from a checkpoint. */
  | { readonly kind: 'before-stream'; readonly firstSeqno: number }
  /** The stream does not hold it yet. */
  | { readonly kind: 'after-stream'; readonly lastSeqno: number };

const NO_MESSAGE = 10037;
const NO_STREAM = 10059;

/**
 * Reads the log stream by stream sequence: its tail, one message, and the message holding a
 * given seqno (binary search on the message headers, one `getMessage` per step).
 */
export class StreamIndex {
  constructor(
    private readonly jsm: JetStreamManager,
    private readonly names: ClusterNames,
    private readonly maxRecordBytes: number,
  ) {}

  /** The stream's first and last sequence and its last log message. */
  async tail(): Promise<StreamTail> {
    let state: { first_seq: number; last_seq: number; messages: number };
    try {
      state = (await this.jsm.streams.info(this.names.stream)).state;
    } catch (error) {
      if (apiErrorCode(error) === NO_STREAM) return EMPTY_TAIL;
      throw error;
    }
    if (state.last_seq === 0) return EMPTY_TAIL;
    // Walk back over messages that are not log messages (forged): the tail is the last valid one.
    for (let sequence = state.last_seq; sequence >= Math.max(1, state.first_seq); sequence--) {
      const message = await this.message(sequence);
      if (message === undefined) continue;
      const lastRecord = message.records[message.records.length - 1] as Buffer;
      return {
        lastStreamSequence: state.last_seq,
        firstStreamSequence: state.messages === 0 ? 0 : state.first_seq,
        last: { ...message.place, lastRecord },
      };
    }
    return {
      lastStreamSequence: state.last_seq,
      firstStreamSequence: state.messages === 0 ? 0 : state.first_seq,
      last: undefined,
    };
  }

  /**
   * The log message at `streamSequence` with its records, or undefined when the stream no longer
   * holds it or it is not a valid log message.
   */
  async message(
    streamSequence: number,
  ): Promise<{ place: LogMessagePlace; records: Buffer[] } | undefined> {
    let stored: StoredMsg;
    try {
      stored = await this.jsm.streams.getMessage(this.names.stream, { seq: streamSequence });
    } catch (error) {
      const code = apiErrorCode(error);
      if (code === NO_MESSAGE || code === NO_STREAM) return undefined;
      throw error;
    }
    let data: Uint8Array = stored.data;
    const part = parsePartHeader(stored.header?.get(LOG_HEADERS.part));
    if (part !== undefined) {
      // Only the final part places a record; it is read together with the parts before it.
      if (part.part !== part.parts || streamSequence - part.parts + 1 < 1) return undefined;
      const pieces: Uint8Array[] = [];
      for (let sequence = streamSequence - part.parts + 1; sequence < streamSequence; sequence++) {
        const piece = await this.jsm.streams
          .getMessage(this.names.stream, { seq: sequence })
          .catch(() => undefined);
        if (piece === undefined) return undefined;
        pieces.push(piece.data);
      }
      pieces.push(stored.data);
      data = Buffer.concat(pieces);
    }
    try {
      const records = splitLogMessage(data, this.maxRecordBytes).map((record) =>
        Buffer.from(record.bytes),
      );
      const first = decodeRecord(records[0] as Buffer);
      const last = decodeRecord(records[records.length - 1] as Buffer);
      return {
        place: {
          streamSequence,
          firstSeqno: first.firstSeqno,
          lastSeqno: last.lastSeqno,
          epoch: last.epoch,
        },
        records,
      };
    } catch {
      return undefined;
    }
  }

  /**
   * The message holding `seqno`. Binary search over the stream by the `Nats-Msg-Id` and
   * `Strata-Last-Seqno` headers (valid messages are in seqno order).
   */
  async locate(seqno: number): Promise<LocateResult> {
    const tail = await this.tail();
    if (tail.last === undefined || tail.firstStreamSequence === 0)
      return { kind: 'after-stream', lastSeqno: 0 };
    if (seqno > tail.last.lastSeqno)
      return { kind: 'after-stream', lastSeqno: tail.last.lastSeqno };
    const first = await this.placeNear(tail.firstStreamSequence, tail.lastStreamSequence);
    if (first !== undefined && seqno < first.firstSeqno)
      return { kind: 'before-stream', firstSeqno: first.firstSeqno };
    let low = tail.firstStreamSequence;
    let high = tail.lastStreamSequence;
    while (low <= high) {
      const middle = Math.floor((low + high) / 2);
      const place = await this.placeNear(middle, high);
      if (place === undefined) high = middle - 1;
      // A record in parts is placed at its first part, before `middle`: never move `low` back.
      else if (place.lastSeqno < seqno) low = Math.max(middle, place.streamSequence) + 1;
      else if (place.firstSeqno > seqno) high = middle - 1;
      else return { kind: 'found', place };
    }
    throw new StrataError(
      'OUT_OF_SEQUENCE',
      `the stream ${this.names.stream} has no message holding seqno ${seqno} between its first and last`,
      { details: { seqno } },
    );
  }

  /** The first valid log message at or after `from` (up to `limit`), from its headers when it can. */
  private async placeNear(from: number, limit: number): Promise<LogMessagePlace | undefined> {
    for (let sequence = from; sequence <= limit; sequence++) {
      let stored: StoredMsg;
      try {
        stored = await this.jsm.streams.getMessage(this.names.stream, { seq: sequence });
      } catch (error) {
        const code = apiErrorCode(error);
        if (code === NO_MESSAGE) continue;
        throw error;
      }
      const id = parseLogMessageId(stored.header?.get(LOG_HEADERS.messageId));
      const lastSeqno = Number(stored.header?.get(LOG_HEADERS.lastSeqno));
      const part = parsePartHeader(stored.header?.get(LOG_HEADERS.part));
      if (id && Number.isSafeInteger(lastSeqno) && lastSeqno >= id.firstSeqno) {
        // A record in parts is placed at its first part, where a consumer must start.
        const first = part === undefined ? sequence : sequence - part.part + 1;
        return { streamSequence: first, firstSeqno: id.firstSeqno, lastSeqno, epoch: id.epoch };
      }
      const message = await this.message(sequence);
      if (message) return message.place;
    }
    return undefined;
  }
}

const EMPTY_TAIL: StreamTail = { lastStreamSequence: 0, firstStreamSequence: 0, last: undefined };

/** The JetStream API error code of a nats.js error, if it carries one. */
export function apiErrorCode(error: unknown): number | undefined {
  const apiError = (error as { api_error?: { err_code?: number } } | null)?.api_error;
  return apiError?.err_code;
}
