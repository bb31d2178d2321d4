import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createTempDirectory, findFreePort } from '@strata/testing';

const BIN = fileURLToPath(new URL('../src/bin.ts', import.meta.url));
const CWD = fileURLToPath(new URL('..', import.meta.url));

/** What `/v1/status` of a cluster node shows (the parts these tests read). */
export interface ClusterStatus {
  readonly nodeId: string;
  readonly role: 'leader' | 'follower' | 'standalone';
  readonly epoch: number;
  readonly lastSeqno: number;
  readonly durableSeqno: number;
  readonly leaderId?: string;
  readonly leaderUrl?: string;
  readonly droppedEntries: number;
  readonly bootstraps: number;
  readonly follower?: { refusedMessages: number; lastRefusal?: string };
}

/** One range item of `GET /v1/kv`. */
export interface ScanItem {
  readonly key: string;
  readonly value: string;
  readonly seqno: number;
}

/** Settings of one cluster node; the port and data directory stay the same across restarts. */
export interface ClusterNodeSettings {
  readonly natsUrl: string;
  readonly cluster: string;
  readonly nodeId: string;
  readonly role?: 'leader' | 'follower' | 'auto';
  readonly leaseTtlMs?: number;
  readonly acks?: 'leader' | 'quorum';
  readonly extraArgs?: readonly string[];
}

/** A `strata serve` cluster node that can be killed and started again on the same port and data. */
export class ClusterNode {
  private child: ChildProcess | undefined;
  private exited: Promise<number | string> = Promise.resolve('not started');
  private stdout = '';
  private stderr = '';

  private constructor(
    readonly settings: ClusterNodeSettings,
    readonly port: number,
    readonly data: string,
    private readonly removeData: () => Promise<void>,
  ) {}

  /** Creates the node (a free port, a temp data directory) without starting it. */
  static async create(settings: ClusterNodeSettings): Promise<ClusterNode> {
    const port = await findFreePort();
    const data = await createTempDirectory(`strata-cluster-${settings.nodeId}-`);
    return new ClusterNode(settings, port, data.path, () => data.remove());
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return (
      this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null
    );
  }

  /** The end of what the process wrote (for failure messages). */
  output(): string {
    return `--- ${this.settings.nodeId} stdout ---\n${this.stdout}\n--- stderr ---\n${this.stderr}`;
  }

  /** Starts `strata serve` and waits until it listens. */
  async start(): Promise<void> {
    const s = this.settings;
    const args = [
      '--import',
      'tsx',
      BIN,
      'serve',
      '--data',
      this.data,
      '--listen',
      `127.0.0.1:${this.port}`,
      '--log-level',
      'warn',
      '--nats',
      s.natsUrl,
      '--cluster',
      s.cluster,
      '--node-id',
      s.nodeId,
      '--role',
      s.role ?? 'auto',
      '--lease-ttl-ms',
      String(s.leaseTtlMs ?? 1000),
      '--cluster-size',
      '3',
      // Without --acks the node's default (quorum) applies.
      ...(s.acks !== undefined ? ['--acks', s.acks] : []),
      ...(s.extraArgs ?? []),
    ];
    const child = spawn(process.execPath, args, {
      cwd: CWD,
      env: { ...process.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.stdout = '';
    this.stderr = '';
    let listening = false;
    child.stdout.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      if (text.includes('listening on')) listening = true;
      this.stdout = (this.stdout + text).slice(-16_384);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-16_384);
    });
    this.exited = new Promise<number | string>((resolve) =>
      child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
    );
    // Only a deadline for a node that never starts (a loaded 2-core machine took over 30 s).
    const deadline = Date.now() + 90_000;
    while (!listening) {
      if (!this.running || Date.now() > deadline) {
        this.kill();
        throw new Error(`${s.nodeId} did not start\n${this.output()}`);
      }
      await sleep(25);
    }
  }

  /** Sends `signal` to the process (by PID) and waits until it exited. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | string> {
    if (this.running) this.child!.kill(signal);
    return this.exited;
  }

  /** SIGKILL without waiting (for cleanup paths). */
  kill(): void {
    if (this.running) this.child!.kill('SIGKILL');
  }

  /** Kills the process if it runs and removes the data directory. */
  async dispose(): Promise<void> {
    await this.stop('SIGKILL');
    await this.removeData();
  }

