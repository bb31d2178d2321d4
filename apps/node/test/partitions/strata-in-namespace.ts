import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createTempDirectory } from '@strata/testing';
import type { NetworkLab } from '@strata/testing';
import type { ClusterNode, ClusterStatus, ScanItem } from '../cluster-helpers.js';
import { sleep } from '../cluster-helpers.js';
import { strataArguments } from './deployment-files.js';
import type { MachineAddresses, StrataCommand } from './deployment-files.js';

const BIN = fileURLToPath(new URL('../../src/bin.ts', import.meta.url));
const CWD = fileURLToPath(new URL('../..', import.meta.url));

/**
 * What the test adds to a unit file's flags: no token (the checker's clients send none, so the
 * node must serve a non-loopback address without one) and warnings only on stdout.
 */
const TEST_FLAGS = ['--insecure', '--log-level', 'warn'];

/**
 * A `strata serve` of docs/deployment (machine `n`'s unit file) in its own network namespace of
 * a lab; the same data directory across restarts. It offers what the write-history checker reads
 * of a {@link ClusterNode} (see {@link asClusterNodes}).
 */
export class NamespaceStrata {
  private child: ChildProcess | undefined;
  private exited: Promise<number | string> = Promise.resolve('not started');
  private stdout = '';
  private stderr = '';

  private constructor(
    readonly host: string,
    private readonly lab: NetworkLab,
    private readonly command: StrataCommand,
    private readonly removeData: () => Promise<void>,
  ) {}

  /** Reads machine `n`'s unit file for the lab (a temp data directory); does not start it. */
  static async create(
    lab: NetworkLab,
    n: number,
    host: string,
    addresses: MachineAddresses,
  ): Promise<NamespaceStrata> {
    const data = await createTempDirectory(`strata-partition-${n}-`);
    const command = await strataArguments(n, addresses, data.path);
    return new NamespaceStrata(host, lab, command, () => data.remove());
  }

  /** As {@link ClusterNode.settings}: the node id (the unit file's `--node-id`). */
  get settings(): { readonly nodeId: string } {
    return { nodeId: this.command.nodeId };
  }

  /** Its advertised URL: what other nodes and redirected clients use. */
  get url(): string {
    return this.command.url;
  }

  /** The unit file's `--lease-ttl-ms`. */
  get leaseTtlMs(): number {
    return this.command.leaseTtlMs;
  }

  get running(): boolean {
    return (
      this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null
    );
  }

  output(): string {
    return `--- ${this.command.nodeId} stdout ---\n${this.stdout}\n--- stderr ---\n${this.stderr}`;
  }

  /** Starts the node in its namespace and waits until it listens. */
  async start(): Promise<void> {
    const child = this.lab.spawn(
      this.host,
      process.execPath,
      ['--import', 'tsx', BIN, ...this.command.args, ...TEST_FLAGS],
      { cwd: CWD, env: { ...process.env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    this.stdout = '';
    this.stderr = '';
    let listening = false;
    child.stdout?.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      if (text.includes('listening on')) listening = true;
      this.stdout = (this.stdout + text).slice(-32_768);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-16_384);
    });
    this.exited = new Promise<number | string>((resolve) =>
      child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
    );
    const deadline = Date.now() + 60_000;
    while (!listening) {
      if (!this.running || Date.now() > deadline) {
        if (this.running) child.kill('SIGKILL');
        throw new Error(`${this.command.nodeId} did not start\n${this.output()}`);
      }
      await sleep(25);
    }
  }

  /** Sends `signal` by PID and waits until the process exited. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | string> {
    if (this.running) this.child!.kill(signal);
    return this.exited;
  }

  /** Kills the process and removes the data directory. */
  async dispose(): Promise<void> {
    await this.stop('SIGKILL');
    await this.removeData();
  }

  async status(): Promise<ClusterStatus> {
    const response = await fetch(`${this.url}/v1/status`, { signal: AbortSignal.timeout(2_000) });
    if (response.status !== 200)
      throw new Error(`status of ${this.settings.nodeId}: ${response.status}`);
    return (await response.json()) as ClusterStatus;
  }

  /** The whole key space, paged with the cursor (all pages at the first page's seqno). */
  async scan(): Promise<{ at: number; items: ScanItem[] }> {
    const items: ScanItem[] = [];
    let cursor: string | null = null;
    let at = -1;
    for (;;) {
      const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
      const response = await fetch(`${this.url}/v1/kv?limit=10000${query}`);
      if (response.status !== 200)
        throw new Error(
          `scan of ${this.settings.nodeId}: ${response.status} ${await response.text()}`,
        );
      const page = (await response.json()) as {
        items: ScanItem[];
        cursor: string | null;
        at: number;
      };
      if (at < 0) at = page.at;
      items.push(...page.items);
      cursor = page.cursor;
      if (cursor === null) return { at, items };
    }
  }
}

/** The part of a {@link ClusterNode} that WriteLoad and checkHistory use. */
type CheckedNode = Pick<ClusterNode, 'settings' | 'url' | 'running' | 'status' | 'scan' | 'output'>;

/**
 * The nodes as write-history.ts takes them. It is typed with {@link ClusterNode} (whose
 * constructor is private) and reads only {@link CheckedNode}'s members, which the compiler
 * checks {@link NamespaceStrata} has (`settings` with a node id only: the checker reads no other
 * setting).
 */
export function asClusterNodes(nodes: readonly NamespaceStrata[]): ClusterNode[] {
  const checked: readonly Omit<CheckedNode, 'settings'>[] = nodes;
  return checked as unknown as ClusterNode[];
}
