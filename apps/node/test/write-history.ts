import { performance } from 'node:perf_hooks';
import type { ClusterNode } from './cluster-helpers.js';
import { sleep, waitForConvergence } from './cluster-helpers.js';

/** How one write ended, as the client saw it. */
export type WriteOutcome =
  | { readonly kind: 'acknowledged' }
  /**
   * An error answer with a Strata code: not acknowledged (it may still have applied on a TIMEOUT
   * or an OUTCOME_UNKNOWN; never on a NOT_LEADER).
   */
  | { readonly kind: 'refused'; readonly status: number; readonly code: string }
  /** Anything else: an answer without a code, a network error, a hung request. */
  | { readonly kind: 'failed'; readonly detail: string };

/** One client operation: a PUT of a key no other operation writes. */
export interface WriteOperation {
  readonly client: number;
  readonly key: string;
  readonly value: string;
  /** `performance.now()` when the request was sent and when its answer (or failure) came. */
  readonly startedAt: number;
  readonly endedAt: number;
  readonly outcome: WriteOutcome;
}

/** Options of {@link WriteLoad}. */
export interface WriteLoadOptions {
  /** Key prefix, unique to the test. */
  readonly prefix: string;
  /** Concurrent clients, each writing one key at a time. */
  readonly clients: number;
  /** Pause after a refused or failed write before the next (pacing, not synchronisation). */
  readonly retryPauseMs?: number;
  /** Longest a request may take before it counts as failed. Default 30 s. */
  readonly requestTimeoutMs?: number;
}

/**
 * Clients that PUT unique keys (`acks=quorum`, the node default) to whichever node leads, until
 * stopped, and record every operation with its outcome. A client follows a 421's `leaderUrl`;
 * with no leader known it sends to any running node, so a cluster that cannot take writes shows
 * as refusals rather than as silence.
 */
export class WriteLoad {
  /** Every operation so far, in the order they ended. */
  readonly operations: WriteOperation[] = [];
  private stopped = false;
  private readonly clients: Promise<void>[];
  private roundRobin = 0;

  constructor(
    private readonly nodes: readonly ClusterNode[],
    private readonly options: WriteLoadOptions,
  ) {
    this.clients = Array.from({ length: options.clients }, (_, client) => this.run(client));
  }

  /** Operations with `outcome.kind` (all of them when not given) that match `where`. */
  count(
    kind?: WriteOutcome['kind'],
    where: (operation: WriteOperation) => boolean = () => true,
  ): number {
    let total = 0;
    for (const operation of this.operations)
      if ((kind === undefined || operation.outcome.kind === kind) && where(operation)) total++;
    return total;
  }

  /** Stops the clients and waits for their last requests (again: a no-op). */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.clients);
  }

  private async run(client: number): Promise<void> {
    let target: ClusterNode | undefined;
    for (let index = 0; !this.stopped; index++) {
      target ??= await this.findTarget();
      if (target === undefined) {
        await sleep(this.options.retryPauseMs ?? 50);
        continue;
      }
      const key = `${this.options.prefix}-c${client}-${String(index).padStart(6, '0')}`;
      const value = `value of ${key}`;
      const startedAt = performance.now();
      const { outcome, leaderUrl } = await this.put(target, key, value);
      this.operations.push({ client, key, value, startedAt, endedAt: performance.now(), outcome });
      if (outcome.kind === 'acknowledged') continue;
      target = this.nodes.find((node) => node.url === leaderUrl && node.running);
      await sleep(this.options.retryPauseMs ?? 50);
    }
  }

  /** The node that says it leads, else any running node (in turn), else undefined. */
  private async findTarget(): Promise<ClusterNode | undefined> {
    const running = this.nodes.filter((node) => node.running);
    const roles = await Promise.all(
      running.map((node) =>
        fetch(`${node.url}/v1/status`, { signal: AbortSignal.timeout(2_000) })
          .then(async (response) => ((await response.json()) as { role?: string }).role)
          .catch(() => undefined),
      ),
    );
    const leader = running.find((_node, index) => roles[index] === 'leader');
    if (leader !== undefined || running.length === 0) return leader;
    return running[this.roundRobin++ % running.length];
  }

  private async put(
    node: ClusterNode,
    key: string,
    value: string,
  ): Promise<{ outcome: WriteOutcome; leaderUrl?: string }> {
    try {
      const response = await fetch(`${node.url}/v1/kv/${encodeURIComponent(key)}`, {
        method: 'PUT',
        body: value,
        signal: AbortSignal.timeout(this.options.requestTimeoutMs ?? 30_000),
      });
      const text = await response.text();
      if (response.status === 200) return { outcome: { kind: 'acknowledged' } };
      let body: { error?: { code?: unknown; leaderUrl?: unknown } } | undefined;
      try {
        body = JSON.parse(text) as typeof body;
      } catch {
        body = undefined;
      }
      const code = body?.error?.code;
      const leaderUrl = typeof body?.error?.leaderUrl === 'string' ? body.error.leaderUrl : '';
      if (typeof code === 'string' && code !== 'INTERNAL')
        return { outcome: { kind: 'refused', status: response.status, code }, leaderUrl };
      return { outcome: { kind: 'failed', detail: `${response.status} ${text.slice(0, 200)}` } };
    } catch (error) {
      return { outcome: { kind: 'failed', detail: String(error) } };
    }
  }
}

