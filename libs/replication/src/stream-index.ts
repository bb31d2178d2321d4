import { StrataError, isStrataError } from '@strata/core';
import { decodeRecord } from '@strata/wal';
import { ErrorCode } from 'nats';
import type { JetStreamManager, StoredMsg } from 'nats';
import { errorMessage } from './timing.js';
import { silentLogger } from './logger.js';
import type { ReplicationLogger } from './logger.js';
import { LOG_HEADERS, parseLogMessageId, parsePartHeader } from './names.js';
import type { ClusterNames } from './names.js';
import { splitLogMessage } from './wire/log-message.js';
import { DEFAULT_STREAM_REQUEST_ATTEMPTS } from './settings.js';

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

/** Settings of a {@link StreamIndex} beyond its stream. */
export interface StreamIndexOptions {
  /**
   * Attempts of one stream request that times out before it fails with `TIMEOUT`. Default 3
   * (each attempt waits the manager's request timeout).
   */
  readonly maxAttempts?: number;
  /** Gets a warning for each timed-out attempt that is retried. */
  readonly logger?: ReplicationLogger;
}

const NO_MESSAGE = 10037;
const NO_STREAM = 10059;

/**
 * Reads the log stream by stream sequence: its tail, one message, and the message holding a
 * given seqno (binary search on the message headers, one `getMessage` per step).
 *
 * "Not there" is only ever what the stream says (no such message or stream). A request that
 * times out is retried, then fails with `TIMEOUT`; a log message whose records fail their length
 * or checksum fails with `CORRUPTION` naming its stream sequence. Messages on the log subject that
 * carry no log message id (`Nats-Msg-Id` `<epoch>:<first_seqno>`) are not log messages (anyone
 * allowed to publish on the subject can put one there; followers refuse them too) and are passed
 * over.
 */
export class StreamIndex {
  private readonly maxAttempts: number;
  private readonly logger: ReplicationLogger;

  constructor(
    private readonly jsm: JetStreamManager,
    private readonly names: ClusterNames,
    private readonly maxRecordBytes: number,
    options: StreamIndexOptions = {},
  ) {
    this.maxAttempts = Math.max(1, options.maxAttempts ?? DEFAULT_STREAM_REQUEST_ATTEMPTS);
    this.logger = options.logger ?? silentLogger;
  }

