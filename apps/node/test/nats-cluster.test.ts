import { expect } from 'chai';
import { performance } from 'node:perf_hooks';
import { connect } from 'nats';
import type { JetStreamManager, NatsConnection } from 'nats';
import {
  createTempDirectory,
  findFreePort,
  startNatsCluster,
  startNatsServer,
} from '@strata/testing';
import type { NatsClusterHandle, NatsClusterMember } from '@strata/testing';
import { runCli } from './helpers.js';
import { ClusterNode, statuses, waitFor, waitForLeader } from './cluster-helpers.js';
import { WriteLoad, checkHistory, formatCounts } from './write-history.js';
import type { HistoryCheck } from './write-history.js';

/** Acknowledged writes each phase waits for; raise it for a longer soak (CI keeps it small). */
const PHASE_WRITES = Number(process.env['STRATA_NATS_CLUSTER_PHASE_WRITES'] ?? 40);

describe('strata serve over a 3-server NATS cluster (R3 streams, black box)', function () {
  this.timeout(420_000);

  let nats: NatsClusterHandle | undefined;
  let nc: NatsConnection | undefined;
  let jsm: JetStreamManager;
  let nodes: ClusterNode[] = [];
  /** Loads still running when a test fails: stopped after it, or mocha would never exit. */
  let loads: WriteLoad[] = [];
  let testIndex = 0;
  let stream = '';

  beforeEach(async function () {
    testIndex++;
    nats = await startNatsCluster();
    nc = await connect({ servers: [...nats.urls], maxReconnectAttempts: -1 });
    jsm = await nc.jetstreamManager();
    const cluster = `nc${process.pid}t${testIndex}`;
    stream = `STRATA_${cluster}`;
    nodes = [];
    for (let index = 1; index <= 3; index++) {
      nodes.push(
        await ClusterNode.create({
          // Every node is given every server: it must reconnect across them by itself.
          natsUrl: nats.url,
          cluster,
          nodeId: `n${index}`,
          leaseTtlMs: 2_000,
          extraArgs: ['--quorum-timeout-ms', '3000'],
        }),
      );
    }
    // The first node creates the stream and the lease bucket (by default R3: 3 servers).
    await nodes[0]!.start();
    await Promise.all(nodes.slice(1).map((node) => node.start()));
    await waitForLeader(nodes, 30_000);
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') {
      for (const node of nodes) process.stderr.write(`${node.output()}\n`);
    }
    await Promise.all(loads.map((load) => load.stop()));
    loads = [];
    await Promise.all(nodes.map((node) => node.dispose().catch(() => undefined)));
    nodes = [];
    await nc?.close().catch(() => undefined);
    nc = undefined;
    await nats?.stop().catch(() => undefined);
    nats = undefined;
  });

  /** The NATS server that leads the log stream now (other than `not`), once there is one. */
  async function streamLeader(not?: string): Promise<NatsClusterMember> {
    const name = await waitFor(
      `a leader of ${stream}${not ? ` other than ${not}` : ''}`,
      60_000,
      async () => {
        const leader = (await jsm.streams.info(stream)).cluster?.leader;
        return leader !== undefined && leader !== not ? leader : undefined;
      },
    );
    return nats!.member(name);
  }

  /** The Strata nodes whose NATS connection is on `server` (its `/connz`, by connection name). */
  async function strataClientsOf(server: NatsClusterMember): Promise<string[]> {
    const connz = (await (await fetch(`${server.monitorUrl}/connz`)).json()) as {
      connections?: { name?: string }[];
    };
    return (connz.connections ?? [])
      .map((connection) => connection.name ?? '')
      .filter((name) => name.startsWith('strata-'))
      .sort();
  }

  /** Waits until `load` has `count` more acknowledged writes than now. */
  async function moreAcknowledged(
    load: WriteLoad,
    count: number,
    what: string,
    timeoutMs = 90_000,
  ): Promise<void> {
    const target = load.count('acknowledged') + count;
    await waitFor(
      what,
      timeoutMs,
      () => (load.count('acknowledged') >= target ? true : undefined),
      async () => JSON.stringify(await statuses(nodes)),
    );
  }

  /** Starts clients writing unique keys under `prefix` (stopped after the test in any case). */
  function startLoad(prefix: string): WriteLoad {
    const load = new WriteLoad(nodes, { prefix, clients: 3 });
    loads.push(load);
    return load;
  }

  function expectClean(check: HistoryCheck): void {
    expect(check.lost, 'acknowledged writes lost').to.equal(0);
    expect(check.unexpected, 'values no client wrote').to.equal(0);
    expect(check.divergent, 'nodes whose log or data differ').to.equal(0);
    expect(check.failed, 'operations without a typed answer').to.equal(0);
  }

  it('SIGKILL of the NATS server leading the log stream: writes continue under a new stream leader; every acknowledged write is on every node', async function () {
    const info = await jsm.streams.info(stream);
    expect(info.config.num_replicas, 'default replicas with 3 servers').to.equal(3);
    expect(
      (await jsm.streams.info(`KV_${stream}_lease`)).config.num_replicas,
      'lease bucket replicas',
    ).to.equal(3);

    const prefix = 'a';
    const load = startLoad(prefix);
    await moreAcknowledged(load, PHASE_WRITES, 'writes before the kill');
    const victim = await streamLeader();
    const connectedToVictim = await strataClientsOf(victim);
    await victim.kill();
    const next = await streamLeader(victim.name);
    await moreAcknowledged(load, PHASE_WRITES, 'writes after NATS elected a new stream leader');
    await load.stop();

    const check = await checkHistory(nodes, load, prefix);
    console.log(
      formatCounts('NATS stream leader SIGKILL', check) +
        `\n      [NATS stream leader SIGKILL] stream leader ${victim.name} -> ${next.name}; ` +
        `Strata nodes that were connected to it: ${connectedToVictim.join(', ') || 'none'}`,
    );
    expectClean(check);
    expect(check.acknowledged).to.be.at.least(2 * PHASE_WRITES);
    // Every node is connected to a live server: those that were on the victim moved.
    const connected = (
      await Promise.all(
        nats!.servers.filter((member) => member.running).map((member) => strataClientsOf(member)),
      )
    ).flat();
    expect(connected.sort()).to.deep.equal(['strata-n1', 'strata-n2', 'strata-n3']);
  });

  it('SIGKILL of a second NATS server (no quorum): writes are refused with typed errors, none acknowledged is lost, writes resume when one server returns', async function () {
    const prefix = 'b';
    const load = startLoad(prefix);
    await moreAcknowledged(load, PHASE_WRITES, 'writes before the first kill');
    const leader = await streamLeader();
    const first = nats!.servers.find((member) => member !== leader)!;
    await first.kill();
    await moreAcknowledged(load, PHASE_WRITES / 2, 'writes with one NATS server down');

    await leader.kill();
    const secondKilledAt = performance.now();
    // Every client has seen the outage: refusals of writes sent after the second kill.
    await waitFor('refusals after the second kill', 60_000, () =>
      load.count('refused', (operation) => operation.startedAt > secondKilledAt) >= 10
        ? true
        : undefined,
    );
    const outageFrom = performance.now();
    // Writes sent from now on cannot reach a quorum: no NATS stream leader can be elected.
    await waitFor('writes sent and answered during the outage', 60_000, () =>
      load.count(undefined, (operation) => operation.startedAt > outageFrom) >= 15
        ? true
        : undefined,
    );
    const restartFrom = performance.now();
    const duringOutage = (operation: { startedAt: number; endedAt: number }): boolean =>
      operation.startedAt > outageFrom && operation.endedAt < restartFrom;
    const refusedDuringOutage = load.count('refused', duringOutage);
    const acknowledgedDuringOutage = load.count('acknowledged', duringOutage);

    await first.restart();
    const restartedAt = performance.now();
    // Its stream replica catches up first: 0.2 to 17 s in CI runs, 66 s once on a machine busy
    // with another suite (nats-server 2.9), hence the longer bound.
    await moreAcknowledged(load, PHASE_WRITES, 'writes after a NATS server came back', 180_000);
    const resumedMs = Math.round(performance.now() - restartedAt);
    await load.stop();

    const check = await checkHistory(nodes, load, prefix);
    console.log(
      formatCounts('NATS quorum lost', check) +
        `\n      [NATS quorum lost] during the outage: ${refusedDuringOutage} refused, ` +
        `${acknowledgedDuringOutage} acknowledged; ${PHASE_WRITES} more acknowledged ${resumedMs} ms ` +
        'after the server was back in the meta group',
    );
    expectClean(check);
    expect(refusedDuringOutage).to.be.at.least(15);
    expect(acknowledgedDuringOutage, 'writes acknowledged without a NATS quorum').to.equal(0);
  });
});

describe('strata serve --stream-replicas', function () {
  this.timeout(60_000);

  it('takes 1, 3 or 5; refuses another count, and 3 on a NATS server without a cluster', async function () {
    const help = await runCli(['serve', '--help']);
    expect(help.stdout).to.include('--stream-replicas');
    const even = await runCli(['serve', '--stream-replicas', '2']);
    expect(even.code).to.not.equal(0);
    expect(even.stderr).to.include('"2" is not 1, 3 or 5');

    const alone = await startNatsServer();
    const data = await createTempDirectory('strata-stream-replicas-');
    try {
      const refused = await runCli([
        'serve',
        '--data',
        data.path,
        '--listen',
        `127.0.0.1:${await findFreePort()}`,
        '--nats',
        alone.url,
        '--cluster',
        'alone',
        '--stream-replicas',
        '3',
      ]);
      expect(refused.code).to.equal(1);
      expect(refused.stderr).to.include('INVALID_ARGUMENT');
      expect(refused.stderr).to.include('stream replicas 3 need a NATS cluster');
    } finally {
      await data.remove();
      await alone.stop();
    }
  });
});