/** What {@link checkHistory} found, per the Jepsen-style questions. */
export interface HistoryCheck {
  readonly operations: number;
  readonly acknowledged: number;
  /** Refusals by code (`NOT_LEADER`, `TIMEOUT`, ...). */
  readonly refused: Readonly<Record<string, number>>;
  /** Operations that ended without a Strata code (an untyped error, a network failure). */
  readonly failed: number;
  /** Acknowledged writes missing (or with another value) on some node, counted once per write. */
  readonly lost: number;
  /** Keys on some node that no operation wrote, or with a value no operation wrote. */
  readonly unexpected: number;
  /** Nodes whose `/v1/events` or data differ from the first node's. */
  readonly divergent: number;
  /**
   * Refused or failed writes that did apply, by code (`failed` for the untyped): allowed, since
   * a TIMEOUT, or an OUTCOME_UNKNOWN from a leader that stepped down while the write waited for
   * its quorum, does not say the write was not made; reported. A NOT_LEADER does say so: the
   * tests expect none here.
   */
  readonly refusedButApplied: Readonly<Record<string, number>>;
  /** The log length all nodes agree on. */
  readonly lastSeqno: number;
}

/**
 * Waits until every node has the same log, then compares: every acknowledged write on every
 * node, nothing on any node that no client wrote, `/v1/events` (the whole log, byte for byte) and
 * the key space the same on every node.
 */
export async function checkHistory(
  nodes: readonly ClusterNode[],
  load: WriteLoad,
  prefix: string,
): Promise<HistoryCheck> {
  const converged = await waitForConvergence(nodes, 90_000);
  const lastSeqno = converged[0]!.lastSeqno;
  const written = new Map(load.operations.map((operation) => [operation.key, operation]));
  const scans = await Promise.all(nodes.map((node) => node.scan()));
  const events = await Promise.all(
    nodes.map(async (node) => {
      const response = await fetch(`${node.url}/v1/events?from=1&to=${lastSeqno}`);
      if (response.status !== 200) throw new Error(`events of ${node.settings.nodeId}`);
      return response.text();
    }),
  );
  const lost = new Set<string>();
  const unexpected = new Set<string>();
  const applied = new Map<string, string>();
  let divergent = 0;
  const firstItems = JSON.stringify(scans[0]!.items);
  for (const [index, scan] of scans.entries()) {
    if (events[index] !== events[0] || JSON.stringify(scan.items) !== firstItems) divergent++;
    const values = new Map<string, string>();
    for (const item of scan.items) {
      if (!item.key.startsWith(prefix)) continue;
      values.set(item.key, item.value);
      const operation = written.get(item.key);
      if (operation === undefined || operation.value !== item.value) unexpected.add(item.key);
      else if (operation.outcome.kind === 'refused') applied.set(item.key, operation.outcome.code);
      else if (operation.outcome.kind === 'failed') applied.set(item.key, 'failed');
    }
    for (const operation of load.operations) {
      if (operation.outcome.kind !== 'acknowledged') continue;
      if (values.get(operation.key) !== operation.value) lost.add(operation.key);
    }
  }
  const refusedButApplied: Record<string, number> = {};
  for (const code of applied.values()) refusedButApplied[code] = (refusedButApplied[code] ?? 0) + 1;
  const refused: Record<string, number> = {};
  for (const operation of load.operations) {
    if (operation.outcome.kind === 'refused')
      refused[operation.outcome.code] = (refused[operation.outcome.code] ?? 0) + 1;
  }
  return {
    operations: load.operations.length,
    acknowledged: load.count('acknowledged'),
    refused,
    failed: load.count('failed'),
    lost: lost.size,
    unexpected: unexpected.size,
    divergent,
    refusedButApplied,
    lastSeqno,
  };
}

/** One line of counts for the test output (and the closing note). */
export function formatCounts(scenario: string, check: HistoryCheck): string {
  const byCode = (counts: Readonly<Record<string, number>>): string =>
    Object.entries(counts)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([code, count]) => `${code} ${count}`)
      .join(', ');
  const sum = (counts: Readonly<Record<string, number>>): number =>
    Object.values(counts).reduce((total, count) => total + count, 0);
  const refused = byCode(check.refused);
  const total = sum(check.refused);
  const applied = byCode(check.refusedButApplied);
  return (
    `      [${scenario}] operations ${check.operations}, acknowledged ${check.acknowledged}, ` +
    `refused ${total}${refused ? ` (${refused})` : ''}, failed ${check.failed}, lost ${check.lost}, ` +
    `unexpected ${check.unexpected}, divergent ${check.divergent}, ` +
    `refused-but-applied ${sum(check.refusedButApplied)}${applied ? ` (${applied})` : ''}, ` +
    `log ${check.lastSeqno} entries`
  );
}
