import { normalizeNodeUrl } from './client-options.js';

/**
 * What the client knows about the cluster's nodes: which one leads (learnt from `NOT_LEADER`
 * answers and successful writes), which one serves reads now, and the highest seqno each node
 * was seen to have applied (so a read-your-writes wait is skipped where it cannot be needed).
 * Seqnos a node applied only grow, so what was seen stays true.
 */
export class NodePool {
  private leaderUrl: string | undefined;
  private writeCursor = 0;
  private readCursor = 0;
  private readonly appliedSeqnos = new Map<string, number>();

  constructor(readonly nodes: readonly string[]) {}

  /** The node writes go to: the known leader, else the next node in turn. */
  writeNode(): string {
    return this.leaderUrl ?? this.nodes[this.writeCursor % this.nodes.length]!;
  }

  /** The node reads go to now. */
  readNode(): string {
    return this.nodes[this.readCursor % this.nodes.length]!;
  }

  /** The leader, if known. */
  get leader(): string | undefined {
    return this.leaderUrl;
  }

  /** `url` leads (a `NOT_LEADER` answer named it, or it took a write). */
  setLeader(url: string): void {
    this.leaderUrl = normalizeNodeUrl(url);
  }

  /**
   * `url` could not take a write (unreachable, or no longer the leader without naming another):
   * forget it as the leader and move the next write to the node after it.
   */
  writeFailed(url: string): void {
    if (this.leaderUrl === url) this.leaderUrl = undefined;
    const index = this.nodes.indexOf(url);
    this.writeCursor = index < 0 ? this.writeCursor + 1 : index + 1;
  }

  /** `url` could not serve a read: the next reads go to the node after it. */
  readFailed(url: string): void {
    const index = this.nodes.indexOf(url);
    if (index >= 0 && index === this.readCursor % this.nodes.length) this.readCursor = index + 1;
  }

  /** The highest seqno `url` was seen to have applied (0 when none was seen). */
  appliedSeqno(url: string): number {
    return this.appliedSeqnos.get(url) ?? 0;
  }

  /** The highest seqno any node was seen to have applied. */
  highestAppliedSeqno(): number {
    let highest = 0;
    for (const seqno of this.appliedSeqnos.values()) highest = Math.max(highest, seqno);
    return highest;
  }

  /** `url` has applied `seqno` (from a range's `at`, a status, a `minSeqno` read). */
  noteApplied(url: string, seqno: number): void {
    if (seqno > this.appliedSeqno(url)) this.appliedSeqnos.set(url, seqno);
  }
}
