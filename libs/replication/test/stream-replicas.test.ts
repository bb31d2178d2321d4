import { expect } from 'chai';
import { mkdir } from 'node:fs/promises';
import { connect } from 'nats';
import type { JetStreamManager, NatsConnection } from 'nats';
import { Store } from '@strata/store';
import {
  createTempDirectory,
  rejectionOf,
  startNatsCluster,
  startNatsServer,
} from '@strata/testing';
import type { NatsClusterHandle, NatsServerHandle } from '@strata/testing';
import {
  ClusterMeta,
  ReplicationNode,
  chooseStreamReplicas,
  clusterNames,
  describeNatsDeployment,
  ensureLogStream,
} from '../src/index.js';
import type { NatsDeployment, StreamReplicas } from '../src/index.js';
import { leaseStreamName } from '../src/stream-setup.js';

const LIMITS = { maxMessageBytes: 64 * 1024 };
const THREE: NatsDeployment = { jetStreamServers: 3, clustered: true, description: 'three' };
const TWO: NatsDeployment = { jetStreamServers: 2, clustered: true, description: 'two' };
const ALONE: NatsDeployment = { jetStreamServers: 1, clustered: false, description: 'alone' };

/** Replicas of `stream` as configured, and the servers JetStream placed it on. */
async function placement(
  jsm: JetStreamManager,
  stream: string,
): Promise<{ replicas: number; peers: string[] }> {
  const info = await jsm.streams.info(stream);
  const peers = [info.cluster?.leader, ...(info.cluster?.replicas ?? []).map((peer) => peer.name)];
  return {
    replicas: info.config.num_replicas,
    peers: peers.filter((peer): peer is string => peer !== undefined).sort(),
  };
}

describe('stream replicas: choice', () => {
  it('defaults to 3 with at least 3 JetStream servers, else 1, and says why', () => {
    expect(chooseStreamReplicas({ deployment: THREE })).to.deep.equal({
      replicas: 3,
      reason: 'default: three, at least 3',
    });
    expect(chooseStreamReplicas({ deployment: TWO }).replicas).to.equal(1);
    expect(chooseStreamReplicas({ deployment: ALONE }).replicas).to.equal(1);
    expect(chooseStreamReplicas({ deployment: ALONE }).reason).to.equal(
      'default: alone, fewer than 3',
    );
  });

  it('by default never lowers an existing stream (a NATS server down at startup undercounts)', () => {
    const kept = chooseStreamReplicas({ deployment: TWO, existingReplicas: 3 });
    expect(kept.replicas).to.equal(3);
    expect(kept.reason).to.include('already has 3 replicas');
    expect(chooseStreamReplicas({ deployment: THREE, existingReplicas: 1 }).replicas).to.equal(3);
    expect(chooseStreamReplicas({ deployment: THREE, existingReplicas: 5 }).replicas).to.equal(5);
  });

  it('takes an explicit count, also a lower one; refuses >1 without a NATS cluster, and counts other than 1, 3, 5', async () => {
    expect(
      chooseStreamReplicas({ requested: 1, deployment: THREE, existingReplicas: 3 }),
    ).to.deep.equal({ replicas: 1, reason: 'asked for 1 (three)' });
    expect(chooseStreamReplicas({ requested: 5, deployment: THREE }).replicas).to.equal(5);
    const alone = await rejectionOf(
      Promise.resolve().then(() => chooseStreamReplicas({ requested: 3, deployment: ALONE })),
    );
    expect(alone.code).to.equal('INVALID_ARGUMENT');
    expect(alone.message).to.include('alone');
    expect(alone.details).to.deep.equal({ requestedReplicas: 3, jetStreamServers: 1 });
    const even = await rejectionOf(
      Promise.resolve().then(() =>
        chooseStreamReplicas({ requested: 2 as StreamReplicas, deployment: THREE }),
      ),
    );
    expect(even.code).to.equal('INVALID_ARGUMENT');
  });
});

