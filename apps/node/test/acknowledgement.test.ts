import { expect } from 'chai';
import { startNatsServer } from '@strata/testing';
import type { NatsServerHandle } from '@strata/testing';
import {
  ClusterNode,
  statuses,
  waitFor,
  waitForConvergence,
  waitForLeader,
} from './cluster-helpers.js';
import type { ClusterNodeSettings, ClusterStatus } from './cluster-helpers.js';

/** One write's answer: the HTTP status and, for an error, its code. */
interface WriteAnswer {
  readonly status: number;
  readonly code: string | undefined;
}

/** POST /v1/batch of `keys` (value = key); `acks` is left to the node's default when omitted. */
async function writeBatch(
  url: string,
  keys: readonly string[],
  acks?: 'leader' | 'quorum',
): Promise<WriteAnswer> {
  const response = await fetch(`${url}/v1/batch${acks ? `?acks=${acks}` : ''}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ops: keys.map((key) => ({ type: 'put', key, value: key })) }),
  });
  const body = (await response.json()) as { error?: { code?: string } };
  return { status: response.status, code: body.error?.code };
}

function keysOf(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, index) => `${prefix}-${index}`);
}

describe('acknowledgements in a 3-node cluster (real nats-server, SIGSTOP and SIGKILL)', function () {
  this.timeout(180_000);

  let nats: NatsServerHandle | undefined;
  let nodes: ClusterNode[] = [];
  let testIndex = 0;

  beforeEach(async function () {
    nats = await startNatsServer();
    nodes = [];
    testIndex++;
  });

  afterEach(async function () {
    nats?.resume();
    if (this.currentTest?.state === 'failed') {
      for (const node of nodes) process.stderr.write(`${node.output()}\n`);
    }
    await Promise.all(nodes.map((node) => node.dispose().catch(() => undefined)));
    nodes = [];
    await nats?.stop().catch(() => undefined);
    nats = undefined;
  });

  async function startNodes(settings: Partial<ClusterNodeSettings>): Promise<ClusterNode[]> {
    for (let index = 1; index <= 3; index++) {
      nodes.push(
        await ClusterNode.create({
          natsUrl: nats!.url,
          cluster: `acks${process.pid}t${testIndex}`,
          nodeId: `n${index}`,
          role: 'auto',
          ...settings,
        }),
      );
    }
    await Promise.all(nodes.map((node) => node.start()));
    return nodes;
  }

  /** Every key of `acknowledged` with its value on `node` (one full scan). */
  async function expectAllOn(node: ClusterNode, acknowledged: readonly string[]): Promise<void> {
    const values = new Map((await node.scan()).items.map((item) => [item.key, item.value]));
    const missing = acknowledged.filter((key) => values.get(key) !== key);
    expect(missing, `acknowledged keys missing on ${node.settings.nodeId}`).to.deep.equal([]);
  }

  it('on the default acks, a leader cut off from NATS acknowledges nothing, and every write it acknowledged survives its SIGKILL', async function () {
    const all = await startNodes({ leaseTtlMs: 2000, extraArgs: ['--quorum-timeout-ms', '1500'] });
    // Leadership may still move while the nodes settle: write through whichever node leads.
    const leader = await waitFor('a quorum-acknowledged first write', 60_000, async () => {
      const current = await waitForLeader(all);
      return (await writeBatch(current.url, ['warm-up'])).status === 200 ? current : undefined;
    });

    // Frozen NATS: the followers cannot get anything, so no write may be answered 200.
    await nats!.pause();
    const whilePaused = await Promise.all(
      Array.from({ length: 30 }, (_, batch) =>
        writeBatch(leader.url, keysOf(`paused-b${batch}`, 100)),
      ),
    );
    nats!.resume();
    const answered = whilePaused.map((answer) => `${answer.status} ${answer.code}`);
    expect(
      answered.filter((answer) => answer.startsWith('200')),
      'acknowledged while NATS was frozen',
    ).to.deep.equal([]);
    for (const answer of whilePaused) {
      expect(answer.code, JSON.stringify(answered)).to.be.oneOf([
        'TIMEOUT',
        'NOT_LEADER',
        'OUTCOME_UNKNOWN',
        'REPLICATION_BACKLOG',
      ]);
    }

    // NATS is back: writers follow the leader on the default acks; the leader dies mid-stream.
    const acknowledged: string[] = ['warm-up'];
    let stopped = false;
    let round = 0;
    const writers = Array.from({ length: 4 }, async (_, client) => {
      while (!stopped) {
        const current = all.find((node) => node.running);
        const status = await statuses(all.filter((node) => node.running));
        const leaderId = status.find(
          (s): s is ClusterStatus => typeof s !== 'string' && s.role === 'leader',
        )?.nodeId;
        const target = all.find((node) => node.settings.nodeId === leaderId) ?? current;
        if (target === undefined) continue;
        const keys = keysOf(`live-c${client}-r${round++}`, 5);
        const answer = await writeBatch(target.url, keys).catch(() => undefined);
        if (answer?.status === 200) acknowledged.push(...keys);
      }
    });
    await waitFor('100 acknowledged batches after NATS resumed', 60_000, () =>
      acknowledged.length >= 500 ? true : undefined,
    );
    const oldLeader = await waitForLeader(all);
    expect(await oldLeader.stop('SIGKILL')).to.equal('SIGKILL');
    stopped = true;
    await Promise.all(writers);

    const survivors = all.filter((node) => node !== oldLeader);
    const newLeader = await waitForLeader(survivors, 30_000);
    await expectAllOn(newLeader, acknowledged);
    await oldLeader.start();
    await waitForConvergence(all, 90_000);
    for (const node of all) await expectAllOn(node, acknowledged);
  });

  it('under acks=leader, a leader past --max-unreplicated-entries refuses writes with REPLICATION_BACKLOG and takes them again once the followers catch up', async function () {
    const maxEntries = 200;
    const batchEntries = 10;
    // A long lease: the leader keeps leading while NATS is frozen, so the bound is what refuses.
    const all = await startNodes({
      leaseTtlMs: 20_000,
      acks: 'leader',
      extraArgs: ['--max-unreplicated-entries', String(maxEntries), '--quorum-timeout-ms', '1500'],
    });
    const leader = await waitForLeader(all, 60_000);
    await waitForConvergence(all);

    await nats!.pause();
    let acknowledgedEntries = 0;
    let refusal: WriteAnswer | undefined;
    for (let batch = 0; refusal === undefined; batch++) {
      expect(batch, 'batches before a refusal').to.be.below(100);
      const answer = await writeBatch(leader.url, keysOf(`b${batch}`, batchEntries), 'leader');
      if (answer.status === 200) acknowledgedEntries += batchEntries;
      else refusal = answer;
    }
    expect(refusal).to.deep.equal({ status: 503, code: 'REPLICATION_BACKLOG' });
    // Refused before admission: the leader took at most one batch past the bound.
    expect(acknowledgedEntries).to.be.at.least(maxEntries);
    expect(acknowledgedEntries).to.be.below(maxEntries + batchEntries);
    const lastSeqno = (await leader.status()).lastSeqno;
    // Refused whatever the ack mode, and nothing more is admitted.
    expect(await writeBatch(leader.url, ['refused-quorum'], 'quorum')).to.deep.equal({
      status: 503,
      code: 'REPLICATION_BACKLOG',
    });
    expect((await leader.status()).lastSeqno).to.equal(lastSeqno);

    nats!.resume();
    await waitFor('the leader to take acks=leader writes again', 60_000, async () =>
      (await writeBatch(leader.url, ['after-resume'], 'leader')).status === 200 ? true : undefined,
    );
    await waitForConvergence(all, 90_000);
    for (const node of all) await expectAllOn(node, ['after-resume']);
  });
});
