import type { Registry } from 'prom-client';
import type { ReplicationStatus } from '@strata/replication';
import { ReadMetric } from './read-metric.js';

/**
 * Registers the replication metrics of a cluster node, read from `status()` at scrape time (a
 * standalone node registers none). A figure only one role has (the leader's published and quorum
 * seqnos, a follower's refused messages) is absent on the other role, not zero.
 */
export function registerReplicationMetrics(
  registry: Registry,
  status: () => ReplicationStatus,
): void {
  const metric = (
    name: string,
    help: string,
    type: 'gauge' | 'counter',
    read: (current: ReplicationStatus) => number | undefined,
  ): void => {
    ReadMetric.register(registry, name, help, type, () => read(status()));
  };
  metric('strata_replication_is_leader', '1 on the leader, 0 elsewhere', 'gauge', (current) =>
    current.role === 'leader' ? 1 : 0,
  );
  metric(
    'strata_replication_lag_seqnos',
    'Seqnos between the stream head and what this node applied',
    'gauge',
    (current) => current.lagSeqnos,
  );
  metric(
    'strata_replication_published_seqno',
    'Last seqno JetStream acknowledged (leader)',
    'gauge',
    (current) => current.publishedSeqno,
  );
  metric(
    'strata_replication_quorum_seqno',
    'Highest seqno a majority has durable (leader)',
    'gauge',
    (current) => current.quorumSeqno,
  );
  metric(
    'strata_replication_refused_messages_total',
    'Stream messages a follower refused (bad checksum, epoch, gap, garbage, size)',
    'counter',
    (current) => current.follower?.refusedMessages,
  );
  metric(
    'strata_replication_dropped_entries_total',
    'Unreplicated log entries cut back after this node was deposed',
    'counter',
    (current) => current.droppedEntries,
  );
  metric(
    'strata_replication_bootstraps_total',
    'Checkpoints of the leader this node installed',
    'counter',
    (current) => current.bootstraps,
  );
}
