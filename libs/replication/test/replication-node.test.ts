import { expect } from 'chai';
import { connect } from 'nats';
import type { NatsConnection } from 'nats';
import { Store } from '@strata/store';
import { createTempDirectory, rejectionOf, startNatsServer } from '@strata/testing';
import type { NatsServerHandle } from '@strata/testing';
import { ClusterMeta, ReplicationNode } from '../src/index.js';
import { clusterNames } from '../src/names.js';
import { scan, waitUntil } from './helpers.js';
import type { RoleSetting } from '../src/index.js';

describe('ReplicationNode: election, replication, failover, promote (in one process)', function () {
  this.timeout(120_000);
  let server: NatsServerHandle;
  let dir: { path: string; remove(): Promise<void> };
  const connections: NatsConnection[] = [];
  const nodes: ReplicationNode[] = [];
  const metas: ClusterMeta[] = [];

  async function startNode(name: string, role: RoleSetting): Promise<ReplicationNode> {
    const nc = await connect({ servers: server.url });
    connections.push(nc);
    const dataDirectory = `${dir.path}/${name}`;
    const { mkdir } = await import('node:fs/promises');
    await mkdir(dataDirectory, { recursive: true });
    const meta = ClusterMeta.open(`${dataDirectory}/meta.sqlite`, { cluster: 'c1', nodeId: name });
    metas.push(meta);
    const node = await ReplicationNode.start({
      nats: nc,
      cluster: 'c1',
      nodeId: name,
      url: `http://${name}.invalid`,
      dataDirectory,
      role,
      meta,
      leaseTtlMs: 1_000,
      statusIntervalMs: 200,
      openStore: () => Store.open(dataDirectory, { sync: 'always' }),
    });
    nodes.push(node);
    return node;
  }

  beforeEach(async () => {
    server = await startNatsServer();
    dir = await createTempDirectory('replication-node-');
  });
  afterEach(async () => {
    for (const node of nodes.splice(0)) await node.close().catch(() => undefined);
    for (const meta of metas.splice(0)) meta.close();
    for (const nc of connections.splice(0)) await nc.close().catch(() => undefined);
    await server.stop();
    await dir.remove();
  });

  it('elects one leader, replicates with quorum acks, fails over and hands over', async () => {
    const a = await startNode('a', 'auto');
    await waitUntil(() => a.role === 'leader');
    const b = await startNode('b', 'auto');
    const c = await startNode('c', 'auto');
    expect(b.role).to.equal('follower');
    expect((await rejectionOf(Promise.resolve().then(() => b.assertLeader()))).code).to.equal(
      'NOT_LEADER',
    );
    const epochA = a.store.epoch;
    for (let index = 0; index < 200; index++) {
      const { seqno } = await a.store.put(`k${index}`, `v${index}`);
      if (index % 50 === 0) await a.waitForQuorum(seqno);
    }
    await waitUntil(
      () => b.store.lastSeqno === a.store.lastSeqno && c.store.lastSeqno === a.store.lastSeqno,
    );
    expect(await scan(b.store)).to.deep.equal(await scan(a.store));
    // The quorum seqno follows the followers' status reports (every 200 ms), which may trail
    // their applied seqno: wait for it rather than read it at once.
    await waitUntil(() => a.status().quorumSeqno === a.store.lastSeqno);

    // Promote b: it leads in a new epoch, a follows.
    expect((await b.promote()).epoch).to.be.above(epochA);
    expect(b.role).to.equal('leader');
    await waitUntil(() => a.role === 'follower');
    await b.store.put('after-promote', 'x');
    await waitUntil(
      () => a.store.lastSeqno === b.store.lastSeqno && c.store.lastSeqno === b.store.lastSeqno,
    );
    expect(await scan(a.store)).to.deep.equal(await scan(b.store));

    // The leader goes away: a follower takes over within a few lease periods.
    const leaderEpoch = b.store.epoch;
    await b.close();
    await waitUntil(() => a.role === 'leader' || c.role === 'leader', 15_000);
    const next = a.role === 'leader' ? a : c;
    const other = next === a ? c : a;
    expect(next.store.epoch).to.be.above(leaderEpoch);
    await next.store.put('after-failover', 'y');
    await waitUntil(() => other.store.lastSeqno === next.store.lastSeqno);
    expect(await scan(other.store)).to.deep.equal(await scan(next.store));
  });

  it('acknowledges a write only while this node leads the term it was taken in, else OUTCOME_UNKNOWN with its seqno', async () => {
    const a = await startNode('a', 'auto');
    await waitUntil(() => a.role === 'leader');
    const b = await startNode('b', 'auto');
    const written = await a.store.put('k', 'v');
    await a.acknowledgeWrite(written.seqno, written.epoch, 'quorum');
    await a.acknowledgeWrite(written.seqno, written.epoch, 'leader');
    const otherTerm = await rejectionOf(
      a.acknowledgeWrite(written.seqno, written.epoch - 1, 'leader'),
    );
    expect(otherTerm.code).to.equal('OUTCOME_UNKNOWN');
    expect(otherTerm.details).to.deep.equal({ seqno: written.seqno, epoch: written.epoch - 1 });
    // A follower acknowledges nothing, whatever the ack mode.
    for (const acks of ['leader', 'quorum'] as const) {
      const onFollower = await rejectionOf(b.acknowledgeWrite(written.seqno, written.epoch, acks));
      expect(onFollower.code).to.equal('OUTCOME_UNKNOWN');
    }
    // After a hand-over the old leader's term is over: its writes are no longer acknowledged there.
    await b.promote();
    await waitUntil(() => a.role === 'follower');
    const afterHandOver = await rejectionOf(
      a.acknowledgeWrite(written.seqno, written.epoch, 'quorum'),
    );
    expect(afterHandOver.code).to.equal('OUTCOME_UNKNOWN');
  });

  it("takes a refused hand-over's code only when it is a Strata error code (else INTERNAL, quoting it)", async () => {
    const b = await startNode('b', 'follower');
    // A stand-in leader on the hand-over subject (b, not leading, does not answer itself).
    const leader = await connect({ servers: server.url });
    connections.push(leader);
    const replies = [
      JSON.stringify({ ok: false, error: { code: 'NEWER_CODE', message: 'from a newer leader' } }),
      JSON.stringify({ ok: false, error: { code: 'NOT_LEADER', message: 'not the leader' } }),
      'not json',
    ];
    leader.subscribe(clusterNames('c1').handoffSubject, {
      callback: (_error, message) => message.respond(Buffer.from(replies.shift() ?? '')),
    });
    await leader.flush();

    const unknown = await rejectionOf(b.promote(5_000));
    expect(unknown.code).to.equal('INTERNAL');
    expect(unknown.message).to.include('from a newer leader').and.include('"NEWER_CODE"');
    expect(unknown.details).to.deep.equal({ sentCode: 'NEWER_CODE' });
    const known = await rejectionOf(b.promote(5_000));
    expect(known.code).to.equal('NOT_LEADER');
    expect(known.message).to.include('not the leader');
    const garbage = await rejectionOf(b.promote(5_000));
    expect(garbage.code).to.equal('INTERNAL');
    expect(garbage.message).to.include('not JSON');
    expect(replies).to.have.length(0);
    expect(b.role).to.equal('follower');
  });
});
