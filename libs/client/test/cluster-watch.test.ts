import { expect } from 'chai';
import { StrataClient, isStrataClientError } from '../src/index.js';
import type { WatchEvent } from '../src/index.js';
import { waitFor, waitForLeader } from './strata-nodes.js';
import { startThreeNodeCluster, waitForConvergence } from './three-node-cluster.js';
import type { ThreeNodeCluster } from './three-node-cluster.js';

/** A writer that puts unique keys through a client until stopped, recording every outcome. */
class Writer {
  readonly acknowledged = new Map<string, string>();
  readonly outcomes: Record<string, number> = {};
  private stopped = false;
  private readonly running: Promise<void>;

  constructor(private readonly client: StrataClient) {
    this.running = this.run();
  }

  private async run(): Promise<void> {
    for (let index = 0; !this.stopped; index++) {
      const key = `w/${String(index).padStart(6, '0')}`;
      try {
        await this.client.put(key, `v${index}`);
        this.acknowledged.set(key, `v${index}`);
        this.count('ok');
      } catch (error) {
        // During a failover: OUTCOME_UNKNOWN (it may be made), or the deadline passed.
        if (!isStrataClientError(error)) throw error;
        this.count(error.code);
      }
    }
  }

  private count(outcome: string): void {
    this.outcomes[outcome] = (this.outcomes[outcome] ?? 0) + 1;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }
}

/** An event as the node's `/v1/events?encoding=base64` line shows it, to compare exactly. */
function asLine(event: WatchEvent): Record<string, unknown> {
  return {
    seqno: event.seqno,
    epoch: event.epoch,
    type: event.type,
    key: event.key.toString('base64'),
    value: event.value === null ? null : event.value.toString('base64'),
    timestamp: event.timestampMs,
  };
}

describe('StrataClient.watch on a 3-node cluster: every event once, in order, across node kills', function () {
  this.timeout(300_000);
  let cluster: ThreeNodeCluster | undefined;

  afterEach(async function () {
    await cluster?.dispose(this.currentTest?.state === 'failed');
    cluster = undefined;
  });

  it("spans the SIGKILL of the node it reads from and of the leader; matches the new leader's /v1/events", async function () {
    cluster = await startThreeNodeCluster();
    const { leader, nodes } = cluster;
    const [first, second] = cluster.followers;
    const seen: WatchEvent[] = [];
    let watchError: unknown;
    const watcher = new StrataClient({ nodes: [first.url, second.url, leader.url] });
    const watch = watcher.watch({ from: 1 });
    const watching = (async () => {
      for await (const event of watch) seen.push(event);
    })().catch((error: unknown) => {
      watchError = error;
    });
    const writer = new Writer(new StrataClient({ nodes: nodes.map((node) => node.url) }));
    const progress = (what: string, count: number): Promise<true> => {
      const target = writer.acknowledged.size + count;
      return waitFor(`${what}: ${count} more acknowledged writes, all watched`, 120_000, () =>
        writer.acknowledged.size >= target && watchedAllAcknowledged() ? true : undefined,
      );
    };
    const watchedAllAcknowledged = (): boolean => {
      const keys = new Set(seen.map((event) => event.key.toString()));
      return [...writer.acknowledged.keys()].every((key) => keys.has(key));
    };

    try {
      await progress('at the start', 100);
      expect(watch.node, 'a watch reads from a follower').to.equal(first.url);

      // The node the watch reads from dies: it reconnects to the other follower.
      await first.stop('SIGKILL');
      await progress('after the watched follower died', 100);
      expect(watch.reconnects).to.be.at.least(1);
      expect(watch.node).to.equal(second.url);
      await first.start();
      await waitForLeader(nodes);

      // The leader dies: a new one is elected, the writer finds it, the watch goes on.
      await leader.stop('SIGKILL');
      await waitForLeader(nodes);
      await progress('after the leader died', 100);
    } finally {
      await writer.stop();
    }
    const lastSeqno = await waitForConvergence(nodes);
    const successor = await waitForLeader(nodes);
    await waitFor('the watch at the last seqno', 60_000, () =>
      watch.lastSeqno >= lastSeqno || watchError !== undefined ? true : undefined,
    );
    watch.close();
    await watching;
    expect(watchError).to.equal(undefined);

    const seqnos = seen.map((event) => event.seqno);
    expect(seqnos, 'every seqno once, in order, none missing').to.deep.equal(
      Array.from({ length: lastSeqno }, (_, index) => index + 1),
    );
    const log = await successor.events(1);
    expect(seen.map(asLine), "the new leader's /v1/events").to.deep.equal(log);
    for (const [key, value] of writer.acknowledged) {
      const put = seen.find((event) => event.key.toString() === key);
      expect(put?.value?.toString(), key).to.equal(value);
    }
    console.log(
      `      (${seen.length} events watched, ${watch.reconnects} reconnects; writes: ${JSON.stringify(writer.outcomes)})`,
    );
  });
});