  async status(): Promise<ClusterStatus> {
    const response = await fetch(`${this.url}/v1/status`);
    if (response.status !== 200)
      throw new Error(`status of ${this.settings.nodeId}: ${response.status}`);
    return (await response.json()) as ClusterStatus;
  }

  /** The whole key space, paged with the cursor (all pages pinned at the first page's seqno). */
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

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` until it returns a value other than `undefined`; throws with `describe()` at the deadline. */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined> | T | undefined,
  describe: () => Promise<string> | string = () => '',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const detail = await Promise.resolve(describe()).catch(() => '');
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${
          lastError instanceof Error ? ` (last error: ${lastError.message})` : ''
        }\n${detail}`,
      );
    }
    await sleep(100);
  }
}

/** Statuses of the running nodes (a node that does not answer shows as an error string). */
export async function statuses(nodes: readonly ClusterNode[]): Promise<(ClusterStatus | string)[]> {
  return Promise.all(
    nodes.map((node) =>
      node.status().catch((error: unknown) => `${node.settings.nodeId}: ${String(error)}`),
    ),
  );
}

/** Waits until exactly one of `nodes` is the leader and every other one names it; returns it. */
export async function waitForLeader(
  nodes: readonly ClusterNode[],
  timeoutMs = 20_000,
): Promise<ClusterNode> {
  return waitFor(
    'one leader that every node knows',
    timeoutMs,
    async () => {
      const all = await Promise.all(nodes.map((node) => node.status()));
      const leaders = all.filter((status) => status.role === 'leader');
      if (leaders.length !== 1) return undefined;
      const leaderId = leaders[0]!.nodeId;
      if (!all.every((status) => status.leaderId === leaderId)) return undefined;
      return nodes.find((node) => node.settings.nodeId === leaderId);
    },
    async () => JSON.stringify(await statuses(nodes)),
  );
}

/**
 * Waits until every node has the leader's lastSeqno and durableSeqno (the leader's lastSeqno
 * must hold still across two polls), then returns the statuses.
 */
export async function waitForConvergence(
  nodes: readonly ClusterNode[],
  timeoutMs = 60_000,
): Promise<ClusterStatus[]> {
  let previous = -1;
  return waitFor(
    'every node at the same lastSeqno and durableSeqno',
    timeoutMs,
    async () => {
      const all = await Promise.all(nodes.map((node) => node.status()));
      const last = all[0]!.lastSeqno;
      const same = all.every((status) => status.lastSeqno === last && status.durableSeqno === last);
      const stable = last === previous;
      previous = last;
      return same && stable ? all : undefined;
    },
    async () =>
      JSON.stringify(
        (await statuses(nodes)).map((status) =>
          typeof status === 'string'
            ? status
            : {
                nodeId: status.nodeId,
                role: status.role,
                epoch: status.epoch,
                lastSeqno: status.lastSeqno,
                durableSeqno: status.durableSeqno,
                leaderId: status.leaderId,
                bootstraps: status.bootstraps,
                droppedEntries: status.droppedEntries,
                follower: status.follower,
              },
        ),
      ) +
      '\n' +
      nodes.map((node) => node.output()).join('\n'),
  );
}

/** POST /v1/batch; resolves with the HTTP status. */
export async function postBatch(
  url: string,
  ops: readonly ({ type: 'put'; key: string; value: string } | { type: 'delete'; key: string })[],
  acks?: 'leader' | 'quorum',
): Promise<number> {
  const response = await fetch(`${url}/v1/batch${acks ? `?acks=${acks}` : ''}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ops }),
  });
  await response.arrayBuffer();
  return response.status;
}

/** PUT /v1/kv/:key; resolves with the HTTP status. */
export async function put(
  url: string,
  key: string,
  value: string,
  acks?: 'leader' | 'quorum',
): Promise<number> {
  const response = await fetch(
    `${url}/v1/kv/${encodeURIComponent(key)}${acks ? `?acks=${acks}` : ''}`,
    { method: 'PUT', body: value },
  );
  await response.arrayBuffer();
  return response.status;
}

/** DELETE /v1/kv/:key; resolves with the HTTP status. */
export async function del(url: string, key: string, acks?: 'leader' | 'quorum'): Promise<number> {
  const response = await fetch(
    `${url}/v1/kv/${encodeURIComponent(key)}${acks ? `?acks=${acks}` : ''}`,
    { method: 'DELETE' },
  );
  await response.arrayBuffer();
  return response.status;
}
