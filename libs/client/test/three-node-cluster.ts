import { startNatsServer } from '@strata/testing';
import type { NatsServerHandle } from '@strata/testing';
import { StrataNode, waitFor, waitForLeader } from './strata-nodes.js';

/** A NATS server and three `strata serve` nodes n1..n3 of one cluster, for one test. */
export interface ThreeNodeCluster {
  readonly nats: NatsServerHandle;
  readonly nodes: readonly StrataNode[];
  /** The leader once all three were up, and the two followers (by node id). */
  readonly leader: StrataNode;
  readonly followers: readonly [StrataNode, StrataNode];
  /** Prints every node's output (for a failed test) and removes everything. */
  dispose(failed: boolean): Promise<void>;
}

let clusters = 0;

/** Starts a cluster whose nodes take `extraArgs`, and waits for its leader. */
export async function startThreeNodeCluster(
  extraArgs: readonly string[] = [],
): Promise<ThreeNodeCluster> {
  const nats = await startNatsServer();
  const nodes: StrataNode[] = [];
  const cluster = `client${process.pid}c${++clusters}`;
  try {
    for (let index = 1; index <= 3; index++) {
      const settings = { natsUrl: nats.url, cluster, nodeId: `n${index}`, extraArgs };
      nodes.push(await StrataNode.create(settings));
    }
    await Promise.all(nodes.map((node) => node.start()));
    // Leadership may still move while a new cluster settles: it has settled once a leader
    // took a write with a quorum and all three nodes still name it.
    await waitFor('a first write acknowledged by a quorum', 120_000, async () => {
      const current = await waitForLeader(nodes);
      const answer = await fetch(`${current.url}/v1/kv/settled`, { method: 'PUT', body: '1' });
      await answer.arrayBuffer();
      return answer.status === 200 ? true : undefined;
    });
    const leader = await waitForLeader(nodes);
    const followers = nodes.filter((node) => node !== leader) as [StrataNode, StrataNode];
    return {
      nats,
      nodes,
      leader,
      followers,
      async dispose(failed: boolean) {
        if (failed) for (const node of nodes) process.stderr.write(`${node.output()}\n`);
        await Promise.all(nodes.map((node) => node.dispose().catch(() => undefined)));
        await nats.stop().catch(() => undefined);
      },
    };
  } catch (error) {
    await Promise.all(nodes.map((node) => node.dispose().catch(() => undefined)));
    await nats.stop().catch(() => undefined);
    throw error;
  }
}

/**
 * Waits until every running node of `nodes` has the same lastSeqno and durableSeqno, unchanged
 * across two polls (no write in flight); returns that seqno.
 */
export async function waitForConvergence(
  nodes: readonly StrataNode[],
  timeoutMs = 60_000,
): Promise<number> {
  let previous = -1;
  return waitFor('the running nodes at one lastSeqno', timeoutMs, async () => {
    const all = await Promise.all(nodes.filter((n) => n.running).map((node) => node.status()));
    const last = all[0]!.lastSeqno;
    const same = all.every((s) => s.lastSeqno === last && s.durableSeqno === last);
    const stable = last === previous;
    previous = last;
    return same && stable ? last : undefined;
  });
}
