import { StrataError } from '@strata/core';
import { ValueKind, expiresAtMsOf, userValueOf } from '@strata/engine';
import type { Tree } from '@strata/engine';
import { readRecordHeader, visitEntries } from '@strata/wal';
import type { EntryVisitor } from '@strata/wal';
import type { HistoryWindow } from './history-window.js';

/** One version of a key, as {@link Store.history} lists it. */
export interface KeyVersion {
  /** The seqno of the write. */
  readonly seqno: number;
  readonly type: 'put' | 'delete';
  /** The value a put wrote; undefined for a delete and for a put whose time to live ended. */
  readonly value: Buffer | undefined;
  /** When the leader accepted the write (milliseconds since the Unix epoch); undefined when the log no longer holds it. */
  readonly timestampMs: number | undefined;
  /** A put with a time to live: its deadline (milliseconds since the Unix epoch). */
  readonly expiresAtMs?: number;
  /**
   * A put: its time to live has ended (its value is no longer served). A delete: the leader wrote
   * it because the key's time to live ended (known while the log holds its record).
   */
  readonly expired?: boolean;
}

/** Options of {@link Store.history}. */
export interface HistoryOptions {
  /** Most versions to return. Default 100, at most 1,000. */
  readonly limit?: number;
  /** Only versions with a seqno below this (the previous page's `nextBefore`). Default: all. */
  readonly before?: number;
}

/** A page of a key's versions, newest first. */
export interface HistoryPage {
  readonly versions: KeyVersion[];
  /** Pass as `before` for the next (older) page; undefined when there is none. */
  readonly nextBefore: number | undefined;
  /**
   * True when older versions may have existed but the store no longer keeps them (they are below
   * the history window); the log still holds them unless retention dropped them.
   */
  readonly truncated: boolean;
  /** The oldest seqno whose state the store still knows exactly. */
  readonly oldestReadableSeqno: number;
}

/** Default and largest page of {@link Store.history}. */
export const HISTORY_DEFAULT_LIMIT = 100;
export const HISTORY_MAX_LIMIT = 1000;

/**
 * Lists the versions of `key` newest first, from the versions the tree keeps for the history
 * window: each step is a point read below the previous version's seqno (O(levels), never a scan of
 * the log), and each version's timestamp comes from its log record, found by seqno.
 *
 * @throws StrataError `INVALID_ARGUMENT` for a bad limit or `before`, `FUTURE_SEQNO` when
 * `before` is beyond the next seqno, `HISTORY_TRUNCATED` when `before` is at or below the oldest
 * readable seqno.
 */
export async function keyHistory(
  tree: Tree,
  window: HistoryWindow,
  appliedSeqno: number,
  readRecord: (seqno: number) => Promise<Buffer | undefined>,
  key: Buffer,
  options: HistoryOptions,
  nowMs: number,
): Promise<HistoryPage> {
  const limit = options.limit ?? HISTORY_DEFAULT_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > HISTORY_MAX_LIMIT) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `limit must be an integer from 1 to ${HISTORY_MAX_LIMIT}, got ${limit}`,
    );
  }
  const before = options.before ?? appliedSeqno + 1;
  if (!Number.isSafeInteger(before) || before < 0) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `before must be a non-negative integer, got ${before}`,
    );
  }
  if (before > appliedSeqno + 1) {
    throw new StrataError(
      'FUTURE_SEQNO',
      `before ${before} is beyond the next seqno ${appliedSeqno + 1}`,
      { details: { requestedSeqno: before, lastSeqno: appliedSeqno } },
    );
  }
  const oldest = window.oldestReadableSeqno;
  if (before <= oldest) {
    throw new StrataError(
      'HISTORY_TRUNCATED',
      `versions below seqno ${before} are older than the readable history, which starts at ${oldest}; replay the log for them`,
      { details: { requestedSeqno: before, oldestReadableSeqno: oldest, firstSeqno: oldest } },
    );
  }
  const versions: KeyVersion[] = [];
  let bound = before;
  let truncated = false;
  let exhausted = false;
  while (versions.length < limit) {
    // Exclusive bound: the newest version below `bound`.
    const entry = await tree.getInternalEntry(key, false, bound);
    if (entry === undefined) {
      exhausted = true;
      break;
    }
    const record = (await readRecord(entry.seqno)) ?? Buffer.alloc(0);
    const header = readRecordHeader(record);
    if (entry.kind === ValueKind.Tombstone) {
      const expired =
        header !== undefined && deletedByExpiry(record, entry.seqno - header.firstSeqno);
      versions.push({
        seqno: entry.seqno,
        type: 'delete',
        value: undefined,
        timestampMs: header?.timestampMs,
        ...(expired ? { expired } : {}),
      });
    } else {
      const expiresAtMs = expiresAtMsOf(entry);
      const expired = expiresAtMs !== 0 && nowMs >= expiresAtMs;
      versions.push({
        seqno: entry.seqno,
        type: 'put',
        // Never served past its deadline, in history as anywhere else.
        value: expired ? undefined : Buffer.from(userValueOf(entry)),
        timestampMs: header?.timestampMs,
        ...(expiresAtMs !== 0 ? { expiresAtMs, expired } : {}),
      });
    }
    bound = entry.seqno;
    if (oldest > 0 && entry.seqno <= oldest) {
      // The version visible at the oldest readable seqno is exact; older ones may be gone.
      truncated = true;
      exhausted = true;
      break;
    }
  }
  if (!exhausted && (await tree.getInternalEntry(key, false, bound)) === undefined)
    exhausted = true;
  return {
    versions,
    nextBefore: exhausted ? undefined : bound,
    truncated,
    oldestReadableSeqno: oldest,
  };
}

/** True when entry `index` of `record` is a delete carrying the expired marker. */
function deletedByExpiry(record: Buffer, index: number): boolean {
  let expired = false;
  const visitor: EntryVisitor = {
    entry: (_op, at, _record, _ks, _kl, _vs, _vl, _expiresAtMs, marked) => {
      if (at === index) expired = marked;
    },
  };
  visitEntries(record, visitor);
  return expired;
}
