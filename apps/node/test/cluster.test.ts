import { expect } from 'chai';
import { startNatsServer } from '@strata/testing';
import type { NatsServerHandle } from '@strata/testing';
import {
  ClusterNode,
  del,
  postBatch,
  put,
  sleep,
  statuses,
  waitFor,
  waitForConvergence,
  waitForLeader,
} from './cluster-helpers.js';
import type { ClusterNodeSettings, ClusterStatus } from './cluster-helpers.js';

type Op = { type: 'put'; key: string; value: string } | { type: 'delete'; key: string };

/** Writers that keep writing unique keys to whichever node leads, until stopped. */
interface Load {
  /** Keys (and values) whose write was answered 200. */
  readonly acknowledged: Map<string, string>;
  /** Writes answered 200 so far. */
  acknowledgedCount(): number;
  /** Stops the writers and waits for them. */
  stop(): Promise<void>;
}

describe('strata serve: replication over NATS (black box, 3 nodes)', function () {
  this.timeout(180_000);

  let nats: NatsServerHandle | undefined;
  let nodes: ClusterNode[] = [];
  let testIndex = 0;
  /** The node that last took a write (a hint for {@link writeToLeader}). */
  let leaderHint: ClusterNode | undefined;

  beforeEach(async function () {
    nats = await startNatsServer();
    nodes = [];
    leaderHint = undefined;
    testIndex++;
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') {
      for (const node of nodes) process.stderr.write(`${node.output()}\n`);
    }
    await Promise.all(nodes.map((node) => node.dispose().catch(() => undefined)));
    nodes = [];
    await nats?.stop().catch(() => undefined);
    nats = undefined;
  });

  /** Creates (without starting) nodes n1..n<count> of a cluster unique to this test. */
  async function createNodes(
    count: number,
    settings: Partial<ClusterNodeSettings> = {},
    cluster = `c${process.pid}t${testIndex}`,
  ): Promise<ClusterNode[]> {
    const created: ClusterNode[] = [];
    for (let index = 1; index <= count; index++) {
      const node = await ClusterNode.create({
        natsUrl: nats!.url,
        cluster,
        nodeId: `n${index}`,
        ...settings,
      });
      nodes.push(node);
      created.push(node);
    }
    return created;
  }

  /** The leader among the running nodes, or undefined. */
  async function currentLeader(
    candidates: readonly ClusterNode[],
  ): Promise<ClusterNode | undefined> {
    const all = await statuses(candidates.filter((node) => node.running));
    const leader = all.find(
      (status): status is ClusterStatus => typeof status !== 'string' && status.role === 'leader',
    );
    return candidates.find((node) => node.settings.nodeId === leader?.nodeId);
  }

  /**
   * Runs `write` against the current leader until it answers 200 (re-resolving the leader on a
   * 421, an error or a timeout). Only for idempotent writes: a failed attempt may have applied.
   */
  async function writeToLeader(
    candidates: readonly ClusterNode[],
    write: (url: string) => Promise<number>,
  ): Promise<void> {
    const deadline = Date.now() + 60_000;
    let lastStatus: number | string = 'no leader';
    for (;;) {
      const leader =
        leaderHint && candidates.includes(leaderHint) && leaderHint.running
          ? leaderHint
          : await currentLeader(candidates).catch(() => undefined);
      if (leader) {
        try {
          lastStatus = await write(leader.url);
          if (lastStatus === 200) {
            leaderHint = leader;
            return;
          }
        } catch (error) {
          lastStatus = String(error);
        }
        leaderHint = undefined;
      }
      if (Date.now() > deadline) throw new Error(`a write kept failing: ${lastStatus}`);
      await sleep(50);
    }
  }

  function startLoad(
    candidates: readonly ClusterNode[],
    options: { prefix: string; clients: number; batch: number; acks?: 'leader' | 'quorum' },
  ): Load {
    const acknowledged = new Map<string, string>();
    let count = 0;
    let stopped = false;
    const writers = Array.from({ length: options.clients }, async (_, client) => {
      let target: ClusterNode | undefined;
      for (let round = 0; !stopped; round++) {
        if (target === undefined || !target.running) {
          target = await currentLeader(candidates).catch(() => undefined);
          if (target === undefined) {
            await sleep(50);
            continue;
          }
        }
        const ops: Op[] = Array.from({ length: options.batch }, (_, index) => {
          const key = `${options.prefix}-c${client}-r${round}-${index}`;
          return { type: 'put', key, value: `value of ${key}` };
        });
        let status = 0;
        try {
          status =
            options.batch === 1
              ? await put(
                  target.url,
                  ops[0]!.key,
                  (ops[0] as { value: string }).value,
                  options.acks,
                )
              : await postBatch(target.url, ops, options.acks);
        } catch {
          status = 0;
        }
        if (status === 200) {
          for (const op of ops) if (op.type === 'put') acknowledged.set(op.key, op.value);
          count++;
        } else {
          target = undefined;
          await sleep(50);
        }
      }
    });
    return {
      acknowledged,
      acknowledgedCount: () => count,
      async stop() {
        stopped = true;
        await Promise.all(writers);
      },
    };
  }

  /** Waits for convergence, then checks that every node's full scan equals the first node's. */
  async function expectSameData(all: readonly ClusterNode[]): Promise<ClusterStatus[]> {
    const converged = await waitForConvergence(all, 90_000);
    const scans = await Promise.all(all.map((node) => node.scan()));
    const lastSeqno = converged[0]!.lastSeqno;
    for (const [index, scan] of scans.entries()) {
      expect(scan.at, `scan of ${all[index]!.settings.nodeId} pinned at`).to.equal(lastSeqno);
      expect(scan.items.length, `keys on ${all[index]!.settings.nodeId}`).to.equal(
        scans[0]!.items.length,
      );
      expect(scan.items, `scan of ${all[index]!.settings.nodeId}`).to.deep.equal(scans[0]!.items);
    }
    return converged;
  }

  it('one leader and two followers converge after 50,000 mixed writes from concurrent clients', async function () {
    const all = await createNodes(3, { role: 'auto', leaseTtlMs: 1000 });
    await Promise.all(all.map((node) => node.start()));
    await waitForLeader(all);

    // Four clients, each on its own keys so the final state is known: 120 batches of 100 ops
    // (every tenth a delete) and 500 single writes (every fourth a DELETE) each: 50,000 entries.
    const expected = new Map<string, string>();
    const clients = Array.from({ length: 4 }, async (_, client) => {
      const mine = new Map<string, string>();
      const keyOf = (n: number): string => `c${client}-k${String(n % 9000).padStart(5, '0')}`;
      let index = 0;
      for (let batch = 0; batch < 120; batch++) {
        const ops: Op[] = [];
        for (let op = 0; op < 100; op++, index++) {
          if (index % 10 === 9) ops.push({ type: 'delete', key: keyOf(index + 4500) });
          else ops.push({ type: 'put', key: keyOf(index), value: `v${client}-${index}` });
        }
        await writeToLeader(all, (url) => postBatch(url, ops, 'quorum'));
        for (const op of ops) {
          if (op.type === 'put') mine.set(op.key, op.value);
          else mine.delete(op.key);
        }
      }
      for (let single = 0; single < 500; single++, index++) {
        if (single % 4 === 3) {
          const key = keyOf(index * 13);
          await writeToLeader(all, (url) => del(url, key, 'quorum'));
          mine.delete(key);
        } else {
          const key = keyOf(index * 7);
          await writeToLeader(all, (url) => put(url, key, `s${client}-${index}`, 'quorum'));
          mine.set(key, `s${client}-${index}`);
        }
      }
      return { mine, index };
    });
    let entries = 0;
    for (const { mine, index } of await Promise.all(clients)) {
      entries += index;
      for (const [key, value] of mine) expected.set(key, value);
    }
    expect(entries).to.equal(50_000);

    const converged = await expectSameData(all);
    expect(converged.every((status) => status.lastSeqno >= 50_000)).to.equal(true);
    expect(new Set(converged.map((status) => status.durableSeqno)).size).to.equal(1);
    const scan = await all[0]!.scan();
    expect(scan.items.length).to.equal(expected.size);
    expect(Object.fromEntries(scan.items.map((item) => [item.key, item.value]))).to.deep.equal(
      Object.fromEntries(expected),
    );
  });

  it('a follower killed with SIGKILL during writes catches up after a restart', async function () {
    const all = await createNodes(3, { role: 'auto', leaseTtlMs: 1000 });
    await Promise.all(all.map((node) => node.start()));
    const leader = await waitForLeader(all);
    const victim = all.find((node) => node !== leader)!;
    const load = startLoad(all, { prefix: 'kill', clients: 3, batch: 20, acks: 'quorum' });
    await waitFor('some writes', 20_000, () => (load.acknowledgedCount() >= 30 ? true : undefined));
    expect(await victim.stop('SIGKILL')).to.equal('SIGKILL');
    const atKill = load.acknowledgedCount();
    await waitFor('writes while the follower is down', 20_000, () =>
      load.acknowledgedCount() >= atKill + 50 ? true : undefined,
    );
    await victim.start();
    const atRestart = load.acknowledgedCount();
    await waitFor('writes after the restart', 20_000, () =>
      load.acknowledgedCount() >= atRestart + 30 ? true : undefined,
    );
    await load.stop();

    const converged = await expectSameData(all);
    expect(converged.map((status) => status.role).sort()).to.deep.equal([
      'follower',
      'follower',
      'leader',
    ]);
    const scan = await victim.scan();
    const values = new Map(scan.items.map((item) => [item.key, item.value]));
    for (const [key, value] of load.acknowledged) expect(values.get(key), key).to.equal(value);
  });

  it('a node started after the stream dropped old messages bootstraps from a checkpoint', async function () {
    const all = await createNodes(3, {
      role: 'auto',
      leaseTtlMs: 1000,
      extraArgs: ['--stream-max-bytes', '256KiB'],
    });
    const [first, second, late] = all as [ClusterNode, ClusterNode, ClusterNode];
    await Promise.all([first.start(), second.start()]);
    await waitForLeader([first, second]);
    // ~1.5 MB of records, six times what the stream keeps.
    const padding = 'x'.repeat(200);
    for (let batch = 0; batch < 60; batch++) {
      const ops: Op[] = Array.from({ length: 100 }, (_, index) => ({
        type: 'put',
        key: `boot-${String(batch * 100 + index).padStart(6, '0')}`,
        value: `${batch}-${index}-${padding}`,
      }));
      await writeToLeader([first, second], (url) => postBatch(url, ops, 'quorum'));
    }
    await late.start();
    const converged = await expectSameData(all);
    const lateStatus = converged.find((status) => status.nodeId === late.settings.nodeId)!;
    expect(lateStatus.role).to.equal('follower');
    expect(lateStatus.bootstraps).to.equal(1);
    expect(lateStatus.lastSeqno).to.be.at.least(6000);
    expect((await late.scan()).items.length).to.equal(6000);
    // It keeps following the stream after the bootstrap.
    await writeToLeader(all, (url) => put(url, 'after-bootstrap', 'yes', 'quorum'));
    const lastSeqno = Math.max(
      ...(await Promise.all(all.map(async (n) => (await n.status()).lastSeqno))),
    );
    const response = await fetch(`${late.url}/v1/kv/after-bootstrap?minSeqno=${lastSeqno}`);
    expect(response.status).to.equal(200);
    expect(await response.text()).to.equal('yes');
    expect((await late.status()).bootstraps).to.equal(1);
  });

  it('replication resumes by itself after nats-server is killed and restarted under load', async function () {
    const all = await createNodes(3, { role: 'auto', leaseTtlMs: 3000 });
    await Promise.all(all.map((node) => node.start()));
    await waitForLeader(all);
    const load = startLoad(all, { prefix: 'nats', clients: 3, batch: 10 });
    await waitFor('some writes', 20_000, () => (load.acknowledgedCount() >= 50 ? true : undefined));
    await nats!.kill();
    await sleep(1500);
    await nats!.restart();
    const atRestart = load.acknowledgedCount();
    await waitFor('writes after nats-server came back', 30_000, () =>
      load.acknowledgedCount() >= atRestart + 50 ? true : undefined,
    );
    await load.stop();

    await waitForLeader(all, 30_000);
    await expectSameData(all);
    // While JetStream recovers its streams, lease renewals can time out and the leader steps
    // down; the cluster must settle on one leader that every node knows, with the same data.
    await waitForLeader(all, 30_000);
    const converged = await expectSameData(all);
    expect(new Set(converged.map((status) => status.epoch)).size).to.equal(1);
  });

  it('after the leader is SIGKILLed a follower takes over with every quorum-acknowledged write; the old leader rejoins as follower', async function () {
    const leaseTtlMs = 1000;
    const all = await createNodes(3, { role: 'auto', leaseTtlMs, acks: 'quorum' });
    await Promise.all(all.map((node) => node.start()));
    await waitForLeader(all);
    // The writers follow the leader; with acks=quorum every 200 must survive the failover.
    const load = startLoad(all, { prefix: 'quorum', clients: 4, batch: 5, acks: 'quorum' });
    await waitFor('some quorum writes', 30_000, () =>
      load.acknowledgedCount() >= 100 ? true : undefined,
    );
    const oldLeader = await waitForLeader(all);
    const epochBefore = (await oldLeader.status()).epoch;
    const survivors = all.filter((node) => node !== oldLeader);
    expect(await oldLeader.stop('SIGKILL')).to.equal('SIGKILL');
    const killedAt = Date.now();
    await load.stop();
    expect(load.acknowledged.size).to.be.at.least(500);

    // A few lease periods, with room for a slow, shared CI machine.
    const newLeader = await waitForLeader(survivors, 15 * leaseTtlMs);
    const takeoverMs = Date.now() - killedAt;
    expect(takeoverMs).to.be.below(15 * leaseTtlMs);
    expect((await newLeader.status()).epoch).to.be.above(epochBefore);
    const scan = await newLeader.scan();
    const values = new Map(scan.items.map((item) => [item.key, item.value]));
    for (const [key, value] of load.acknowledged) expect(values.get(key), key).to.equal(value);

    // The new leader takes writes; the old one comes back as a follower with the same data.
    await writeToLeader(survivors, (url) => put(url, 'after-failover', 'ok', 'quorum'));
    await oldLeader.start();
    const converged = await expectSameData(all);
    const rejoined = converged.find((status) => status.nodeId === oldLeader.settings.nodeId)!;
    expect(rejoined.role).to.equal('follower');
    const rejoinedScan = new Map(
      (await oldLeader.scan()).items.map((item) => [item.key, item.value]),
    );
    for (const [key, value] of load.acknowledged)
      expect(rejoinedScan.get(key), key).to.equal(value);
    expect(rejoinedScan.get('after-failover')).to.equal('ok');
  });
});
