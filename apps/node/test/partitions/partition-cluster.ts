import { connect } from 'nats';
import type { JetStreamManager, NatsConnection } from 'nats';
import {
  networkNamespacesUnavailable,
  removeLeftoverNetworkLabs,
  startNetworkLab,
} from '@strata/testing';
import type { NetworkLab } from '@strata/testing';
import type { ClusterNode } from '../cluster-helpers.js';
import { statuses, waitFor, waitForLeader } from '../cluster-helpers.js';
import { WriteLoad } from '../write-history.js';
import { NamespaceNats, waitForNatsCluster } from './nats-in-namespace.js';
import { NamespaceStrata, asClusterNodes } from './strata-in-namespace.js';

/** The cluster name of the unit files (`--cluster prod`): the log stream is `STRATA_prod`. */
export const STREAM = 'STRATA_prod';
/** The lease bucket's stream. */
const LEASE_STREAM = 'KV_STRATA_prod_lease';
const MACHINES = [1, 2, 3] as const;

/**
 * Three "machines" of docs/DEPLOYMENT.md, each part in a network namespace of its own: NATS
 * servers nats-1..3 (docs/deployment/nats-N.conf) and Strata nodes strata-1..3
 * (docs/deployment/strata-N.service), all on one bridge. The test process (the clients, the
 * checker) reaches every one of them whatever is cut.
 */
export class PartitionCluster {
  /** Loads started with {@link startLoad}: stopped by {@link dispose} if a test failed early. */
  private readonly loads: WriteLoad[] = [];

  private constructor(
    readonly lab: NetworkLab,
    readonly nats: readonly NamespaceNats[],
    readonly nodes: readonly NamespaceStrata[],
    private readonly connection: NatsConnection,
    readonly jsm: JetStreamManager,
  ) {}

  /**
   * Why the suite cannot run here (not root, no `ip netns`), or undefined. Removes the labs of
   * runs that died before their cleanup first.
   */
  static async unavailable(): Promise<string | undefined> {
    const reason = await networkNamespacesUnavailable();
    if (reason === undefined) await removeLeftoverNetworkLabs();
    return reason;
  }

  /** Starts the lab, the NATS cluster (healthy), then the nodes (one leader every node knows). */
  static async start(): Promise<PartitionCluster> {
    const lab = await startNetworkLab({
      hosts: [...MACHINES.map((n) => `nats-${n}`), ...MACHINES.map((n) => `strata-${n}`)],
    });
    const addresses = {
      natsAddress: (n: number) => lab.host(`nats-${n}`).address,
      strataAddress: (n: number) => lab.host(`strata-${n}`).address,
    };
    const nats: NamespaceNats[] = [];
    const nodes: NamespaceStrata[] = [];
    let connection: NatsConnection | undefined;
    try {
      for (const n of MACHINES)
        nats.push(await NamespaceNats.create(lab, n, `nats-${n}`, addresses));
      for (const server of nats) server.start();
      await waitForNatsCluster(nats, 60_000);
      connection = await connect({
        servers: nats.map((server) => server.url),
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
      });
      const jsm = await connection.jetstreamManager();
      for (const n of MACHINES)
        nodes.push(await NamespaceStrata.create(lab, n, `strata-${n}`, addresses));
      // The first node creates the stream and the lease bucket; then the others join.
      await nodes[0]!.start();
      await Promise.all(nodes.slice(1).map((node) => node.start()));
      const cluster = new PartitionCluster(lab, nats, nodes, connection, jsm);
      await cluster.leader();
      return cluster;
    } catch (error) {
      for (const node of nodes) process.stderr.write(`${node.output()}\n`);
      await Promise.all(nodes.map((node) => node.dispose().catch(() => undefined)));
      await connection?.close().catch(() => undefined);
      await Promise.all(nats.map((server) => server.dispose().catch(() => undefined)));
      await lab.destroy();
      throw error;
    }
  }

  /** The nodes as the write-history checker takes them. */
  get checked(): ClusterNode[] {
    return asClusterNodes(this.nodes);
  }

