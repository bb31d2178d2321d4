import { StrataError } from '@strata/core';
import type { NodeState } from './node-state.js';
import { BOOTSTRAP_LEADER_WAIT_MS, LEASE_ROUNDS_PER_TTL } from '../settings.js';
import { delay } from '../timing.js';
import { fetchCheckpoint } from '../bootstrap/fetch-checkpoint.js';
import { installCheckpoint } from '../bootstrap/install-checkpoint.js';

/**
 * Replaces the node's data with a checkpoint of the leader, then reopens the store: waits (up to
 * {@link BOOTSTRAP_LEADER_WAIT_MS}, one lease round at a time) for a lease held by another node,
 * downloads its checkpoint, installs it over the closed store and records it in the metadata.
 * `TIMEOUT` when no leader shows up in time.
 */
export async function bootstrapFromLeader(node: NodeState, why: string): Promise<void> {
  const deadline = Date.now() + BOOTSTRAP_LEADER_WAIT_MS;
  for (;;) {
    const lease = await node.lease.read();
    const leader = lease?.holder;
    if (leader && leader.nodeId !== node.options.nodeId) {
      node.logger.warn({ reason: why, leader: leader.url }, 'bootstrapping from the leader');
      const source = await fetchCheckpoint(leader.url, {
        ...(node.options.token ? { token: node.options.token } : {}),
      });
      const before = node.store.lastSeqno;
      await node.store.close({ flushMemtable: false });
      try {
        const installed = await installCheckpoint(source, node.options.dataDirectory);
        node.bootstraps++;
        node.options.meta.clearStreamPositions();
        node.options.meta.recordCheckpoint({
          kind: 'installed',
          seqno: installed.seqno,
          location: leader.url,
          sizeBytes: installed.sizeBytes,
        });
        node.logger.info(
          { seqno: installed.seqno, previousSeqno: before, sizeBytes: installed.sizeBytes },
          'installed a checkpoint of the leader',
        );
      } finally {
        node.store = await node.options.openStore();
        node.store.setExpiryWrites(false);
      }
      return;
    }
    if (Date.now() > deadline || node.closed)
      throw new StrataError('TIMEOUT', `cannot bootstrap (${why}): no leader to copy from`);
    await delay(node.lease.ttlMs / LEASE_ROUNDS_PER_TTL);
  }
}