  /**
   * The stream's first and last sequence and its last log message.
   *
   * @throws StrataError `CORRUPTION` (the last log message is damaged), `TIMEOUT`.
   */
  async tail(): Promise<StreamTail> {
    let state: { first_seq: number; last_seq: number; messages: number };
    try {
      state = (await this.request('stream info', 0, () => this.jsm.streams.info(this.names.stream)))
        .state;
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
   * holds it (or the parts before it), when it is not a log message, or when it is a part other
   * than the last of a record in parts (the last part places the record).
   *
   * @throws StrataError `CORRUPTION` (details: `streamSequence`, and `offset` in the message) when
   * a log message's records fail their length or checksum; `TIMEOUT`.
   */
  async message(
    streamSequence: number,
  ): Promise<{ place: LogMessagePlace; records: Buffer[] } | undefined> {
    const stored = await this.stored(streamSequence);
    if (stored === undefined) return undefined;
    const id = parseLogMessageId(stored.header?.get(LOG_HEADERS.messageId));
    if (id === undefined) return undefined;
    let data: Uint8Array = stored.data;
    const part = parsePartHeader(stored.header?.get(LOG_HEADERS.part));
    if (part !== undefined) {
      // Only the final part places a record; it is read together with the parts before it.
      if (part.part !== part.parts) return undefined;
      const firstPart = streamSequence - part.parts + 1;
      const pieces: Uint8Array[] = [];
      for (let sequence = firstPart; sequence < streamSequence; sequence++) {
        // Below the stream's start, or aged out: the record is no longer whole in the stream.
        const piece = sequence < 1 ? undefined : await this.stored(sequence);
        if (piece === undefined) return undefined;
        const expected = `${sequence - firstPart + 1}/${part.parts}`;
        const pieceId = parseLogMessageId(piece.header?.get(LOG_HEADERS.messageId));
        if (
          piece.header?.get(LOG_HEADERS.part) !== expected ||
          pieceId?.firstSeqno !== id.firstSeqno
        ) {
          throw this.corruption(
            streamSequence,
            `part ${sequence - firstPart + 1} of its record (stream sequence ${sequence}) is not part ${expected} of the record at seqno ${id.firstSeqno}`,
            { partStreamSequence: sequence },
          );
        }
        pieces.push(piece.data);
      }
      pieces.push(stored.data);
      data = Buffer.concat(pieces);
    }
    let records: Buffer[];
    let first: { firstSeqno: number };
    let last: { lastSeqno: number; epoch: number };
    try {
      records = splitLogMessage(data, this.maxRecordBytes).map((record) =>
        Buffer.from(record.bytes),
      );
      first = decodeRecord(records[0] as Buffer);
      last = decodeRecord(records[records.length - 1] as Buffer);
    } catch (error) {
      // The message splitter names an offset in the message; the record decoder, one in the record.
      const offset = isStrataError(error)
        ? (error.details.offset ?? error.details.recordOffset)
        : undefined;
      throw this.corruption(streamSequence, errorMessage(error), { offset }, error);
    }
    if (first.firstSeqno !== id.firstSeqno) {
      throw this.corruption(
        streamSequence,
        `its id names seqno ${id.firstSeqno} but its first record starts at ${first.firstSeqno}`,
      );
    }
    return {
      place: {
        streamSequence,
        firstSeqno: first.firstSeqno,
        lastSeqno: last.lastSeqno,
        epoch: last.epoch,
      },
      records,
    };
  }

  /**
   * The message holding `seqno`. Binary search over the stream by the `Nats-Msg-Id` and
   * `Strata-Last-Seqno` headers (valid messages are in seqno order).
   *
   * @throws StrataError `CORRUPTION` (a damaged log message on the way), `TIMEOUT`,
   * `OUT_OF_SEQUENCE` (no message holds it although the stream spans it).
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
      const stored = await this.stored(sequence);
      if (stored === undefined) continue;
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

  /** The stored message at `streamSequence`; undefined when the stream (or it) is gone. */
  private async stored(streamSequence: number): Promise<StoredMsg | undefined> {
    try {
      return await this.request('get message', streamSequence, () =>
        this.jsm.streams.getMessage(this.names.stream, { seq: streamSequence }),
      );
    } catch (error) {
      const code = apiErrorCode(error);
      if (code === NO_MESSAGE || code === NO_STREAM) return undefined;
      throw error;
    }
  }

  /**
   * Runs one stream request, again when it times out (a slow or restarting server), up to
   * `maxAttempts` times; then fails with `TIMEOUT`. Other failures pass through.
   */
  private async request<T>(
    what: string,
    streamSequence: number,
    send: () => Promise<T>,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await send();
      } catch (error) {
        if (!isTimeout(error)) throw error;
        const details = { stream: this.names.stream, streamSequence, attempts: attempt };
        if (attempt >= this.maxAttempts) {
          throw new StrataError(
            'TIMEOUT',
            `${what} on stream ${this.names.stream}${streamSequence > 0 ? ` at sequence ${streamSequence}` : ''} timed out ${attempt} times`,
            { cause: error, details },
          );
        }
        this.logger.warn(details, `${what} timed out; retrying`);
      }
    }
  }

  private corruption(
    streamSequence: number,
    reason: string,
    extra: Record<string, unknown> = {},
    cause?: unknown,
  ): StrataError {
    return new StrataError(
      'CORRUPTION',
      `log message at stream sequence ${streamSequence} of ${this.names.stream} is damaged: ${reason}`,
      {
        ...(cause === undefined ? {} : { cause }),
        details: { ...extra, stream: this.names.stream, streamSequence },
      },
    );
  }
}

/** True for a request that got no answer in time (nats.js `TIMEOUT`, JetStream 408). */
function isTimeout(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === ErrorCode.Timeout || code === ErrorCode.JetStream408RequestTimeout;
}

const EMPTY_TAIL: StreamTail = { lastStreamSequence: 0, firstStreamSequence: 0, last: undefined };

/** The JetStream API error code of a nats.js error, if it carries one. */
export function apiErrorCode(error: unknown): number | undefined {
  const apiError = (error as { api_error?: { err_code?: number } } | null)?.api_error;
  return apiError?.err_code;
}
