import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { createTempDirectory, startNatsServer } from '@strata/testing';
import type { NatsServerHandle } from '@strata/testing';
import { NODE_VERSION } from '../src/http/status-routes.js';
import { postBatch, put, waitFor } from './cluster-helpers.js';
import { startNodeProcess } from './helpers.js';
import type { NodeProcess } from './helpers.js';
import { logLinesOf, promtoolCheckMetrics, samplesOf, typesOf, valueOf } from './metrics-text.js';
import type { LogLine } from './metrics-text.js';

const DASHBOARD = fileURLToPath(new URL('../../../docs/grafana/strata.json', import.meta.url));

/** Names the node exported before the conventions were followed; none may come back. */
const RETIRED_NAMES = [
  'strata_flushes_total',
  'strata_compactions_total',
  'strata_segments_total',
  'strata_flushed_bytes_total',
  'strata_flush_duration_seconds_total',
  'strata_compaction_duration_seconds_total',
  'strata_writes_total',
  'strata_wal_write_groups_total',
  'strata_write_stalls_total',
  'strata_disk_space_bytes',
  'nodejs_active_handles_total',
];

async function metricsOf(url: string): Promise<string> {
  const response = await fetch(`${url}/metrics`);
  expect(response.status).to.equal(200);
  return response.text();
}

/** promtool's lint passes, and the rules it does not check: gauges never end in `_total`. */
async function expectConventions(text: string): Promise<void> {
  const check = await promtoolCheckMetrics(text);
  expect(check.output, 'promtool check metrics').to.equal('');
  expect(check.code).to.equal(0);
  for (const [name, type] of typesOf(text)) {
    if (type === 'counter') expect(name, `${name} is a counter`).to.match(/_total$/);
    else expect(name, `${name} is a ${type}`).not.to.match(/_total$/);
    // Durations in seconds, sizes in bytes: no other unit in a name.
    expect(name).not.to.match(/_(ms|milliseconds|kb|mb|kib|mib)(_|$)/);
  }
  for (const name of RETIRED_NAMES) expect([...typesOf(text).keys()]).not.to.include(name);
  expect(valueOf(text, 'strata_build_info', `{version="${NODE_VERSION}"}`)).to.equal(1);
}

/** The bytes of the tree's levels, as the metrics say. */
function levelBytesOf(text: string): number {
  return samplesOf(text)
    .filter((sample) => sample.name === 'strata_level_bytes')
    .reduce((total, sample) => total + sample.value, 0);
}

/** The bytes the tree must hold by its flush and compaction log lines: flushed + written - replaced. */
function treeBytesOf(lines: readonly LogLine[]): number {
  const sum = (event: string, field: string): number =>
    events(lines, event).reduce((total, line) => total + (line[field] as number), 0);
  return (
    sum('flush', 'segmentBytes') +
    sum('compaction', 'outputBytes') -
    sum('compaction', 'inputBytes')
  );
}

/** Lines of `lines` with the given `event` field. */
function events(lines: readonly LogLine[], event: string): LogLine[] {
  return lines.filter((line) => line['event'] === event);
}

