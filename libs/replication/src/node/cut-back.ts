import { isStrataError } from '@strata/core';
import { Store } from '@strata/store';
import { decodeRecord } from '@strata/wal';
import { bootstrapFromLeader } from './bootstrap-from-leader.js';
import type { NodeState } from './node-state.js';
import { CUT_BACK_MAX_STEPS } from '../settings.js';

/**
 * Cuts the node's log back to the last record it shares with the stream: walks back from
 * `conflictSeqno - 1`, comparing its record with the stream's byte for byte, and truncates the
 * log after the first that matches (the store is closed and reopened around it). Bootstraps
 * instead when no common record is found within {@link CUT_BACK_MAX_STEPS} steps, or when the
 * tail to drop is already flushed into the tree (`DIVERGED` from `Store.truncateLog`).
 */
export async function cutBack(node: NodeState, conflictSeqno: number, why: string): Promise<void> {
  let candidate = conflictSeqno - 1;
  let common: number | undefined;
  for (let steps = 0; candidate > 0 && steps < CUT_BACK_MAX_STEPS; steps++) {
    const located = await node.index.locate(candidate);
    if (located.kind !== 'found') break;
    const message = await node.index.message(located.place.streamSequence);
    const theirs = message?.records.find((record) => {
      const batch = decodeRecord(record);
      return batch.firstSeqno <= candidate && batch.lastSeqno >= candidate;
    });
    const mine = await node.store.readRecord(candidate);
    if (theirs && mine && theirs.equals(mine)) {
      common = decodeRecord(mine).lastSeqno;
      break;
    }
    const starts = [theirs, mine]
      .filter((record) => record !== undefined)
      .map((record) => decodeRecord(record).firstSeqno);
    candidate = Math.min(candidate, ...starts) - 1;
  }
  if (candidate === 0) common = 0;
  if (common === undefined) {
    await bootstrapFromLeader(node, `no common history with the stream found (${why})`);
    return;
  }
  const before = node.store.lastSeqno;
  await node.store.close({ flushMemtable: false });
  try {
    const { droppedEntries } = await Store.truncateLog(node.options.dataDirectory, common);
    node.droppedEntries += droppedEntries;
    node.options.meta.forgetStreamPositionsFrom(common + 1);
    node.logger.warn(
      { droppedEntries, fromSeqno: common + 1, toSeqno: before, reason: why },
      `dropped ${droppedEntries} log entries the leader does not have (seqnos ${common + 1}..${before})`,
    );
  } catch (error) {
    if (!isStrataError(error, 'DIVERGED')) throw error;
    node.store = await node.options.openStore();
    node.store.setExpiryWrites(false);
    await bootstrapFromLeader(node, `the unreplicated tail is already flushed: ${error.message}`);
    return;
  }
  node.store = await node.options.openStore();
  node.store.setExpiryWrites(false);
}
