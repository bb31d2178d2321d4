import { expect } from 'chai';
import { waitFor } from '../cluster-helpers.js';
import { checkHistory, formatCounts } from '../write-history.js';
import { PartitionCluster } from './partition-cluster.js';
import { PHASE_WRITES, expectClean, moreAcknowledged } from './scenario-checks.js';

describe('partition (network namespaces): one follower isolated', function () {
  this.timeout(240_000);
  let cluster: PartitionCluster | undefined;

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
    await cluster?.dispose(this.currentTest?.state === 'failed');
    cluster = undefined;
  });

  it('quorum writes go on with the leader and the other follower; the follower catches up after healing', async function () {
    const c = cluster!;
    const describe = (): Promise<string> => c.describe();
    const leader = await c.leader();
    const before = await leader.status();
    const [follower, other] = c.nodes.filter((node) => node !== leader) as [
      (typeof c.nodes)[number],
      (typeof c.nodes)[number],
    ];
    const prefix = 'b';
    const load = c.startLoad(prefix);
    await moreAcknowledged(load, PHASE_WRITES, 'writes before the partition', describe);

    // The follower keeps only the test process (its clients) as a peer.
    await c.lab.cut(
      [follower.host],
      c.lab.hosts.map((host) => host.name).filter((name) => name !== follower.host),
    );
    await moreAcknowledged(load, PHASE_WRITES, 'quorum writes with the follower cut off', describe);
    const behind = (await follower.status()).lastSeqno;
    const leaderAtHeal = (await leader.status()).lastSeqno;
    expect(behind, 'the isolated follower stayed behind').to.be.below(leaderAtHeal);

    await c.lab.heal();
    await waitFor(
      `${follower.settings.nodeId} at seqno ${leaderAtHeal} after healing`,
      90_000,
      async () => ((await follower.status()).lastSeqno >= leaderAtHeal ? true : undefined),
      describe,
    );
    await moreAcknowledged(load, PHASE_WRITES, 'writes after healing', describe);
    await load.stop();

    const check = await checkHistory(c.checked, load, prefix);
    const after = await leader.status();
    console.log(
      formatCounts('follower isolated', check) +
        `\n      [follower isolated] ${follower.settings.nodeId} cut off at seqno ${behind} ` +
        `while the leader reached ${leaderAtHeal}; caught up after healing`,
    );
    expectClean(check);
    expect(check.acknowledged).to.be.at.least(3 * PHASE_WRITES);
    // The leader never changed: a follower alone cannot take the lease, nor disturb it.
    expect(after.role).to.equal('leader');
    expect(after.epoch).to.equal(before.epoch);
    expect((await other.status()).leaderId).to.equal(leader.settings.nodeId);
    expect((await follower.status()).role).to.equal('follower');
  });
});
