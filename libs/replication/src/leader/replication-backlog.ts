import { StrataError, invariant } from '@strata/core';

/** Limits of {@link ReplicationBacklog}. */
export interface ReplicationBacklogLimits {
  /** Log entries the leader may hold that a quorum does not have durable yet. */
  readonly maxEntries: number;
  /** Log record bytes the leader may hold that a quorum does not have durable yet. */
  readonly maxBytes: number;
}

/** What the leader holds beyond its quorum, for `/v1/status` and the refusal's details. */
export interface BacklogReading {
  readonly entries: number;
  readonly bytes: number;
}

/** Samples kept at most; past this, every other one is dropped (the bound stays conservative). */
const MAX_SAMPLES = 4_096;

/**
 * Bounds what a leader holds that a quorum of the cluster does not have durable: every entry past
 * the quorum's seqno is lost if this leader dies now (a new leader never has it). Writes under
 * `acks=leader` are acknowledged before the quorum has them, so without a bound a leader cut off
 * from its followers (NATS paused or partitioned) would keep acknowledging writes that a failover
 * then drops. Past either limit, {@link ReplicationBacklog.assertRoom} refuses the next write with
 * `REPLICATION_BACKLOG` before it is admitted: refused, never acknowledged and then dropped.
 *
 * Bytes come from the store's running total of applied record bytes, sampled at each check as
 * (seqno, total) pairs; the bytes at the quorum's seqno are taken from the newest sample at or
 * below it, which can only overstate the backlog (a sample is never newer than the quorum's
 * position it stands for).
 */
export class ReplicationBacklog {
  /** Ascending seqnos and the applied-bytes total when the store's last seqno was that seqno. */
  private seqnos: number[] = [];
  private totals: number[] = [];

  constructor(private readonly limits: ReplicationBacklogLimits) {
    invariant(limits.maxEntries > 0 && limits.maxBytes > 0, 'backlog limits must be positive');
  }

  /**
   * Starts a new term: everything up to `lastSeqno` (what this node held when it became leader:
   * it campaigned only once caught up with the stream) counts as replicated.
   */
  reset(lastSeqno: number, appliedBytes: number): void {
    this.seqnos = [lastSeqno];
    this.totals = [appliedBytes];
  }

  /** What the leader holds beyond `quorumSeqno`. */
  reading(lastSeqno: number, appliedBytes: number, quorumSeqno: number): BacklogReading {
    this.sample(lastSeqno, appliedBytes);
    this.forgetBelow(quorumSeqno);
    const floorSeqno = Math.max(quorumSeqno, this.seqnos[0] ?? 0);
    return {
      entries: Math.max(0, lastSeqno - floorSeqno),
      bytes: Math.max(0, appliedBytes - (this.totals[0] ?? appliedBytes)),
    };
  }

  /**
   * Throws `REPLICATION_BACKLOG` when the leader already holds a limit's worth beyond the quorum.
   * A write that starts below both limits is admitted whatever its size: one large batch must not
   * be refused forever on an idle cluster.
   */
  assertRoom(lastSeqno: number, appliedBytes: number, quorumSeqno: number): void {
    const backlog = this.reading(lastSeqno, appliedBytes, quorumSeqno);
    if (backlog.entries < this.limits.maxEntries && backlog.bytes < this.limits.maxBytes) return;
    throw new StrataError(
      'REPLICATION_BACKLOG',
      `the leader holds ${backlog.entries} entries (${backlog.bytes} bytes) that a quorum does not have yet ` +
        `(limits ${this.limits.maxEntries} entries, ${this.limits.maxBytes} bytes): write refused, retry once the followers catch up`,
      {
        details: {
          unreplicatedEntries: backlog.entries,
          unreplicatedBytes: backlog.bytes,
          quorumSeqno,
          maxEntries: this.limits.maxEntries,
          maxBytes: this.limits.maxBytes,
        },
      },
    );
  }

  private sample(lastSeqno: number, appliedBytes: number): void {
    const newest = this.seqnos.length - 1;
    if (newest >= 0 && this.seqnos[newest] === lastSeqno) return;
    invariant(newest < 0 || (this.seqnos[newest] as number) < lastSeqno, 'seqnos only grow');
    this.seqnos.push(lastSeqno);
    this.totals.push(appliedBytes);
    if (this.seqnos.length > MAX_SAMPLES) {
      // Keep the oldest (the floor) and every other one after it.
      this.seqnos = this.seqnos.filter((_, index) => index === 0 || index % 2 === 1);
      this.totals = this.totals.filter((_, index) => index === 0 || index % 2 === 1);
    }
  }

  /** Drops samples the quorum has passed, keeping the newest one at or below `quorumSeqno`. */
  private forgetBelow(quorumSeqno: number): void {
    let keep = 0;
    while (keep + 1 < this.seqnos.length && (this.seqnos[keep + 1] as number) <= quorumSeqno)
      keep++;
    if (keep === 0) return;
    this.seqnos.splice(0, keep);
    this.totals.splice(0, keep);
  }
}
