import { expect } from 'chai';
import { startNatsServer } from '@strata/testing';
import type { NatsServerHandle } from '@strata/testing';
import { ClusterNode, statuses, waitForLeader } from './cluster-helpers.js';

/** A 421 answer as a client sees it: status, `Location` and the error body. */
interface Refusal {
  readonly status: number;
  readonly location: string | null;
  readonly error: { code: string; leaderUrl?: string };
}

async function refusal(response: Response): Promise<Refusal> {
  const body = (await response.json()) as { error: Refusal['error'] };
  return { status: response.status, location: response.headers.get('location'), error: body.error };
}

describe('HTTP: a write sent to a follower is answered 421 NOT_LEADER with Location', function () {
  this.timeout(120_000);

  let nats: NatsServerHandle | undefined;
  let nodes: ClusterNode[] = [];
  let leader: ClusterNode;
  let follower: ClusterNode;

  before(async function () {
    nats = await startNatsServer();
    for (let index = 1; index <= 3; index++) {
      nodes.push(
        await ClusterNode.create({
          natsUrl: nats.url,
          cluster: `location${process.pid}`,
          nodeId: `n${index}`,
        }),
      );
    }
    await Promise.all(nodes.map((node) => node.start()));
    leader = await waitForLeader(nodes);
    follower = nodes.find((node) => node !== leader)!;
  });

  after(async function () {
    if (this.currentTest?.state === 'failed') {
      for (const node of nodes) process.stderr.write(`${node.output()}\n`);
    }
    await Promise.all(nodes.map((node) => node.dispose().catch(() => undefined)));
    nodes = [];
    await nats?.stop();
  });

  it('names the same path and query on the leader, percent-encoding kept, for a PUT, a DELETE, a range delete and a batch', async function () {
    const leaderUrl = (await statuses([follower]))
      .map((status) => (typeof status === 'string' ? status : status.leaderUrl))
      .at(0);
    expect(leaderUrl).to.equal(leader.url);

    const path = '/v1/kv/a%2Fb%20c?ifSeqno=0&acks=quorum';
    const put = await refusal(await fetch(`${follower.url}${path}`, { method: 'PUT', body: 'x' }));
    expect(put).to.deep.include({ status: 421, location: `${leader.url}${path}` });
    expect(put.error).to.include({ code: 'NOT_LEADER', leaderUrl: leader.url });

    const deleted = await refusal(
      await fetch(`${follower.url}/v1/kv/k1?ifSeqno=7`, { method: 'DELETE' }),
    );
    expect(deleted.location).to.equal(`${leader.url}/v1/kv/k1?ifSeqno=7`);

    const rangeDelete = await refusal(
      await fetch(`${follower.url}/v1/kv?prefix=p%2F`, { method: 'DELETE' }),
    );
    expect(rangeDelete.location).to.equal(`${leader.url}/v1/kv?prefix=p%2F`);

    const batch = await refusal(
      await fetch(`${follower.url}/v1/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ops: [{ type: 'put', key: 'b', value: '1' }] }),
      }),
    );
    expect(batch).to.deep.include({ status: 421, location: `${leader.url}/v1/batch` });
  });

  it('the request repeated at Location is taken by the leader, and only once', async function () {
    const path = '/v1/kv/created-once?ifSeqno=0';
    const first = await fetch(`${follower.url}${path}`, { method: 'PUT', body: 'v' });
    const location = first.headers.get('location');
    await first.arrayBuffer();
    expect(first.status).to.equal(421);
    const taken = await fetch(location!, { method: 'PUT', body: 'v' });
    expect(taken.status).to.equal(200);
    const { seqno } = (await taken.json()) as { seqno: number };
    // The follower refused before writing: the key has exactly the leader's one version.
    const history = await fetch(`${leader.url}/v1/history/created-once`);
    const versions = ((await history.json()) as { versions: { seqno: number }[] }).versions;
    expect(versions.map((version) => version.seqno)).to.deep.equal([seqno]);
  });

  it('answers that are not 421, on the leader or a follower, carry no Location', async function () {
    const onLeader = await fetch(`${leader.url}/v1/kv/created-once?ifSeqno=0`, {
      method: 'PUT',
      body: 'again',
    });
    expect(onLeader.status).to.equal(409);
    expect(onLeader.headers.get('location')).to.equal(null);
    await onLeader.arrayBuffer();
    const read = await fetch(`${follower.url}/v1/kv/absent-key`);
    expect(read.status).to.equal(404);
    expect(read.headers.get('location')).to.equal(null);
    await read.arrayBuffer();
  });
});
