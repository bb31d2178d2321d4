import { expect } from 'chai';
import { startNatsServer } from '@strata/testing';
import type { NatsServerHandle } from '@strata/testing';
import {
  ClusterNode,
  statuses,
  waitFor,
  waitForConvergence,
  waitForLeader,
} from './cluster-helpers.js';
import type { ClusterStatus } from './cluster-helpers.js';

/** The counter's value as written: `<count>|<client>|<attempt>`, unique per attempt. */
function parseValue(text: string): { count: number; tag: string } {
  const [count, ...tag] = text.split('|');
  return { count: Number(count), tag: tag.join('|') };
}

/**
 * 16 clients increment one counter by GET + conditional PUT (If-Match) on a 3-node cluster with
 * the default acks (quorum), and the leader is SIGKILLed once in the middle. An increment whose
 * answer was lost (the connection died with the leader, or a 503 TIMEOUT) is indeterminate: the
 * client settles it as Jepsen does, by looking for its unique value in the key's history. Then:
 * the final count equals the increments acknowledged or settled as applied, and the history holds
 * each count from 1 up exactly once.
 */
describe('a counter incremented with conditional writes on a 3-node cluster, across a leader kill', function () {
  this.timeout(300_000);
  let nats: NatsServerHandle | undefined;
  const nodes: ClusterNode[] = [];

  before(async function () {
    nats = await startNatsServer();
    for (let index = 1; index <= 3; index++) {
      nodes.push(
        await ClusterNode.create({
          natsUrl: nats.url,
          cluster: `counter${process.pid}`,
          nodeId: `n${index}`,
          role: 'auto',
          leaseTtlMs: 2000,
        }),
      );
    }
    await Promise.all(nodes.map((node) => node.start()));
  });

  after(async function () {
    if (this.currentTest?.state === 'failed') {
      for (const node of nodes) process.stderr.write(`${node.output()}\n`);
    }
    await Promise.all(nodes.map((node) => node.dispose().catch(() => undefined)));
    await nats?.stop().catch(() => undefined);
  });

  /** The URL of the node every running node names as leader, or undefined while there is none. */
  async function leaderUrl(): Promise<string | undefined> {
    const running = nodes.filter((node) => node.running);
    const found = (await statuses(running)).find(
      (status): status is ClusterStatus => typeof status !== 'string' && status.role === 'leader',
    );
    return running.find((node) => node.settings.nodeId === found?.nodeId)?.url;
  }

  /** Every version of the counter, oldest first, read from `url`. */
  async function counterHistory(url: string): Promise<string[]> {
    const values: string[] = [];
    let before = '';
    for (;;) {
      const response = await fetch(`${url}/v1/history/counter?limit=1000${before}`);
      expect(response.status).to.equal(200);
      const page = (await response.json()) as {
        versions: { type: string; value: string | null }[];
        cursor: number | null;
      };
      for (const version of page.versions) {
        expect(version.type).to.equal('put');
        values.push(version.value as string);
      }
      if (page.cursor === null) return values.reverse();
      before = `&before=${page.cursor}`;
    }
  }

  it('loses no acknowledged increment and applies none twice', async function () {
    const target = Number(process.env.STRATA_CLUSTER_COUNTER_INCREMENTS ?? 600);
    const killAt = Math.floor(target / 3);
    await waitForLeader(nodes, 60_000);
    let acknowledged = 0;
    const indeterminate: { tag: string }[] = [];
    let conflicts = 0;
    let refusals = 0;
    let killed: ClusterNode | undefined;

    const client = async (id: number): Promise<void> => {
      for (let attempt = 0; acknowledged + indeterminate.length < target; attempt++) {
        const url = await leaderUrl().catch(() => undefined);
        if (url === undefined) {
          await new Promise((resolve) => setTimeout(resolve, 50));
          continue;
        }
        const read = await fetch(`${url}/v1/kv/counter`).catch(() => undefined);
        if (read === undefined || (read.status !== 200 && read.status !== 404)) {
          refusals++;
          continue;
        }
        const tag = read.headers.get('etag');
        const count = read.status === 404 ? 0 : parseValue(await read.text()).count;
        if (read.status === 404) await read.arrayBuffer().catch(() => undefined);
        const unique = `${id}|${attempt}`;
        const written = await fetch(`${url}/v1/kv/counter`, {
          method: 'PUT',
          body: `${count + 1}|${unique}`,
          headers: tag === null ? { 'if-none-match': '*' } : { 'if-match': tag },
        }).catch(() => undefined);
        if (written?.status === 200) {
          acknowledged++;
          continue;
        }
        const code = written
          ? ((await written.json()) as { error?: { code?: string } }).error?.code
          : 'CONNECTION';
        if (code === 'CONFLICT') conflicts++;
        else if (code === 'NOT_LEADER' || code === 'REPLICATION_BACKLOG') refusals++;
        else {
          // The write may or may not have been applied: settle it from the history below.
          expect(code, `unexpected answer to a write`).to.be.oneOf([
            'CONNECTION',
            'TIMEOUT',
            'OUTCOME_UNKNOWN',
            'CLOSED',
          ]);
          indeterminate.push({ tag: unique });
        }
      }
    };
    const killer = (async () => {
      await waitFor('a third of the increments', 120_000, () =>
        acknowledged >= killAt ? true : undefined,
      );
      killed = await waitForLeader(nodes.filter((node) => node.running));
      expect(await killed.stop('SIGKILL')).to.equal('SIGKILL');
    })();
    await Promise.all([...Array.from({ length: 16 }, (_, id) => client(id)), killer]);
    expect(killed, 'the leader was killed during the run').to.not.equal(undefined);

    const survivors = nodes.filter((node) => node.running);
    await waitForConvergence(survivors);
    const url = (await leaderUrl()) as string;
    const history = await counterHistory(url);
    const applied = new Set(history.map((value) => parseValue(value).tag));
    const settled = indeterminate.filter((write) => applied.has(write.tag)).length;
    const final = parseValue(await (await fetch(`${url}/v1/kv/counter`)).text()).count;
    process.stdout.write(
      `      counter: ${acknowledged} acknowledged, ${indeterminate.length} indeterminate (${settled} applied), ${conflicts} conflicts, ${refusals} refusals; final ${final}\n`,
    );
    expect(final).to.equal(acknowledged + settled);
    expect(history.map((value) => parseValue(value).count)).to.deep.equal(
      Array.from({ length: final }, (_, index) => index + 1),
    );
    // The killed node comes back as a follower and converges on the same counter.
    await (killed as ClusterNode).start();
    await waitForConvergence(nodes);
    for (const node of nodes) {
      expect(await (await fetch(`${node.url}/v1/kv/counter`)).text()).to.equal(
        history[history.length - 1],
      );
    }
  });
});
