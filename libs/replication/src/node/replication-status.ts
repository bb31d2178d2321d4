import type { BacklogReading } from '../leader/replication-backlog.js';
import type { NodeState } from './node-state.js';
import type { NodeRole, NodeStatus } from '../status/node-status.js';

/** What `/v1/status` shows about replication. */
export interface ReplicationStatus {
  readonly cluster: string;
  readonly role: NodeRole;
  readonly epoch: number;
  readonly leaderId: string | undefined;
  readonly leaderUrl: string | undefined;
  readonly publishedSeqno: number | undefined;
  readonly quorumSeqno: number | undefined;
  /** On the leader: what it holds beyond the quorum (lost if it died now). */
  readonly unreplicated: BacklogReading | undefined;
  readonly streamLastSeqno: number;
  readonly lagSeqnos: number;
  readonly follower:
    | {
        readonly streamSequence: number;
        readonly appliedMessages: number;
        readonly refusedMessages: number;
        readonly lastRefusal: string | undefined;
        readonly consumerRestarts: number;
      }
    | undefined;
  readonly peers: readonly NodeStatus[];
  readonly droppedEntries: number;
  readonly bootstraps: number;
}

/** The node's {@link ReplicationStatus} now. */
export function replicationStatus(node: NodeState): ReplicationStatus {
  const follower = node.follower?.stats();
  const leader = node.currentLeader();
  return {
    cluster: node.options.cluster,
    role: node.role,
    epoch: node.store.epoch,
    leaderId: leader?.nodeId,
    leaderUrl: leader?.url,
    publishedSeqno: node.publisher?.stats().publishedSeqno,
    quorumSeqno: node.role === 'leader' ? node.quorum.quorumSeqno() : undefined,
    unreplicated:
      node.role === 'leader'
        ? node.backlog.reading(
            node.store.lastSeqno,
            node.store.appliedLogBytes,
            node.quorum.quorumSeqno(),
          )
        : undefined,
    streamLastSeqno: node.streamLastSeqno,
    lagSeqnos: Math.max(0, node.streamLastSeqno - node.store.lastSeqno),
    follower: follower && {
      streamSequence: follower.streamSequence,
      appliedMessages: follower.appliedMessages,
      refusedMessages: follower.refusedMessages,
      lastRefusal: follower.lastRefusal,
      consumerRestarts: follower.consumerRestarts,
    },
    peers: [...node.peers.values()].sort((a, b) => a.nodeId.localeCompare(b.nodeId)),
    droppedEntries: node.droppedEntries,
    bootstraps: node.bootstraps,
  };
}
