import { expect } from 'chai';
import { performance } from 'node:perf_hooks';
import { waitFor } from '../cluster-helpers.js';
import { checkHistory, formatCounts } from '../write-history.js';
import { waitForNatsCluster } from './nats-in-namespace.js';
import { PartitionCluster } from './partition-cluster.js';
import { PinnedWriter } from './pinned-writer.js';
import { PHASE_WRITES, expectClean, moreAcknowledged } from './scenario-checks.js';

describe('partition (network namespaces): NATS split 1/2', function () {
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

  it('the NATS server of the Strata leader and that leader on the minority side: the majority side elects a leader and takes quorum writes; after healing one log', async function () {
    const c = cluster!;
    const describe = (): Promise<string> => c.describe();
    // The Strata leader and its NATS server, once that server leads neither stream.
    let old = await c.leader();
    let server = await c.serverOf(old);
    for (let attempt = 0; attempt < 5 && (await c.moveStreamLeadersOff(server)); attempt++) {
      old = await c.leader();
      server = await c.serverOf(old);
    }
    const streamLeader = await c.streamLeader();
    const sharing = (await server.strataClients()).filter((id) => id !== old.settings.nodeId);
    const minority = [server.host, old.host];
    const majority = c.lab.hosts
      .map((host) => host.name)
      .filter((name) => !minority.includes(name));
    const others = c.nodes.filter((node) => node !== old);
    const prefix = 'c';
    const load = c.startLoad(prefix);
    pinned = new PinnedWriter(old.url, 'p');
    await moreAcknowledged(load, PHASE_WRITES, 'writes before the partition', describe);
    const droppedBefore = (await old.status()).droppedEntries;

    const cutAt = performance.now();
    await c.lab.cut(minority, majority);
    const next = await c.leader(others, 120_000);
    const electedMs = performance.now() - cutAt;
    await moreAcknowledged(load, PHASE_WRITES, 'quorum writes on the majority side', describe);
    const before = await next.status();

    await c.lab.heal();
    const healedAt = performance.now();
    // Healing may move leadership again (NATS re-elects as the server rejoins): whoever leads,
    // the old leader follows it and has everything the majority side had.
    await waitFor(
      `${old.settings.nodeId} following the leader (or leading a later term), at seqno ${before.lastSeqno} or above`,
      120_000,
      async () => {
        const leader = await c.leader(c.nodes, 1_000).catch(() => undefined);
        const [mine, theirs] = await Promise.all([old.status(), leader?.status()]);
        // The old leader may lead again, in a later term won after it caught up (seen in CI:
        // epoch 4 after the majority's 3); leading its own old term is what must not happen.
        return leader !== undefined &&
          (leader !== old || mine.epoch > before.epoch) &&
          mine.leaderId === leader.settings.nodeId &&
          mine.epoch === theirs?.epoch &&
          mine.lastSeqno >= before.lastSeqno
          ? leader
          : undefined;
      },
      describe,
    );
    const rejoinedMs = performance.now() - healedAt;
    await moreAcknowledged(load, PHASE_WRITES, 'writes after healing', describe);
    await load.stop();
    await pinned.stop();

    const check = await checkHistory(c.checked, load, prefix);
    // The NATS server is a member again: every server healthy, one meta leader.
    await waitForNatsCluster(c.nats, 60_000);
    const streamLeaderAfter = await c.streamLeader();
    const dropped = (await old.status()).droppedEntries - droppedBefore;
    const lateAcks = pinned.acknowledgedAfter(cutAt + old.leaseTtlMs);
    console.log(
      formatCounts('NATS split 1/2', check) +
        `\n      [NATS split 1/2] ${server.name} with ${old.settings.nodeId} (the leader) cut off from ` +
        `the other servers and nodes (sharing ${server.name}: ${sharing.join(', ') || 'no other node'}; ` +
        `stream leader ${streamLeader.name} before, ${streamLeaderAfter.name} after); ${next.settings.nodeId} ` +
        `led after ${Math.round(electedMs)} ms; the old leader followed ${Math.round(rejoinedMs)} ms ` +
        `after healing; its acknowledgements after its lease ` +
        `${lateAcks.length}; ${dropped} unreplicated entries cut back after healing`,
    );
    expectClean(check);
    expect(check.acknowledged).to.be.at.least(3 * PHASE_WRITES);
    expect(lateAcks, 'acknowledgements by the old leader after its lease').to.deep.equal([]);
  });
});
