import { expect } from 'chai';
import { startNatsServer } from '@strata/testing';
import type { NatsServerHandle } from '@strata/testing';
import { ClusterNode, waitFor, waitForConvergence, waitForLeader } from './cluster-helpers.js';

/** One line of `GET /v1/events`. */
interface EventLine {
  seqno: number;
  type: string;
  key: string;
  expired?: boolean;
}

/** Every event a node holds (from seqno 1 to its last). */
async function eventsOf(node: ClusterNode): Promise<EventLine[]> {
  const response = await fetch(`${node.url}/v1/events?from=1`);
  expect(response.status).to.equal(200);
  const text = await response.text();
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as EventLine);
}

/** PUT with a time to live, acknowledged by a quorum; resolves with the write's seqno. */
async function putWithTtl(node: ClusterNode, key: string, ttlMs: number): Promise<number> {
  const response = await fetch(`${node.url}/v1/kv/${encodeURIComponent(key)}?ttlMs=${ttlMs}`, {
    method: 'PUT',
    body: `value of ${key}`,
  });
  expect(response.status, await response.clone().text()).to.equal(200);
  return ((await response.json()) as { seqno: number }).seqno;
}

/**
 * Time to live on a 3-node cluster: only the leader writes expiry events, every follower applies
 * them (one event per key, identical logs), no node serves an expired value, and after the
 * leader is SIGKILLed the new leader writes the expiry events the old one still owed.
 */
describe('strata serve: time to live on a 3-node cluster (black box)', function () {
  this.timeout(240_000);
  let nats: NatsServerHandle | undefined;
  const nodes: ClusterNode[] = [];

  before(async function () {
    nats = await startNatsServer();
    for (let index = 1; index <= 3; index++) {
      nodes.push(
        await ClusterNode.create({
          natsUrl: nats.url,
          cluster: `ttl${process.pid}`,
          nodeId: `n${index}`,
          role: 'auto',
          leaseTtlMs: 2000,
        }),
      );
    }
    await Promise.all(nodes.map((node) => node.start()));
  });

  after(async function () {
    if (this.currentTest?.state === 'failed') {
      for (const node of nodes) process.stderr.write(`${node.output()}\n`);
    }
    await Promise.all(nodes.map((node) => node.dispose().catch(() => undefined)));
    await nats?.stop().catch(() => undefined);
  });

  /** Waits until every running node holds `count` expiry events and the same log; returns it. */
  async function expiryEventsEverywhere(count: number): Promise<EventLine[]> {
    const running = nodes.filter((node) => node.running);
    await waitFor('every node holding the expiry events', 60_000, async () => {
      for (const node of running) {
        const expired = (await eventsOf(node)).filter((event) => event.expired === true);
        if (expired.length < count) return undefined;
      }
      return true;
    });
    await waitForConvergence(running);
    const logs = await Promise.all(running.map((node) => eventsOf(node)));
    for (const log of logs.slice(1)) expect(log).to.deep.equal(logs[0]);
    return logs[0]!;
  }

  it('the leader alone writes one expiry event per key; followers apply it; nobody serves the value after its deadline', async function () {
    const leader = await waitForLeader(nodes);
    const keys = Array.from({ length: 40 }, (_, index) => `ttl/a${index}`);
    const seqnos = new Map<string, number>();
    for (const key of keys) seqnos.set(key, await putWithTtl(leader, key, 300));
    const permanent = await fetch(`${leader.url}/v1/kv/ttl%2Fkept`, { method: 'PUT', body: 'v' });
    expect(permanent.status).to.equal(200);

    const log = await expiryEventsEverywhere(keys.length);
    const expiries = log.filter((event) => event.expired === true);
    // One expiry event per key (none written twice, none by a follower), each after its put.
    expect(expiries.map((event) => event.key).sort()).to.deep.equal([...keys].sort());
    for (const event of expiries) {
      expect(event.type).to.equal('delete');
      expect(event.seqno).to.be.greaterThan(seqnos.get(event.key)!);
    }
    for (const node of nodes) {
      for (const key of keys.slice(0, 5)) {
        const read = await fetch(`${node.url}/v1/kv/${encodeURIComponent(key)}`);
        expect(read.status, `${node.settings.nodeId} ${key}`).to.equal(404);
      }
      expect((await fetch(`${node.url}/v1/kv/ttl%2Fkept`)).status).to.equal(200);
    }
  });

  it('after the leader is SIGKILLed, the new leader writes the expiry events the old one owed', async function () {
    const leader = await waitForLeader(nodes);
    const keys = Array.from({ length: 20 }, (_, index) => `ttl/b${index}`);
    // Long enough that the old leader dies before the deadline; quorum-acknowledged, so every
    // follower has the puts (and their deadlines).
    for (const key of keys) await putWithTtl(leader, key, 6_000);
    await leader.stop('SIGKILL');
    const survivors = nodes.filter((node) => node.running);
    const next = await waitForLeader(survivors, 60_000);
    expect(next).to.not.equal(leader);
    const log = await expiryEventsEverywhere(40 + keys.length);
    const expiredB = log.filter((event) => event.expired === true && event.key.startsWith('ttl/b'));
    expect(expiredB.map((event) => event.key).sort()).to.deep.equal([...keys].sort());
    for (const node of survivors) {
      const read = await fetch(`${node.url}/v1/kv/ttl%2Fb0`);
      expect(read.status).to.equal(404);
    }
  });
});
