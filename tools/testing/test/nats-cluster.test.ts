import { expect } from 'chai';
import { connect } from 'nats';
import type { JetStreamManager, NatsConnection } from 'nats';
import { startNatsCluster } from '../src/index.js';
import type { NatsClusterHandle } from '../src/index.js';

/** The stream's leader once JetStream names one (an election takes seconds). */
async function streamLeader(jsm: JetStreamManager, stream: string, not?: string): Promise<string> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const leader = await jsm.streams
      .info(stream)
      .then((info) => info.cluster?.leader)
      .catch(() => undefined);
    if (leader !== undefined && leader !== not) return leader;
    if (Date.now() > deadline) throw new Error(`stream ${stream} has no new leader`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('startNatsCluster', function () {
  this.timeout(120_000);
  let cluster: NatsClusterHandle | undefined;
  let nc: NatsConnection | undefined;

  afterEach(async () => {
    await nc?.close().catch(() => undefined);
    nc = undefined;
    await cluster?.stop();
    cluster = undefined;
  });

  it('runs three routed JetStream servers: an R3 stream survives the SIGKILL of its leader', async () => {
    cluster = await startNatsCluster();
    expect(cluster.servers.map((server) => server.name)).to.deep.equal([
      'nats-1',
      'nats-2',
      'nats-3',
    ]);
    expect(new Set(cluster.servers.flatMap((s) => [s.port, s.clusterPort])).size).to.equal(6);
    expect(cluster.url.split(',')).to.deep.equal(cluster.urls);
    nc = await connect({ servers: [...cluster.urls], maxReconnectAttempts: -1 });
    expect(nc.info?.cluster).to.equal(cluster.name);
    expect([...(nc.info?.connect_urls ?? [])].sort()).to.deep.equal(
      cluster.urls.map((url) => url.replace('nats://', '')).sort(),
    );
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: 'R3', subjects: ['r3.>'], num_replicas: 3 });
    const js = nc.jetstream();
    expect((await js.publish('r3.a', Buffer.from('one'))).seq).to.equal(1);

    const leader = await streamLeader(jsm, 'R3');
    const victim = cluster.member(leader);
    const pid = victim.pid;
    await victim.kill();
    expect(victim.running).to.equal(false);
    expect(() => process.kill(pid, 0)).to.throw();
    const next = await streamLeader(jsm, 'R3', leader);
    expect(next).to.not.equal(leader);
    expect((await js.publish('r3.b', Buffer.from('two'))).seq).to.equal(2);

    await victim.restart();
    expect(victim.running).to.equal(true);
    await cluster.waitUntilHealthy();
    const info = await jsm.streams.info('R3');
    expect(info.state.messages).to.equal(2);
    const peers = [info.cluster?.leader, ...(info.cluster?.replicas ?? []).map((p) => p.name)];
    expect(peers.sort()).to.deep.equal(['nats-1', 'nats-2', 'nats-3']);
  });

  it('is stopped by PID: every server exits and its ports stop accepting', async () => {
    cluster = await startNatsCluster();
    const pids = cluster.servers.map((server) => server.pid);
    const urls = [...cluster.urls];
    await cluster.stop();
    cluster = undefined;
    for (const pid of pids) expect(() => process.kill(pid, 0)).to.throw();
    for (const url of urls) {
      const refused = await connect({ servers: url, reconnect: false, timeout: 1000 }).then(
        async (connection) => {
          await connection.close();
          return false;
        },
        () => true,
      );
      expect(refused, url).to.equal(true);
    }
  });
});