  /** The node `nodeId`. */
  node(nodeId: string): NamespaceStrata {
    const node = this.nodes.find((candidate) => candidate.settings.nodeId === nodeId);
    if (node === undefined) throw new Error(`no node ${nodeId}`);
    return node;
  }

  /** Waits until one of `among` (default: all nodes) leads and every one of them names it. */
  async leader(
    among: readonly NamespaceStrata[] = this.nodes,
    timeoutMs = 60_000,
  ): Promise<NamespaceStrata> {
    const leader = await waitForLeader(asClusterNodes(among), timeoutMs);
    return this.node(leader.settings.nodeId);
  }

  /** The NATS server that leads the log stream now (other than `not`), once there is one. */
  async streamLeader(not?: string): Promise<NamespaceNats> {
    const name = await waitFor(
      `a leader of ${STREAM}${not ? ` other than ${not}` : ''}`,
      60_000,
      async () => {
        const leader = (await this.jsm.streams.info(STREAM)).cluster?.leader;
        return leader !== undefined && leader !== not ? leader : undefined;
      },
    );
    const server = this.nats.find((candidate) => candidate.name === name);
    if (server === undefined) throw new Error(`no NATS server named ${name}`);
    return server;
  }

  /**
   * Moves the leadership of the log stream and the lease bucket off `server` (JetStream's
   * leader step-down request) when it has it; true when it had to. A cut-off server that led a
   * stream and was written to can, in nats-server 2.9.10, loop on "last sequence mismatch,
   * resetting stream cluster state" after healing (a NATS bug, since fixed upstream), and a node
   * connected to it then cannot follow.
   */
  async moveStreamLeadersOff(server: NamespaceNats): Promise<boolean> {
    let moved = false;
    for (const stream of [STREAM, LEASE_STREAM]) {
      if ((await this.jsm.streams.info(stream)).cluster?.leader !== server.name) continue;
      await this.connection.request(`$JS.API.STREAM.LEADER.STEPDOWN.${stream}`, undefined, {
        timeout: 10_000,
      });
      await waitFor(`a leader of ${stream} other than ${server.name}`, 60_000, async () => {
        const leader = (await this.jsm.streams.info(stream)).cluster?.leader;
        return leader !== undefined && leader !== server.name ? true : undefined;
      });
      moved = true;
    }
    return moved;
  }

  /** The NATS server a node is connected to (by its connection name on the servers' `/connz`). */
  async serverOf(node: NamespaceStrata): Promise<NamespaceNats> {
    return waitFor(`the NATS server ${node.settings.nodeId} is connected to`, 30_000, async () => {
      for (const server of this.nats) {
        if ((await server.strataClients()).includes(node.settings.nodeId)) return server;
      }
      return undefined;
    });
  }

  /** Starts clients writing unique keys under `prefix` to whichever of `targets` leads. */
  startLoad(
    prefix: string,
    targets: readonly NamespaceStrata[] = this.nodes,
    clients = 3,
  ): WriteLoad {
    const load = new WriteLoad(asClusterNodes(targets), {
      prefix,
      clients,
      requestTimeoutMs: 30_000,
    });
    this.loads.push(load);
    return load;
  }

  /** Statuses of every node, for failure messages. */
  async describe(): Promise<string> {
    return JSON.stringify(await statuses(this.checked));
  }

  /** Stops the loads, every process (by PID), the lab; prints the nodes' output when `failed`. */
  async dispose(failed: boolean): Promise<void> {
    if (failed) {
      for (const node of this.nodes) process.stderr.write(`${node.output()}\n`);
      for (const server of this.nats) process.stderr.write(`${server.output()}\n`);
    }
    await Promise.all(this.loads.map((load) => load.stop()));
    await this.lab.heal().catch(() => undefined);
    await Promise.all(this.nodes.map((node) => node.dispose().catch(() => undefined)));
    await this.connection.close().catch(() => undefined);
    await Promise.all(this.nats.map((server) => server.dispose().catch(() => undefined)));
    await this.lab.destroy();
  }
}
