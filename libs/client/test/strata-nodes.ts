import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createTempDirectory, findFreePort } from '@strata/testing';

// The node runs as a child process (`strata serve`), as users run it: the client never imports it.
const BIN = fileURLToPath(new URL('../../../apps/node/src/bin.ts', import.meta.url));
const CWD = fileURLToPath(new URL('../../../apps/node/', import.meta.url));

/** Settings of a node: standalone without `natsUrl`, else a member of a 3-node cluster. */
export interface NodeSettings {
  readonly nodeId: string;
  readonly natsUrl?: string;
  readonly cluster?: string;
  readonly leaseTtlMs?: number;
  readonly extraArgs?: readonly string[];
}

/** What `/v1/status` of a node shows (the parts these tests read). */
export interface TestNodeStatus {
  readonly nodeId: string;
  readonly role: string;
  readonly lastSeqno: number;
  readonly durableSeqno: number;
  readonly leaderId?: string;
}

/** A `strata serve` child process that can be killed and started again (same port, same data). */
export class StrataNode {
  private child: ChildProcess | undefined;
  private exited: Promise<number | string> = Promise.resolve('not started');
  private log = '';

  private constructor(
    readonly settings: NodeSettings,
    readonly port: number,
    readonly data: string,
    private readonly removeData: () => Promise<void>,
  ) {}

  /** A node on a free port with a temp data directory, not started. */
  static async create(settings: NodeSettings): Promise<StrataNode> {
    const port = await findFreePort();
    const data = await createTempDirectory(`strata-client-${settings.nodeId}-`);
    return new StrataNode(settings, port, data.path, () => data.remove());
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return (
      this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null
    );
  }

  /** The end of what the process printed (for failure messages). */
  output(): string {
    return `--- ${this.settings.nodeId} ---\n${this.log}`;
  }

  /** Starts `strata serve` and resolves once it listens. */
  async start(): Promise<void> {
    const s = this.settings;
    const cluster =
      s.natsUrl === undefined
        ? ['--node-id', s.nodeId]
        : [
            '--nats',
            s.natsUrl,
            '--cluster',
            s.cluster ?? 'client-test',
            '--node-id',
            s.nodeId,
            '--role',
            'auto',
            '--lease-ttl-ms',
            String(s.leaseTtlMs ?? 1000),
            '--cluster-size',
            '3',
          ];
    const args = ['--import', 'tsx', BIN, 'serve', '--data', this.data, '--listen'];
    args.push(`127.0.0.1:${this.port}`, '--log-level', 'warn', ...cluster, ...(s.extraArgs ?? []));
    const child = spawn(process.execPath, args, { cwd: CWD, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.log = '';
    const listening = new Promise<boolean>((resolve) => {
      const onData = (chunk: Buffer): void => {
        this.log = (this.log + chunk.toString()).slice(-16_384);
        if (this.log.includes('listening on')) resolve(true);
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', () => resolve(false));
    });
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
    );
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      // Generous: on a loaded shared machine, loading the node through tsx takes long.
      timer = setTimeout(() => resolve(false), 120_000);
    });
    const ready = await Promise.race([listening, timedOut]);
    clearTimeout(timer);
    if (!ready) {
      this.kill();
      throw new Error(`${s.nodeId} did not start\n${this.output()}`);
    }
  }

  /** Sends `signal` to the process and waits until it exited. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | string> {
    if (this.running) this.child!.kill(signal);
    return this.exited;
  }

  /** SIGKILL without waiting (cleanup). */
  kill(): void {
    if (this.running) this.child!.kill('SIGKILL');
  }

  /** Kills the process if it runs and removes its data. */
  async dispose(): Promise<void> {
    await this.stop('SIGKILL');
    await this.removeData();
  }

  async status(): Promise<TestNodeStatus> {
    const response = await fetch(`${this.url}/v1/status`);
    if (response.status !== 200)
      throw new Error(`status of ${this.settings.nodeId}: ${response.status}`);
    return (await response.json()) as TestNodeStatus;
  }

  /** `/v1/events` from `from` to the node's last seqno now, as parsed lines. */
  async events(from = 1): Promise<Record<string, unknown>[]> {
    const response = await fetch(`${this.url}/v1/events?from=${from}&encoding=base64`);
    const text = await response.text();
    if (response.status !== 200) throw new Error(`events of ${this.settings.nodeId}: ${text}`);
    return text
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }
}

/** Polls `probe` (every 50 ms) until it returns a value other than undefined; throws at the deadline. */
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
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Waits until exactly one running node leads and every running node names it; returns it. */
export function waitForLeader(
  nodes: readonly StrataNode[],
  timeoutMs = 60_000,
): Promise<StrataNode> {
  const running = (): StrataNode[] => nodes.filter((node) => node.running);
  return waitFor(
    'one leader that every running node knows',
    timeoutMs,
    async () => {
      const all = await Promise.all(running().map((node) => node.status()));
      const leaders = all.filter((status) => status.role === 'leader');
      if (leaders.length !== 1 || !all.every((s) => s.leaderId === leaders[0]!.nodeId))
        return undefined;
      return running().find((node) => node.settings.nodeId === leaders[0]!.nodeId);
    },
    () =>
      running()
        .map((node) => node.output())
        .join('\n'),
  );
}
