import type { NodeState } from './node-state.js';
import { PEER_RECORD_INTERVAL_MS } from '../settings.js';
import { errorMessage } from '../timing.js';
import { publishStatus } from '../status/node-status.js';
import type { NodeStatus } from '../status/node-status.js';

/**
 * Takes in a peer's status: remembered for `/v1/status` and hand-over, counted for the quorum
 * when this node leads the peer's epoch, the leader and its term learnt from a leader's status,
 * and written to the metadata (at most every {@link PEER_RECORD_INTERVAL_MS} unless its role
 * changed).
 */
export function onPeerStatus(node: NodeState, status: NodeStatus): void {
  if (status.nodeId === node.options.nodeId) return;
  const previous = node.peers.get(status.nodeId);
  node.peers.set(status.nodeId, status);
  if (node.role === 'leader' && status.epoch === node.store.epoch)
    node.quorum.update(status.nodeId, status.durableSeqno);
  if (status.role === 'leader') {
    node.knownLeader = { nodeId: status.nodeId, url: status.url, epoch: status.epoch };
    recordTerm(node, status.epoch, status.nodeId, status.url);
    if (status.appliedSeqno > node.streamLastSeqno) node.streamLastSeqno = status.appliedSeqno;
  }
  if (
    !previous ||
    status.atMs - previous.atMs >= PEER_RECORD_INTERVAL_MS ||
    previous.role !== status.role
  ) {
    try {
      node.options.meta.upsertPeer({
        nodeId: status.nodeId,
        url: status.url,
        role: status.role,
        epoch: status.epoch,
        appliedSeqno: status.appliedSeqno,
        durableSeqno: status.durableSeqno,
        lastContactMs: status.atMs,
      });
    } catch (error) {
      node.logger.warn({ err: errorMessage(error) }, 'could not record a peer');
    }
  }
}

/** Coalesces status messages after applies to one per event-loop turn. */
export function scheduleStatus(node: NodeState): void {
  if (node.statusScheduled) return;
  node.statusScheduled = true;
  setImmediate(() => {
    node.statusScheduled = false;
    sendStatus(node);
  });
}

/** Publishes this node's status now (unless it is closed). */
export function sendStatus(node: NodeState): void {
  if (node.closed) return;
  const store = node.store;
  publishStatus(node.options.nats, node.names.statusSubjectPrefix, {
    nodeId: node.options.nodeId,
    url: node.options.url,
    role: node.role,
    epoch: store.epoch,
    appliedSeqno: store.lastSeqno,
    durableSeqno: store.durableSeqno,
    lagSeqnos: Math.max(0, node.streamLastSeqno - store.lastSeqno),
    atMs: Date.now(),
  });
}

/** Keeps the term in the metadata when a newer one shows up. */
export function recordTerm(
  node: NodeState,
  epoch: number,
  leaderId: string,
  leaderUrl: string,
): void {
  const term = node.options.meta.term();
  if (epoch < term.epoch || (epoch === term.epoch && term.leaderId === leaderId)) return;
  try {
    node.options.meta.recordTerm({ epoch, leaderId, leaderUrl });
  } catch (error) {
    node.logger.warn({ err: errorMessage(error) }, 'could not record the term');
  }
}
