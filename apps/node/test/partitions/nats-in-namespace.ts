import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createTempDirectory } from '@strata/testing';
import type { NetworkLab } from '@strata/testing';
import { waitFor } from '../cluster-helpers.js';
import { natsConfig, natsServerName } from './deployment-files.js';
import type { MachineAddresses } from './deployment-files.js';

/** The nats-server binary, found as tools/testing finds it. */
function natsBinary(): string {
  return process.env['NATS_SERVER'] ?? '/usr/sbin/nats-server';
}

/** One NATS server of docs/deployment, in its own network namespace of a lab. */
export class NamespaceNats {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private stderr = '';

  private constructor(
    /** Its `server_name` (what JetStream names as a stream's leader). */
    readonly name: string,
    /** Its lab host (the namespace). */
    readonly host: string,
    readonly address: string,
    private readonly lab: NetworkLab,
    private readonly configPath: string,
    private readonly removeStore: () => Promise<void>,
  ) {}

  /** Writes machine `n`'s configuration (from docs/deployment) for the lab; does not start it. */
  static async create(
    lab: NetworkLab,
    n: number,
    host: string,
    addresses: MachineAddresses,
  ): Promise<NamespaceNats> {
    const store = await createTempDirectory(`strata-partition-nats-${n}-`);
    const configPath = join(store.path, `nats-${n}.conf`);
    await writeFile(configPath, await natsConfig(n, addresses, join(store.path, 'jetstream')));
    return new NamespaceNats(
      await natsServerName(n),
      host,
      lab.host(host).address,
      lab,
      configPath,
      () => store.remove(),
    );
  }

  /** The client URL (port 4222 of the configuration files). */
  get url(): string {
    return `nats://${this.address}:4222`;
  }

  /** The monitoring endpoints (port 8222 of the configuration files). */
  get monitorUrl(): string {
    return `http://${this.address}:8222`;
  }

  get running(): boolean {
    return (
      this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null
    );
  }

  /** The end of its stderr (for failure messages). */
  output(): string {
    return `--- ${this.name} stderr ---\n${this.stderr}`;
  }

  /** Starts `nats-server -c <config>` in the namespace (ready: see {@link waitForNatsCluster}). */
  start(): void {
    const child = this.lab.spawn(this.host, natsBinary(), ['-c', this.configPath], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child = child;
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-8192);
    });
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  /** Sends `signal` to the server by PID and waits until it exited. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.running) this.child!.kill(signal);
    await this.exited;
  }

  /** Kills it and removes its store and configuration. */
  async dispose(): Promise<void> {
    await this.stop('SIGKILL');
    await this.removeStore();
  }

  /** What `/jsz` says of the JetStream meta group, or undefined unless `/healthz` is ok. */
  async health(): Promise<{ leader?: string; size?: number } | undefined> {
    const signal = AbortSignal.timeout(2_000);
    const health = await fetch(`${this.monitorUrl}/healthz`, { signal });
    await health.arrayBuffer();
    if (health.status !== 200) return undefined;
    const jsz = (await (await fetch(`${this.monitorUrl}/jsz`, { signal })).json()) as {
      meta_cluster?: { leader?: string; cluster_size?: number };
    };
    return { leader: jsz.meta_cluster?.leader, size: jsz.meta_cluster?.cluster_size };
  }

  /** Names of the Strata nodes (connection name `strata-<node id>`) connected to this server. */
  async strataClients(): Promise<string[]> {
    const connz = (await (
      await fetch(`${this.monitorUrl}/connz`, { signal: AbortSignal.timeout(2_000) })
    ).json()) as { connections?: { name?: string }[] };
    return (connz.connections ?? [])
      .map((connection) => connection.name ?? '')
      .filter((name) => name.startsWith('strata-'))
      .map((name) => name.slice('strata-'.length))
      .sort();
  }
}

/** Waits until every server of `servers` is healthy and all name one meta leader of the group. */
export async function waitForNatsCluster(
  servers: readonly NamespaceNats[],
  timeoutMs: number,
): Promise<string> {
  return waitFor(
    `NATS servers ${servers.map((server) => server.name).join(', ')} healthy with one meta leader`,
    timeoutMs,
    async () => {
      const answers = await Promise.all(servers.map((server) => server.health()));
      const leaders = new Set(answers.map((answer) => answer?.leader));
      const [leader] = leaders;
      if (leaders.size !== 1 || leader === undefined) return undefined;
      return answers.every((answer) => answer?.size === 3) ? leader : undefined;
    },
    () => servers.map((server) => server.output()).join('\n'),
  );
}
