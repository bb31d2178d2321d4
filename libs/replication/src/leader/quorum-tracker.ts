import { StrataError } from '@strata/core';

interface Waiter {
  readonly seqno: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * Knows how far each follower has its log durable (from their status messages) and resolves
 * `acks=quorum` writes once a majority of the cluster, the leader included, has them durable.
 */
export class QuorumTracker {
  private readonly durable = new Map<string, number>();
  private readonly waiters = new Set<Waiter>();

  constructor(
    /** Nodes in the cluster, the leader included. */
    private readonly clusterSize: number,
    private readonly leaderDurableSeqno: () => number,
  ) {}

  /** Followers (besides the leader) that must have a write durable. */
  get followersNeeded(): number {
    return Math.floor(this.clusterSize / 2);
  }

  /** Records a follower's durable seqno (statuses from other terms are not counted). */
  update(nodeId: string, durableSeqno: number): void {
    if ((this.durable.get(nodeId) ?? 0) >= durableSeqno) return;
    this.durable.set(nodeId, durableSeqno);
    this.check();
  }

  /** The leader's own log became durable further. */
  check(): void {
    for (const waiter of this.waiters) {
      if (this.hasQuorum(waiter.seqno)) {
        this.waiters.delete(waiter);
        clearTimeout(waiter.timer);
        waiter.resolve();
      }
    }
  }

  /** The highest seqno a majority has durable. */
  quorumSeqno(): number {
    const seqnos = [...this.durable.values(), this.leaderDurableSeqno()].sort((a, b) => b - a);
    return seqnos[this.followersNeeded] ?? 0;
  }

  /** Resolves once a majority has `seqno` durable; `TIMEOUT` after `timeoutMs`. */
  waitFor(seqno: number, timeoutMs: number): Promise<void> {
    if (this.hasQuorum(seqno)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        seqno,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(
            new StrataError(
              'TIMEOUT',
              `seqno ${seqno} is durable on the leader but did not reach a quorum of ${this.followersNeeded + 1} of ${this.clusterSize} nodes within ${timeoutMs} ms`,
              { details: { seqno, quorumSeqno: this.quorumSeqno() } },
            ),
          );
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /**
   * Fails every waiting write with `OUTCOME_UNKNOWN` (the leader stepped down or is closing): each
   * is durable here but unconfirmed, so it may survive on a new leader or be cut back. Never
   * `NOT_LEADER`, which tells a client that nothing was written and the write may be sent again.
   */
  abort(reason: string): void {
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(
        new StrataError(
          'OUTCOME_UNKNOWN',
          `seqno ${waiter.seqno} is durable on this node, but ${reason} before a quorum confirmed it: it may survive on the new leader or be cut back; read the key to learn which`,
          { details: { seqno: waiter.seqno } },
        ),
      );
    }
    this.waiters.clear();
  }

  /** Forgets follower positions (a new term: statuses of the old one do not count). */
  reset(): void {
    this.durable.clear();
  }

  private hasQuorum(seqno: number): boolean {
    if (this.leaderDurableSeqno() < seqno) return false;
    let count = 0;
    for (const durable of this.durable.values()) if (durable >= seqno) count++;
    return count >= this.followersNeeded;
  }
}
