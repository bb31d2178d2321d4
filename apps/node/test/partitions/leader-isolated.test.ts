import { expect } from 'chai';
import { performance } from 'node:perf_hooks';
import { waitFor } from '../cluster-helpers.js';
import { checkHistory, formatCounts } from '../write-history.js';
import { PartitionCluster } from './partition-cluster.js';
import { PinnedWriter } from './pinned-writer.js';
import { PHASE_WRITES, expectClean, moreAcknowledged } from './scenario-checks.js';

describe('partition (network namespaces): the Strata leader isolated', function () {
  this.timeout(240_000);
  let cluster: PartitionCluster | undefined;
  let pinned: PinnedWriter | undefined;

  before(async function () {
    const reason = await PartitionCluster.unavailable();
    if (reason !== undefined) {
      console.log(`      skipped: ${reason}`);
      this.skip();
    }
  });

  beforeEach(async function () {
    cluster = await PartitionCluster.start();
  });

  afterEach(async function () {
    await pinned?.stop();
    pinned = undefined;
    await cluster?.dispose(this.currentTest?.state === 'failed');
    cluster = undefined;
  });

  it('from every NATS server and node: it stops acknowledging within its lease, the majority elects a leader, and after healing it follows with its unreplicated tail cut back', async function () {
    const c = cluster!;
    const describe = (): Promise<string> => c.describe();
    const old = await c.leader();
    const others = c.nodes.filter((node) => node !== old);
    const prefix = 'a';
    const load = c.startLoad(prefix);
    pinned = new PinnedWriter(old.url, 'p');
    await moreAcknowledged(load, PHASE_WRITES, 'writes before the partition', describe);
    const droppedBefore = (await old.status()).droppedEntries;

    // Only the test process (the clients) still reaches the old leader.
    const cutAt = performance.now();
    await c.lab.cut(
      [old.host],
      c.lab.hosts.map((host) => host.name).filter((name) => name !== old.host),
    );
    const next = await c.leader(others, 90_000);
    const electedMs = performance.now() - cutAt;
    await waitFor(
      `${old.settings.nodeId} stepped down`,
      60_000,
      async () => ((await old.status()).role === 'follower' ? true : undefined),
      describe,
    );
    const steppedDownMs = performance.now() - cutAt;
    await moreAcknowledged(load, PHASE_WRITES, 'writes on the majority side', describe);
    const isolated = await old.status();
    const majority = await next.status();

    await c.lab.heal();
    await waitFor(
      `${old.settings.nodeId} following the leader, at seqno ${majority.lastSeqno} or above`,
      90_000,
      async () => {
        const leader = await c.leader(c.nodes, 1_000).catch(() => undefined);
        const [mine, theirs] = await Promise.all([old.status(), leader?.status()]);
        return leader !== undefined &&
          leader !== old &&
          mine.leaderId === leader.settings.nodeId &&
          mine.epoch === theirs?.epoch &&
          mine.lastSeqno >= majority.lastSeqno
          ? true
          : undefined;
      },
      describe,
    );
    await moreAcknowledged(load, PHASE_WRITES, 'writes after healing', describe);
    await load.stop();
    await pinned.stop();

    const check = await checkHistory(c.checked, load, prefix);
    const dropped = (await old.status()).droppedEntries - droppedBefore;
    const leaseMs = old.leaseTtlMs;
    const lateAcks = pinned.acknowledgedAfter(cutAt + leaseMs);
    const lastAck = Math.max(0, ...pinned.acknowledgedAfter(cutAt).map((w) => w.endedAt - cutAt));
    console.log(
      formatCounts('leader isolated', check) +
        `\n      [leader isolated] ${old.settings.nodeId} cut off; ${next.settings.nodeId} led after ` +
        `${Math.round(electedMs)} ms, the old leader stepped down after ${Math.round(steppedDownMs)} ms ` +
        `(lease ${leaseMs} ms); its last acks=leader acknowledgement ${Math.round(lastAck)} ms after ` +
        `the cut, ${lateAcks.length} after its lease; it held seqno ${isolated.lastSeqno} ` +
        `(epoch ${isolated.epoch}) against the majority's ${majority.lastSeqno} (epoch ` +
        `${majority.epoch}); ${dropped} unreplicated entries cut back after healing`,
    );
    expectClean(check);
    expect(check.acknowledged).to.be.at.least(3 * PHASE_WRITES);
    expect(lateAcks, 'acknowledgements by the old leader after its lease').to.deep.equal([]);
    expect(dropped, 'entries of the old leader cut back').to.be.at.least(1);
    expect(isolated.lastSeqno, 'the old leader had an unreplicated tail').to.be.above(0);
  });
});