describe('metrics and logs by the conventions (promtool, JSON log lines)', function () {
  this.timeout(600_000);
  /** Every exposition the tests read, for the dashboard check. */
  const expositions: string[] = [];
  const nodes: NodeProcess[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  let nats: NatsServerHandle | undefined;

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') {
      for (const node of nodes)
        console.log(`--- stdout ---\n${node.output()}\n--- stderr ---\n${node.errors()}`);
    }
    for (const node of nodes.splice(0)) await node.stop('SIGKILL');
    await nats?.stop().catch(() => undefined);
    nats = undefined;
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  it('a standalone node: promtool passes, the store figures match its flush and compaction log lines, every stdout line is JSON with one startup line, client errors are not logged as errors', async function () {
    const data = await createTempDirectory('strata-metrics-');
    cleanups.push(() => data.remove());
    const args = ['--log-level', 'info', '--memtable-bytes', '64KiB', '--max-wait-ms', '100'];
    const node = await startNodeProcess(data.path, args);
    nodes.push(node);
    // About 1.4 MB of values through 64 KiB memtables: flushes, and level 0 compacted.
    for (let round = 0; round < 60; round++) {
      const ops = Array.from({ length: 100 }, (_, index) => ({
        type: 'put' as const,
        key: `m/${String(round * 100 + index).padStart(6, '0')}`,
        value: 'v'.repeat(200),
      }));
      expect(await postBatch(node.url, ops)).to.equal(200);
    }
    // Reads from segments (the block cache), and answers the client caused.
    expect((await fetch(`${node.url}/v1/kv/m%2F000001`)).status).to.equal(200);
    expect((await fetch(`${node.url}/v1/kv/m%2F000001`)).status).to.equal(200);
    expect((await fetch(`${node.url}/v1/kv/absent`)).status).to.equal(404);
    expect((await fetch(`${node.url}/v1/kv/a?minSeqno=x`)).status).to.equal(400);
    const conflict = await fetch(`${node.url}/v1/kv/m%2F000001`, {
      method: 'PUT',
      body: 'x',
      headers: { 'if-match': '"1"' },
    });
    expect(conflict.status).to.equal(409);
    expect((await fetch(`${node.url}/v1/kv/a?minSeqno=999999`)).status).to.equal(503);

    // The metrics and the log lines come from the same store events: wait until the log has a
    // line for every flush and compaction step the metrics count, with at least one merge.
    const { text, lines } = await waitFor(
      'flushes, a merge, and as many log lines as the metrics count',
      120_000,
      async () => {
        const current = await metricsOf(node.url);
        const lines = logLinesOf(node.output());
        const flushes = valueOf(current, 'strata_flush_duration_seconds_count') ?? 0;
        const merges =
          valueOf(current, 'strata_compaction_duration_seconds_count', '{kind="merge"}') ?? 0;
        const steps = samplesOf(current)
          .filter((sample) => sample.name === 'strata_compaction_duration_seconds_count')
          .reduce((sum, sample) => sum + sample.value, 0);
        const settled =
          flushes >= 4 &&
          merges >= 1 &&
          events(lines, 'flush').length === flushes &&
          events(lines, 'compaction').length === steps &&
          levelBytesOf(current) === treeBytesOf(lines);
        // Equal counts mean the same events (both are in event order): one consistent snapshot.
        // The levels may run ahead of the events while a manifest is being written (a segment is
        // listed before its flush or compaction is reported), so they are compared once equal.
        return settled ? { text: current, lines } : undefined;
      },
      () => node.output().slice(-4000),
    );
    expositions.push(text);
    await expectConventions(text);
    expect(text).not.to.include('strata_replication_');

    const flushLines = events(lines, 'flush');
    const compactionLines = events(lines, 'compaction');
    const sum = (of: readonly LogLine[], field: string): number =>
      of.reduce((total, line) => total + (line[field] as number), 0);
    expect(valueOf(text, 'strata_flush_bytes_total')).to.equal(sum(flushLines, 'segmentBytes'));
    expect(valueOf(text, 'strata_compaction_input_bytes_total')).to.equal(
      sum(compactionLines, 'inputBytes'),
    );
    expect(valueOf(text, 'strata_compaction_output_bytes_total')).to.equal(
      sum(compactionLines, 'outputBytes'),
    );
    for (const line of [...flushLines, ...compactionLines]) {
      expect(line.level, line.msg).to.equal(30);
      expect(line['durationMs']).to.be.a('number').at.least(0);
    }
    expect(levelBytesOf(text)).to.be.above(0);
    expect(valueOf(text, 'strata_block_cache_hits_total')).to.be.above(0);
    expect(valueOf(text, 'strata_block_cache_misses_total')).to.be.above(0);
    expect(valueOf(text, 'strata_last_seqno')).to.equal(6000);
    expect(valueOf(text, 'strata_write_duration_seconds_count', '{op="batch"}')).to.equal(60);
    expect(valueOf(text, 'strata_write_entries_total')).to.equal(6000);
    expect(
      valueOf(
        text,
        'strata_http_requests_total',
        '{method="GET",route="/v1/kv/:key",status="503"}',
      ),
    ).to.equal(1);

    // One startup line with what an operator needs first; nothing above info on a healthy run
    // (the 400, 404, 409 and 503 above were the client's doing).
    const startups = events(lines, 'startup');
    expect(startups).to.have.length(1);
    expect(startups[0]).to.include({
      level: 30,
      version: NODE_VERSION,
      dataDirectory: data.path,
      sync: 'always',
      acks: null,
      role: 'standalone',
      recoveredSeqno: 0,
      url: node.url,
    });
    expect(startups[0]!['recoveryMs']).to.be.a('number').at.least(0);
    expect(startups[0]!.msg).to.match(/^listening on http:\/\/127\.0\.0\.1:\d+ \(strata /);
    const allLines = logLinesOf(node.output());
    expect(allLines.filter((line) => line.level >= 40).map((line) => line.msg)).to.deep.equal([]);
    expect(allLines.filter((line) => line['err'] !== undefined)).to.deep.equal([]);

    // A restart says what it recovered.
    expect(await node.stop('SIGTERM')).to.equal(0);
    nodes.splice(nodes.indexOf(node), 1);
    const again = await startNodeProcess(data.path, ['--log-level', 'warn']);
    nodes.push(again);
    const restartLines = logLinesOf(again.output());
    const restart = events(restartLines, 'startup');
    expect(restart, 'the startup line is written under --log-level warn too').to.have.length(1);
    expect(restart[0]).to.include({ recoveredSeqno: 6000, dataDirectory: data.path });
  });

  it('a leader and a follower: promtool passes on both, replication metrics by role, JSON startup lines with the cluster and acks', async function () {
    nats = await startNatsServer();
    const cluster = ['--nats', nats.url, '--cluster', 'metrics', '--cluster-size', '2'];
    const directories = await Promise.all(
      ['m1', 'm2'].map(() => createTempDirectory('strata-metrics-cluster-')),
    );
    for (const directory of directories) cleanups.push(() => directory.remove());
    const leader = await startNodeProcess(directories[0]!.path, [
      '--log-level',
      'info',
      ...cluster,
      '--node-id',
      'm1',
      '--role',
      'leader',
    ]);
    nodes.push(leader);
    await waitFor('m1 to lead', 60_000, async () => {
      const status = (await (await fetch(`${leader.url}/v1/status`)).json()) as { role: string };
      return status.role === 'leader' ? true : undefined;
    });
    const follower = await startNodeProcess(directories[1]!.path, [
      '--log-level',
      'info',
      ...cluster,
      '--node-id',
      'm2',
      '--role',
      'follower',
    ]);
    nodes.push(follower);
    for (let index = 0; index < 20; index++) {
      expect(await put(leader.url, `k${index}`, `v${index}`)).to.equal(200);
    }
    await waitFor('the follower to apply seqno 20', 60_000, async () => {
      const text = await metricsOf(follower.url);
      return (valueOf(text, 'strata_last_seqno') ?? 0) >= 20 ? true : undefined;
    });

    const leaderText = await metricsOf(leader.url);
    const followerText = await metricsOf(follower.url);
    expositions.push(leaderText, followerText);
    await expectConventions(leaderText);
    await expectConventions(followerText);
    expect(valueOf(leaderText, 'strata_replication_is_leader')).to.equal(1);
    expect(valueOf(leaderText, 'strata_replication_quorum_seqno')).to.be.at.least(20);
    expect(valueOf(leaderText, 'strata_replication_published_seqno')).to.be.at.least(20);
    expect(valueOf(followerText, 'strata_replication_is_leader')).to.equal(0);
    expect(valueOf(followerText, 'strata_replication_refused_messages_total')).to.equal(0);
    expect(valueOf(followerText, 'strata_replication_lag_seqnos')).to.be.a('number');
    // A leader-only figure is absent on the follower, not a zero.
    expect(valueOf(followerText, 'strata_replication_quorum_seqno')).to.equal(undefined);

    for (const [node, id] of [
      [leader, 'm1'],
      [follower, 'm2'],
    ] as const) {
      const lines = logLinesOf(node.output());
      const startups = events(lines, 'startup');
      expect(startups, id).to.have.length(1);
      expect(startups[0]).to.include({
        nodeId: id,
        cluster: 'metrics',
        acks: 'quorum',
        sync: 'always',
        version: NODE_VERSION,
      });
      expect(lines.filter((line) => line.level >= 50).map((line) => line.msg)).to.deep.equal([]);
    }
  });

  it('docs/grafana/strata.json queries only metrics a node exports', async function () {
    expect(expositions, 'the two tests above ran').to.have.length(3);
    // A sample's name, or a histogram's series (declared even before its first observation: a
    // node that never stalled has no stall samples yet).
    const exported = new Set(expositions.flatMap((text) => samplesOf(text).map((s) => s.name)));
    for (const text of expositions) {
      for (const [name, type] of typesOf(text)) {
        if (type === 'histogram')
          for (const suffix of ['_bucket', '_sum', '_count']) exported.add(name + suffix);
      }
    }
    const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as {
      panels: { id: number; type: string; title: string; targets?: { expr: string }[] }[];
    };
    const queried = new Set<string>();
    const ids = new Set<number>();
    for (const panel of dashboard.panels) {
      expect(ids.has(panel.id), `panel id ${panel.id} is unique`).to.equal(false);
      ids.add(panel.id);
      if (panel.type === 'row') continue;
      expect(panel.targets, panel.title).to.be.an('array').that.is.not.empty;
      for (const target of panel.targets ?? []) {
        for (const match of target.expr.matchAll(/\b((?:strata|nodejs|process)_[a-z0-9_]+)/g)) {
          queried.add(match[1]!);
        }
      }
    }
    expect(queried.size).to.be.above(30);
    const missing = [...queried].filter((name) => !exported.has(name));
    expect(missing, 'queried by the dashboard, exported by no node').to.deep.equal([]);
  });
});
