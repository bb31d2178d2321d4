import { isStrataError } from '@strata/core';
import { bootstrapFromLeader } from './bootstrap-from-leader.js';
import type { NodeState } from './node-state.js';
import {
  FOLLOWER_MAX_BUFFERED_MESSAGES,
  FOLLOWER_MAX_PENDING_RECORDS,
  MAX_RECORD_BYTES,
  MESSAGE_OVERHEAD_BYTES,
  POSITION_RECORD_INTERVAL_MS,
  REMEMBERED_POSITION_SCAN_MESSAGES,
} from '../settings.js';
import { scheduleStatus } from './peer-status.js';
import { errorMessage } from '../timing.js';
import { cutBack } from './cut-back.js';
import { LogFollower } from '../follower/log-follower.js';
import type { FollowerStop } from '../follower/log-follower.js';

/**
 * Places the node's log against the stream and starts the follower: from the message holding
 * its last seqno (the follower compares the overlap byte for byte), or bootstraps when the
 * stream no longer holds what it needs.
 */
export async function followStream(node: NodeState): Promise<void> {
  for (;;) {
    const store = node.store;
    const last = store.lastSeqno;
    const tail = await node.index.tail();
    node.streamLastSeqno = tail.last?.lastSeqno ?? 0;
    let start = 1;
    if (tail.last !== undefined) {
      if (last === 0 || last >= tail.last.lastSeqno) {
        start = last === 0 ? tail.firstStreamSequence : tail.last.streamSequence;
        if (last === 0) {
          const first = await node.index.locate(1);
          if (first.kind === 'before-stream') {
            await bootstrapFromLeader(node, `the stream starts at seqno ${first.firstSeqno}`);
            continue;
          }
        }
      } else {
        const remembered = await rememberedPosition(node, last);
        const located =
          remembered !== undefined
            ? ({ kind: 'found', place: { streamSequence: remembered } } as const)
            : await node.index.locate(last);
        if (located.kind === 'found') start = located.place.streamSequence;
        else if (located.kind === 'before-stream') {
          const next = await node.index.locate(last + 1);
          if (next.kind === 'found' && next.place.firstSeqno === last + 1) {
            start = next.place.streamSequence;
          } else {
            await bootstrapFromLeader(
              node,
              `the stream starts at seqno ${located.firstSeqno}, after this node's ${last}`,
            );
            continue;
          }
        }
      }
    } else {
      start = Math.max(1, tail.lastStreamSequence + 1);
    }
    startFollower(node, start);
    return;
  }
}

/**
 * {@link followStream}, logging a failure (`TIMEOUT` or `CORRUPTION` from the stream index,
 * a failed bootstrap) instead of throwing it: the role loop tries again on its next round.
 */
export async function followOrLog(node: NodeState): Promise<void> {
  try {
    await followStream(node);
  } catch (error) {
    if (node.closed) return;
    node.logger.warn(
      {
        err: errorMessage(error),
        ...(isStrataError(error) ? { code: error.code, details: error.details } : {}),
      },
      'cannot follow the stream; trying again on the next lease round',
    );
  }
}

/**
 * The stream sequence of the message holding `seqno` from the metadata's position table,
 * checked against the stream (a restart then needs no binary search).
 */
async function rememberedPosition(node: NodeState, seqno: number): Promise<number | undefined> {
  const position = node.options.meta.streamPositionAtOrBefore(seqno);
  if (position === undefined) return undefined;
  for (
    let sequence = position.streamSequence;
    sequence < position.streamSequence + REMEMBERED_POSITION_SCAN_MESSAGES;
    sequence++
  ) {
    let message;
    try {
      message = await node.index.message(sequence);
    } catch (error) {
      if (!isStrataError(error, 'CORRUPTION')) throw error;
      // Only a hint: the binary search places this node, and the follower refuses (and logs)
      // the damaged message when it gets there.
      node.logger.warn(
        { err: error.message, details: error.details },
        'a damaged message at the remembered stream position; locating by search',
      );
      return undefined;
    }
    if (message === undefined || message.place.firstSeqno > seqno) return undefined;
    if (message.place.lastSeqno >= seqno) return sequence;
  }
  return undefined;
}

function startFollower(node: NodeState, streamSequence: number): void {
  node.follower = new LogFollower(node.store, node.options.nats.jetstream(), node.index, {
    names: node.names,
    maxMessageBytes: node.maxMessageBytes + MESSAGE_OVERHEAD_BYTES,
    maxRecordBytes: MAX_RECORD_BYTES,
    maxPendingRecords: FOLLOWER_MAX_PENDING_RECORDS,
    maxBufferedMessages: FOLLOWER_MAX_BUFFERED_MESSAGES,
    logger: node.logger,
    onApplied: (sequence, lastSeqno) => onApplied(node, sequence, lastSeqno),
    onStop: (reason) => {
      void node.enqueue(() => onFollowerStop(node, reason));
    },
  });
  node.follower.start(streamSequence);
}

function onApplied(node: NodeState, streamSequence: number, lastSeqno: number): void {
  if (lastSeqno > node.streamLastSeqno) node.streamLastSeqno = lastSeqno;
  const now = Date.now();
  if (now - node.lastPositionRecordMs >= POSITION_RECORD_INTERVAL_MS) {
    node.lastPositionRecordMs = now;
    try {
      node.options.meta.recordStreamPosition({
        streamSequence,
        firstSeqno: lastSeqno,
        lastSeqno,
      });
    } catch (error) {
      node.logger.warn({ err: errorMessage(error) }, 'could not record the stream position');
    }
  }
  scheduleStatus(node);
}

/** A stopped follower: bootstraps or cuts back as its reason says, then follows again. */
async function onFollowerStop(node: NodeState, reason: FollowerStop): Promise<void> {
  if (node.closed || node.role === 'leader') return;
  node.follower = undefined;
  if (reason.kind === 'store-failed') {
    node.logger.error({ err: reason.error.message }, 'the store failed; replication stopped');
    return;
  }
  if (reason.kind === 'behind-stream') {
    await bootstrapFromLeader(node, `the stream no longer holds seqno ${node.store.lastSeqno + 1}`);
  } else {
    await cutBack(node, reason.seqno, reason.reason);
  }
  await followStream(node);
}
