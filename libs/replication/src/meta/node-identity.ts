import { randomUUID } from 'node:crypto';
import { StrataError } from '@strata/core';
import type Database from 'better-sqlite3';
import { MetaQueries } from './meta-queries.js';
import type { NodeIdentity } from './meta-queries.js';
import { transactionImmediate } from './sqlite-transaction.js';
import { checkCount } from './validation.js';

/**
 * Reads the stored identity or writes a new one (with the initial term, epoch 0), in one
 * transaction. A data directory belongs to one node of one cluster: opening it as another is
 * refused rather than silently renaming the node or moving it between clusters.
 */
export function establishIdentity(
  db: Database.Database,
  path: string,
  cluster: string,
  givenNodeId: string | undefined,
  nowMs: () => number,
): NodeIdentity {
  const queries = new MetaQueries(db);
  return transactionImmediate(db, (): NodeIdentity => {
    const stored = queries.identity();
    if (stored === undefined) {
      const identity: NodeIdentity = {
        nodeId: givenNodeId ?? randomUUID(),
        cluster,
        createdAtMs: checkCount('nowMs()', nowMs()),
      };
      db.prepare(
        'INSERT INTO node (singleton, node_id, cluster, created_at_ms) VALUES (1, ?, ?, ?)',
      ).run(identity.nodeId, identity.cluster, identity.createdAtMs);
      db.prepare(
        'INSERT INTO term (singleton, epoch, leader_id, leader_url, updated_at_ms) VALUES (1, 0, NULL, NULL, ?)',
      ).run(identity.createdAtMs);
      return identity;
    }
    if (stored.cluster !== cluster) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        `${path} belongs to cluster ${JSON.stringify(stored.cluster)}, not ${JSON.stringify(cluster)}`,
        { details: { file: path, storedCluster: stored.cluster, cluster } },
      );
    }
    if (givenNodeId !== undefined && givenNodeId !== stored.nodeId) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        `${path} belongs to node ${JSON.stringify(stored.nodeId)}, not ${JSON.stringify(givenNodeId)}`,
        { details: { file: path, storedNodeId: stored.nodeId, nodeId: givenNodeId } },
      );
    }
    return stored;
  })();
}