describe('stream replicas: against real nats-servers', function () {
  this.timeout(120_000);
  let cluster: NatsClusterHandle;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let testIndex = 0;
  const names = (): ReturnType<typeof clusterNames> => clusterNames(`r${process.pid}t${testIndex}`);

  before(async () => {
    cluster = await startNatsCluster();
    nc = await connect({ servers: [...cluster.urls], maxReconnectAttempts: -1 });
    jsm = await nc.jetstreamManager();
  });
  after(async () => {
    await nc?.close();
    await cluster?.stop();
  });
  beforeEach(() => {
    testIndex++;
  });

  it('reads the deployment from INFO: a 3-server cluster, and a standalone server', async () => {
    const three = describeNatsDeployment(nc.info);
    expect(three.jetStreamServers).to.equal(3);
    expect(three.clustered).to.equal(true);
    expect(three.description).to.include(cluster.name).and.include('3 servers');
    const alone: NatsServerHandle = await startNatsServer();
    try {
      const single = await connect({ servers: alone.url });
      expect(describeNatsDeployment(single.info)).to.include({
        jetStreamServers: 1,
        clustered: false,
      });
      await single.close();
    } finally {
      await alone.stop();
    }
  });

  it('creates the log stream with 3 replicas on the 3 servers; R5 there is a typed refusal', async () => {
    await ensureLogStream(jsm, names(), LIMITS, 3);
    expect(await placement(jsm, names().stream)).to.deep.equal({
      replicas: 3,
      peers: ['nats-1', 'nats-2', 'nats-3'],
    });
    // Asking again with the same count changes nothing.
    await ensureLogStream(jsm, names(), LIMITS, 3);
    const refused = await rejectionOf(ensureLogStream(jsm, names(), LIMITS, 5));
    expect(refused.code).to.equal('INVALID_ARGUMENT');
    expect(refused.message).to.include(`change stream ${names().stream} from 3 to 5 replicas`);
    expect(refused.details).to.deep.equal({
      stream: names().stream,
      requestedReplicas: 5,
      currentReplicas: 3,
      natsErrorCode: 10005,
    });
    expect((await placement(jsm, names().stream)).replicas).to.equal(3);

    const created = await rejectionOf(
      ensureLogStream(jsm, clusterNames(`r${process.pid}t${testIndex}five`), LIMITS, 5),
    );
    expect(created.code).to.equal('INVALID_ARGUMENT');
    expect(created.details).to.include({ requestedReplicas: 5, natsErrorCode: 10005 });
  });

  it('changes an existing stream: R1 to R3 keeps its messages, and back to R1', async () => {
    await ensureLogStream(jsm, names(), LIMITS, 1);
    const js = nc.jetstream();
    for (let index = 0; index < 5; index++)
      await js.publish(names().logSubject, Buffer.from(`m${index}`));
    expect((await placement(jsm, names().stream)).peers).to.have.length(1);
    await ensureLogStream(jsm, names(), LIMITS, 3);
    const grown = await jsm.streams.info(names().stream);
    expect(grown.config.num_replicas).to.equal(3);
    expect(grown.cluster?.leader).to.be.a('string');
    expect(grown.state.messages).to.equal(5);
    await ensureLogStream(jsm, names(), LIMITS, 1);
    expect((await placement(jsm, names().stream)).replicas).to.equal(1);
    expect((await jsm.streams.info(names().stream)).state.messages).to.equal(5);
  });

  it('ReplicationNode.start logs the default with its reason and gives the stream and the lease bucket 3 replicas', async () => {
    // An R1 lease bucket left by an earlier run is changed too (nats.js alone would keep it).
    await nc.jetstream().views.kv(names().leaseBucket, { ttl: 1000, history: 1, replicas: 1 });
    expect((await placement(jsm, leaseStreamName(names()))).replicas).to.equal(1);
    const dir = await createTempDirectory('stream-replicas-');
    const lines: { fields: object; message: string }[] = [];
    const collect = (fields: object, message: string): void => {
      lines.push({ fields, message });
    };
    let node: ReplicationNode | undefined;
    const meta = ClusterMeta.open(`${dir.path}/meta.sqlite`, {
      cluster: `r${process.pid}t${testIndex}`,
      nodeId: 'a',
    });
    try {
      await mkdir(`${dir.path}/data`, { recursive: true });
      node = await ReplicationNode.start({
        nats: nc,
        cluster: `r${process.pid}t${testIndex}`,
        nodeId: 'a',
        url: 'http://a.invalid',
        dataDirectory: `${dir.path}/data`,
        role: 'follower',
        meta,
        leaseTtlMs: 1_000,
        logger: { info: collect, warn: collect, error: collect },
        openStore: () => Store.open(`${dir.path}/data`, { sync: 'always' }),
      });
      const line = lines.find((entry) => entry.message.startsWith('log stream and lease bucket'));
      expect(line?.message).to.equal('log stream and lease bucket: 3 replicas');
      expect(line?.fields).to.deep.include({ streamReplicas: 3, jetStreamServers: 3 });
      expect((line?.fields as { reason: string }).reason).to.match(/^default: NATS cluster /);
      expect(await placement(jsm, names().stream)).to.deep.equal({
        replicas: 3,
        peers: ['nats-1', 'nats-2', 'nats-3'],
      });
      expect((await placement(jsm, leaseStreamName(names()))).replicas).to.equal(3);
    } finally {
      await node?.close();
      meta.close();
      await dir.remove();
    }
  });

  it('refuses replicas above 1 on a standalone server, typed, whether asked or created', async () => {
    const alone = await startNatsServer();
    const single = await connect({ servers: alone.url });
    try {
      const singleJsm = await single.jetstreamManager();
      const refused = await rejectionOf(ensureLogStream(singleJsm, names(), LIMITS, 3));
      expect(refused.code).to.equal('INVALID_ARGUMENT');
      expect(refused.details).to.include({ requestedReplicas: 3, natsErrorCode: 10074 });
      expect(refused.message).to.include('non-clustered');
    } finally {
      await single.close();
      await alone.stop();
    }
  });

  it('nodes that create the stream at the same moment all succeed, whatever limits each asks for', async () => {
    const alone = await startNatsServer();
    const single = await connect({ servers: alone.url });
    try {
      const singleJsm = await single.jetstreamManager();
      // The loser of each race finds a stream created between its lookup and its create (with
      // another limit, NATS refuses the create: "subjects overlap with an existing stream").
      for (let round = 0; round < 10; round++) {
        const raced = clusterNames(`race${round}`);
        const results = await Promise.allSettled(
          [64, 65, 66, 67].map((kib) =>
            ensureLogStream(singleJsm, raced, { maxMessageBytes: kib * 1024 }, 1),
          ),
        );
        expect(results.map((result) => result.status)).to.deep.equal([
          'fulfilled',
          'fulfilled',
          'fulfilled',
          'fulfilled',
        ]);
        expect((await singleJsm.streams.info(raced.stream)).config.subjects).to.deep.equal([
          raced.logSubject,
        ]);
      }
    } finally {
      await single.close();
      await alone.stop();
    }
  });
});
