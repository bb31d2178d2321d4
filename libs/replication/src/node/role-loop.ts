import { cutBack } from './cut-back.js';
import { followOrLog, followStream } from './stream-placement.js';
import { LogPublisher } from '../leader/log-publisher.js';
import type { NodeState } from './node-state.js';
import {
  DEFAULT_MAX_IN_FLIGHT_MESSAGES,
  LEASE_STEP_DOWN_FRACTION,
  PUBLISH_TIMEOUT_MS,
} from '../settings.js';
import { recordTerm, sendStatus } from './peer-status.js';
import { errorMessage } from '../timing.js';

/**
 * One round of the role loop: a leader renews its lease, anyone else (after trying again to
 * follow, when following failed before) campaigns for it. Serialized with every role change.
 */
export function tick(node: NodeState): Promise<void> {
  const next = node.transition.then(async () => {
    if (node.closed) return;
    try {
      if (node.role === 'leader') await renew(node);
      else {
        // Following failed before (the stream could not be read or placed against this log,
        // or a cut-back failed): try again, rather than stay neither following nor leading.
        if (node.follower === undefined && node.store.status === 'open') await followOrLog(node);
        await campaign(node);
      }
    } catch (error) {
      node.logger.warn({ err: errorMessage(error) }, 'lease round failed');
      if (
        node.role === 'leader' &&
        Date.now() - node.leaseRenewedAtMs > node.lease.ttlMs * LEASE_STEP_DOWN_FRACTION
      )
        await stepDown(node, 'the lease could not be renewed in time');
    }
  });
  node.transition = next.catch(() => undefined);
  return next;
}

async function renew(node: NodeState): Promise<void> {
  const holder = node.selfHolder();
  // The renewed lease runs from when the server wrote it, at the latest from when the request
  // left: counting from the answer would add the round trip (seconds, on a slow NATS) to it.
  const sentAtMs = Date.now();
  const revision = await node.lease.update(holder, node.leaseRevision ?? 0);
  if (revision === undefined) {
    await stepDown(node, 'another node holds the lease');
    return;
  }
  node.leaseRevision = revision;
  node.leaseRenewedAtMs = sentAtMs;
}

async function campaign(node: NodeState): Promise<void> {
  const lease = await node.lease.read();
  node.knownLeader = lease?.holder;
  if (lease && lease.holder.nodeId === node.options.nodeId) {
    // Handed to this node (promote), or its own lease from before a restart.
    if (!(await holdsStreamHistory(node))) return;
    await becomeLeader(node, lease.revision);
    return;
  }
  if (lease || node.options.role === 'follower') return;
  if (!(await holdsStreamHistory(node))) return;
  const revision = await node.lease.acquire(node.selfHolder());
  if (revision === undefined) return;
  await becomeLeader(node, revision);
}

/**
 * True when this node's log holds the stream's whole history: it reaches the stream's last seqno
 * and its record there is the stream's, byte for byte. Reaching the seqno is not enough: a leader
 * of a term the cluster moved past (cut off, then healed) may hold as many entries of its own
 * history. Its follower finds that out only when it reads the stream's last message, and a
 * campaign in between would lead with a log the others refuse ("does not chain") forever.
 */
async function holdsStreamHistory(node: NodeState): Promise<boolean> {
  const tail = await node.index.tail();
  node.streamLastSeqno = tail.last?.lastSeqno ?? 0;
  if (tail.last === undefined) return true;
  if (node.store.lastSeqno < tail.last.lastSeqno) return false; // not caught up yet
  const mine = await node.store.readRecord(tail.last.lastSeqno);
  if (mine !== undefined && mine.equals(tail.last.lastRecord)) return true;
  node.logger.warn(
    { seqno: tail.last.lastSeqno },
    "not campaigning: this node's log does not hold the stream's last record",
  );
  return false;
}

/**
 * Takes leadership with the lease at `revision`: stops following, opens a new epoch above every
 * one seen (store, stream, metadata), writes it into the lease and starts publishing.
 */
async function becomeLeader(node: NodeState, revision: number): Promise<void> {
  await node.follower?.stop();
  node.follower = undefined;
  const tail = await node.index.tail();
  const epoch =
    Math.max(node.store.epoch, tail.last?.epoch ?? 0, node.options.meta.term().epoch) + 1;
  node.leaseRevision = revision;
  const sentAtMs = Date.now();
  const renewed = await node.lease.update({ ...node.selfHolder(), epoch }, revision);
  if (renewed === undefined) {
    node.logger.warn({}, 'lost the lease while taking leadership');
    await followStream(node);
    return;
  }
  node.leaseRevision = renewed;
  node.leaseRenewedAtMs = sentAtMs;
  node.quorum.reset();
  node.backlog.reset(node.store.lastSeqno, node.store.appliedLogBytes);
  node.role = 'leader';
  node.handingOff = false;
  node.knownLeader = { ...node.selfHolder(), epoch };
  recordTerm(node, epoch, node.options.nodeId, node.options.url);
  await node.store.startEpoch(epoch);
  // The leader writes the expiry events of keys whose time to live ended; followers apply them.
  node.store.setExpiryWrites(true);
  node.publisher = new LogPublisher(node.store, node.options.nats.jetstream(), node.index, {
    names: node.names,
    epoch,
    maxMessageBytes: node.maxMessageBytes,
    maxInFlightMessages: node.options.maxInFlightMessages ?? DEFAULT_MAX_IN_FLIGHT_MESSAGES,
    publishTimeoutMs: PUBLISH_TIMEOUT_MS,
    logger: node.logger,
    onFenced: (reason, divergedAtSeqno) => {
      void node.enqueue(() => stepDown(node, reason, divergedAtSeqno));
    },
  });
  node.publisher.start();
  node.logger.info({ epoch, seqno: node.store.lastSeqno }, 'leading');
  sendStatus(node);
}

/**
 * Stops leading and follows the stream. With `divergedAtSeqno` (the publisher found another
 * leader's record at that seqno in the stream) this node's records from there on were never
 * published: they are cut back first. Following without the cut would refuse the stream's
 * record forever, as one of a lower epoch than this node's own, and the node would win the
 * lease, be fenced and step down again in a loop (seen when two nodes raced for the first
 * lease: the deposed leader's epoch-start reached the stream after the new one had written
 * its own locally).
 */
export async function stepDown(
  node: NodeState,
  reason: string,
  divergedAtSeqno?: number,
): Promise<void> {
  if (node.role !== 'leader') return;
  node.logger.warn({ reason }, 'stepping down');
  node.role = 'follower';
  node.store.setExpiryWrites(false);
  node.handingOff = false;
  node.quorum.abort(`this node stepped down (${reason})`);
  await node.publisher?.stop();
  node.publisher = undefined;
  node.leaseRevision = undefined;
  if (divergedAtSeqno !== undefined) await cutBack(node, divergedAtSeqno, reason);
  await followStream(node);
}
