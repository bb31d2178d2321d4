import { mkdir, readFile, readdir, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { createTempDirectory, startNatsServer } from '@strata/testing';
import type { NatsServerHandle } from '@strata/testing';
import { BACKUP_MANIFEST_NAME } from '../src/backup/backup-manifest.js';
import type { BackupManifest } from '../src/backup/backup-manifest.js';
import { ClusterNode, put, waitFor, waitForConvergence, waitForLeader } from './cluster-helpers.js';
import { parseNdjson, runCli, startNodeProcess } from './helpers.js';
import type { NodeProcess } from './helpers.js';

/** One tar entry as the test reads the archive by hand (ustar: 512-byte headers). */
interface TarEntry {
  readonly name: string;
  readonly headerOffset: number;
  readonly dataOffset: number;
  readonly sizeBytes: number;
}

/** The entries of a tar file, parsed without the code under test. */
function tarEntries(bytes: Buffer): TarEntry[] {
  const entries: TarEntry[] = [];
  for (let at = 0; at + 512 <= bytes.length;) {
    const header = bytes.subarray(at, at + 512);
    if (header.every((byte) => byte === 0)) break;
    const field = (from: number, length: number): string =>
      header.toString('utf8', from, from + length).replace(/\0.*$/s, '');
    const prefix = field(345, 155);
    const name = prefix ? `${prefix}/${field(0, 100)}` : field(0, 100);
    const sizeBytes = parseInt(field(124, 12).trim() || '0', 8);
    entries.push({ name, headerOffset: at, dataOffset: at + 512, sizeBytes });
    at += 512 + Math.ceil(sizeBytes / 512) * 512;
  }
  return entries;
}

/** The whole key space of a node at `at` (or its latest), as key -> value. */
async function keySpace(url: string, at?: number): Promise<Map<string, string>> {
  const result = new Map<string, string>();
  let cursor: string | null = null;
  for (;;) {
    const query = new URLSearchParams({ limit: '10000' });
    if (cursor !== null) query.set('cursor', cursor);
    else if (at !== undefined) query.set('at', String(at));
    const response = await fetch(`${url}/v1/kv?${query.toString()}`);
    expect(response.status, await response.clone().text()).to.equal(200);
    const page = (await response.json()) as {
      items: { key: string; value: string }[];
      cursor: string | null;
    };
    for (const item of page.items) result.set(item.key, item.value);
    cursor = page.cursor;
    if (cursor === null) return result;
  }
}

/** `/v1/events` from 1 to `to` as NDJSON lines. */
async function events(url: string, to: number): Promise<Record<string, unknown>[]> {
  const response = await fetch(`${url}/v1/events?from=1&to=${to}`);
  expect(response.status).to.equal(200);
  return parseNdjson(await response.text());
}

async function manifestOf(archive: string): Promise<BackupManifest> {
  const bytes = await readFile(archive);
  const entry = tarEntries(bytes).find((candidate) => candidate.name === BACKUP_MANIFEST_NAME)!;
  const text = bytes.toString('utf8', entry.dataOffset, entry.dataOffset + entry.sizeBytes);
  return (JSON.parse(text) as { manifest: BackupManifest }).manifest;
}

/** Writes until stopped: puts over 400 keys (overwrites), deletes, batches. */
function startWriters(url: string): { stop(): Promise<number> } {
  let running = true;
  let written = 0;
  const writer = async (id: number): Promise<void> => {
    for (let i = 0; running; i++) {
      const key = `k${(i * 7 + id * 13) % 400}`;
      if (i % 11 === 5) {
        await fetch(`${url}/v1/kv/${key}`, { method: 'DELETE' }).then((r) => r.arrayBuffer());
      } else if (i % 17 === 3) {
        await fetch(`${url}/v1/batch`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            ops: [
              { type: 'put', key: `b${i % 50}`, value: `batch-${id}-${i}` },
              { type: 'put', key: `c${i % 30}`, value: 'x'.repeat(500 + (i % 300)) },
            ],
          }),
        }).then((r) => r.arrayBuffer());
      } else {
        await fetch(`${url}/v1/kv/${key}`, {
          method: 'PUT',
          body: `w${id}-${i}-${'v'.repeat(i % 900)}`,
        }).then((r) => r.arrayBuffer());
      }
      written++;
    }
  };
  const writers = [writer(1), writer(2), writer(3)];
  return {
    async stop() {
      running = false;
      await Promise.all(writers);
      return written;
    },
  };
}

describe('strata backup / restore (real processes)', function () {
  this.timeout(300_000);

  let temp: Awaited<ReturnType<typeof createTempDirectory>>;
  const processes: NodeProcess[] = [];

  beforeEach(async () => {
    temp = await createTempDirectory('strata-backup-test-');
  });

  afterEach(async () => {
    await Promise.all(processes.splice(0).map((node) => node.stop('SIGKILL')));
    await temp.remove();
  });

  it('a node removes the staging directory a backup interrupted by a crash left behind', async () => {
    const data = join(temp.path, 'node');
    const first = await startNodeProcess(data);
    processes.push(first);
    expect((await fetch(`${first.url}/v1/kv/k`, { method: 'PUT', body: 'v' })).status).to.equal(
      200,
    );
    expect(await first.stop('SIGKILL')).to.equal('SIGKILL');
    processes.splice(processes.indexOf(first), 1);
    // What a backup stages (a checkpoint under backups.tmp/), as a node killed mid-stream leaves it.
    const staged = join(data, 'backups.tmp', 'checkpoint-1', 'tree');
    await mkdir(staged, { recursive: true });
    await writeFile(join(staged, 'leftover.seg'), Buffer.alloc(4096, 1));
    const second = await startNodeProcess(data);
    processes.push(second);
    expect(await readdir(data)).to.not.include('backups.tmp');
    expect(await (await fetch(`${second.url}/v1/kv/k`)).text()).to.equal('v');
  });

  it('a backup taken under concurrent writes restores to exactly the state at its seqno', async () => {
    const source = await startNodeProcess(join(temp.path, 'source'), [
      '--memtable-bytes',
      '64KiB',
      '--log-segment-bytes',
      '256KiB',
      '--sync',
      'none',
    ]);
    processes.push(source);
    // History before the backup: several flushed segments and log segments.
    for (let i = 0; i < 300; i++) await put(source.url, `k${i}`, `first-${i}-${'p'.repeat(400)}`);
    const writers = startWriters(source.url);
    await waitFor('writes under way', 30_000, async () =>
      ((await (await fetch(`${source.url}/v1/status`)).json()) as { lastSeqno: number }).lastSeqno >
      800
        ? true
        : undefined,
    );
    const archive = join(temp.path, 'backup.tar');
    const backup = await runCli(['backup', '--url', source.url, '--out', archive]);
    const writtenDuring = await writers.stop();
    expect(backup.stderr).to.equal('');
    expect(backup.code).to.equal(0);
    const manifest = await manifestOf(archive);
    expect(backup.stdout).to.contain(`seqno ${manifest.seqno}`);
    const status = (await (await fetch(`${source.url}/v1/status`)).json()) as {
      lastSeqno: number;
    };
    // Writes went on during the backup: the backup is a point inside the history, not its end.
    expect(writtenDuring).to.be.greaterThan(0);
    expect(status.lastSeqno).to.be.greaterThan(manifest.seqno);

    // The archive is a plain tar listing the data files and the manifest last.
    const names = tarEntries(await readFile(archive)).map((entry) => entry.name);
    expect(names[0]).to.equal('FORMAT');
    expect(names[names.length - 1]).to.equal(BACKUP_MANIFEST_NAME);
    expect(names.some((name) => name.startsWith('tree/segments/'))).to.equal(true);
    expect(names.some((name) => name.startsWith('wal/'))).to.equal(true);

    const data = join(temp.path, 'restored');
    const restore = await runCli(['restore', '--from', archive, '--data', data]);
    expect(restore.stderr).to.equal('');
    expect(restore.code).to.equal(0);
    expect(restore.stdout).to.contain(`seqno ${manifest.seqno}`);
    const verify = await runCli(['verify', '--data', data]);
    expect(verify.code, verify.stdout + verify.stderr).to.equal(0);

    const restored = await startNodeProcess(data);
    processes.push(restored);
    const restoredStatus = (await (await fetch(`${restored.url}/v1/status`)).json()) as {
      lastSeqno: number;
    };
    expect(restoredStatus.lastSeqno).to.equal(manifest.seqno);
    const expected = await keySpace(source.url, manifest.seqno);
    const actual = await keySpace(restored.url);
    expect(actual.size).to.be.greaterThan(300);
    expect([...actual.entries()]).to.deep.equal([...expected.entries()]);
    const expectedEvents = await events(source.url, manifest.seqno);
    const actualEvents = await events(restored.url, manifest.seqno);
    expect(actualEvents.length).to.be.greaterThan(0);
    expect(actualEvents).to.deep.equal(expectedEvents);
    // Nothing after the backup's seqno.
    expect(Math.max(...actualEvents.map((event) => Number(event.seqno)))).to.be.at.most(
      manifest.seqno,
    );
  });

  it('replay --into --backup rebuilds from a backup plus the log after it, when retention cut the log', async () => {
    const sourceData = join(temp.path, 'source');
    const args = ['--memtable-bytes', '64KiB', '--log-segment-bytes', '128KiB'];
    let source = await startNodeProcess(sourceData, [...args, '--log-retention-bytes', '512KiB']);
    processes.push(source);
    const value = (i: number): string => `v${i}-${'z'.repeat(1000)}`;
    for (let i = 0; i < 2000; i++) await put(source.url, `k${i % 700}`, value(i));
    const archive = join(temp.path, 'backup.tar');
    const backup = await runCli(['backup', '--url', source.url, '--out', archive]);
    expect(backup.code, backup.stderr).to.equal(0);
    const { seqno } = await manifestOf(archive);
    // Less than the retention after the backup: the log still holds seqno + 1.
    for (let i = 2000; i < 2200; i++) await put(source.url, `k${i % 700}`, value(i));
    const status = (await (await fetch(`${source.url}/v1/status`)).json()) as {
      lastSeqno: number;
      firstRetainedSeqno: number;
    };
    expect(status.firstRetainedSeqno).to.be.greaterThan(1);
    expect(status.firstRetainedSeqno).to.be.at.most(seqno + 1);
    await source.stop('SIGTERM');

    const plain = await runCli(['replay', '--data', sourceData, '--into', join(temp.path, 'a')]);
    expect(plain.code).to.equal(1);
    expect(plain.stderr).to.contain('HISTORY_TRUNCATED');
    expect(plain.stderr).to.contain('--backup');
    const target = join(temp.path, 'rebuilt');
    const rebuilt = await runCli([
      'replay',
      '--data',
      sourceData,
      '--into',
      target,
      '--backup',
      archive,
    ]);
    expect(rebuilt.code, rebuilt.stderr).to.equal(0);
    expect(rebuilt.stderr).to.contain(`up to seqno ${status.lastSeqno}`);

    source = await startNodeProcess(sourceData, args);
    processes.push(source);
    const copy = await startNodeProcess(target);
    processes.push(copy);
    expect([...(await keySpace(copy.url)).entries()]).to.deep.equal([
      ...(await keySpace(source.url)).entries(),
    ]);
    const from = status.firstRetainedSeqno;
    const tail = async (url: string): Promise<Record<string, unknown>[]> =>
      parseNdjson(await (await fetch(`${url}/v1/events?from=${from}`)).text());
    expect(await tail(copy.url)).to.deep.equal(await tail(source.url));
  });

  describe('a damaged archive', () => {
    let archive: string;
    let bytes: Buffer;

    beforeEach(async () => {
      const source = await startNodeProcess(join(temp.path, 'source'), [
        '--memtable-bytes',
        '64KiB',
      ]);
      processes.push(source);
      for (let i = 0; i < 400; i++) await put(source.url, `k${i}`, `v${i}-${'x'.repeat(600)}`);
      archive = join(temp.path, 'backup.tar');
      const backup = await runCli(['backup', '--url', source.url, '--out', archive]);
      expect(backup.code, backup.stderr).to.equal(0);
      bytes = await readFile(archive);
    });

    async function refusedRestore(damaged: Buffer): Promise<string> {
      const file = join(temp.path, 'damaged.tar');
      await writeFile(file, damaged);
      const data = join(temp.path, 'restored');
      const result = await runCli(['restore', '--from', file, '--data', data]);
      expect(result.code).to.equal(1);
      expect(result.stdout).to.equal('');
      // Nothing is made from a damaged archive.
      const left = await readdir(data).catch(() => []);
      expect(left).to.deep.equal([]);
      expect(result.stderr).to.contain('CORRUPTION');
      expect(result.stderr).to.contain(file);
      return result.stderr;
    }

    it('refuses a flipped byte inside a file, naming the file and the offset', async () => {
      const entry = tarEntries(bytes).find(
        (candidate) => candidate.name.startsWith('tree/segments/') && candidate.sizeBytes > 1000,
      )!;
      const flipAt = entry.dataOffset + Math.floor(entry.sizeBytes / 2);
      const damaged = Buffer.from(bytes);
      damaged[flipAt] = damaged[flipAt]! ^ 0x20;
      const stderr = await refusedRestore(damaged);
      expect(stderr).to.contain(entry.name);
      const offset = Number(/at offset (\d+)/.exec(stderr)?.[1]);
      // The offset is the start of the damaged 1 MiB chunk of that file (here: its first).
      expect(offset).to.equal(entry.dataOffset);
      expect(flipAt - offset).to.be.lessThan(1024 * 1024);
    });

    it('refuses a flipped byte in the manifest', async () => {
      const entry = tarEntries(bytes).find((candidate) => candidate.name === BACKUP_MANIFEST_NAME)!;
      const damaged = Buffer.from(bytes);
      const flipAt = entry.dataOffset + 40;
      damaged[flipAt] = damaged[flipAt]! ^ 0x01;
      const stderr = await refusedRestore(damaged);
      expect(stderr).to.contain(`at offset ${entry.dataOffset}`);
      expect(stderr).to.contain(BACKUP_MANIFEST_NAME);
    });

    it('refuses a flipped byte in a tar header, naming its offset', async () => {
      const entry = tarEntries(bytes).find((candidate) => candidate.name.startsWith('wal/'))!;
      const damaged = Buffer.from(bytes);
      damaged[entry.headerOffset + 3] = damaged[entry.headerOffset + 3]! ^ 0x04;
      const stderr = await refusedRestore(damaged);
      expect(stderr).to.contain(`at offset ${entry.headerOffset}`);
      expect(stderr).to.contain('damaged tar header');
    });

    it('refuses a truncated archive, naming where it ends', async () => {
      const entries = tarEntries(bytes);
      const entry = entries.find(
        (candidate) => candidate.name.startsWith('tree/segments/') && candidate.sizeBytes > 1000,
      )!;
      const cut = entry.dataOffset + 700;
      const stderr = await refusedRestore(bytes.subarray(0, cut));
      expect(stderr).to.contain(`at offset ${cut}`);
      expect(stderr).to.contain(`truncated inside ${entry.name}`);
      // Cut at an entry boundary, before the manifest: still truncated.
      const manifest = entries.find((candidate) => candidate.name === BACKUP_MANIFEST_NAME)!;
      const before = await refusedRestore(bytes.subarray(0, manifest.headerOffset));
      expect(before).to.contain(`at offset ${manifest.headerOffset}`);
      expect(before).to.contain(`ends without ${BACKUP_MANIFEST_NAME}`);
    });

    it('refuses a data directory that is not empty, and a backup file that exists', async () => {
      const data = join(temp.path, 'busy');
      await runCli(['restore', '--from', archive, '--data', data]);
      const again = await runCli(['restore', '--from', archive, '--data', data]);
      expect(again.code).to.equal(1);
      expect(again.stderr).to.contain('INVALID_ARGUMENT');
      expect(again.stderr).to.contain('is not empty');
      const before = await stat(archive);
      const overwrite = await runCli(['backup', '--url', 'http://127.0.0.1:9', '--out', archive]);
      expect(overwrite.code).to.equal(1);
      expect(overwrite.stderr).to.contain('already exists');
      expect((await stat(archive)).size).to.equal(before.size);
    });

    it('is found by the backup command itself when the stream is cut', async () => {
      // A truncated download never becomes the --out file: check the verifier on a cut copy.
      const cut = join(temp.path, 'cut.tar');
      await writeFile(cut, bytes);
      await truncate(cut, bytes.length - 2048);
      const data = join(temp.path, 'from-cut');
      const result = await runCli(['restore', '--from', cut, '--data', data]);
      expect(result.code).to.equal(1);
      expect(result.stderr).to.match(/CORRUPTION: corruption in .*cut\.tar at offset \d+/);
    });
  });

  describe('in a 3-node cluster', () => {
    let nats: NatsServerHandle | undefined;
    let nodes: ClusterNode[] = [];

    afterEach(async function () {
      if (this.currentTest?.state === 'failed') {
        for (const node of nodes) process.stderr.write(`${node.output()}\n`);
      }
      await Promise.all(nodes.map((node) => node.dispose().catch(() => undefined)));
      nodes = [];
      await nats?.stop().catch(() => undefined);
      nats = undefined;
    });

    it('a backup of a follower restores into a node that joins as a follower and converges', async () => {
      nats = await startNatsServer();
      for (let index = 1; index <= 3; index++) {
        nodes.push(
          await ClusterNode.create({
            natsUrl: nats.url,
            cluster: `backup${process.pid}`,
            nodeId: `n${index}`,
            extraArgs: ['--memtable-bytes', '64KiB'],
          }),
        );
      }
      await Promise.all(nodes.map((node) => node.start()));
      const leader = await waitForLeader(nodes);
      for (let i = 0; i < 300; i++) {
        expect(await put(leader.url, `k${i % 120}`, `v${i}-${'y'.repeat(300)}`)).to.equal(200);
      }
      await waitForConvergence(nodes);
      const followers = nodes.filter((node) => node !== leader);
      const [source, replaced] = followers as [ClusterNode, ClusterNode];
      const archive = join(temp.path, 'cluster-backup.tar');
      const backup = await runCli(['backup', '--url', source.url, '--out', archive]);
      expect(backup.code, backup.stderr).to.equal(0);
      const manifest = await manifestOf(archive);
      expect(manifest.nodeId).to.equal(source.settings.nodeId);

      // The other follower loses its disk and comes back from the backup.
      await replaced.stop('SIGKILL');
      const { rm } = await import('node:fs/promises');
      for (const name of await readdir(replaced.data)) {
        await rm(join(replaced.data, name), { recursive: true, force: true });
      }
      const restore = await runCli(['restore', '--from', archive, '--data', replaced.data]);
      expect(restore.code, restore.stderr).to.equal(0);
      // Writes after the backup: the restored node has to get them from the stream.
      for (let i = 300; i < 400; i++) {
        expect(await put(leader.url, `k${i % 150}`, `v${i}`)).to.equal(200);
      }
      await replaced.start();
      const statuses = await waitForConvergence(nodes);
      const restoredStatus = statuses.find((s) => s.nodeId === replaced.settings.nodeId)!;
      expect(restoredStatus.role).to.equal('follower');
      // It continued from the stream after the backup's seqno: no checkpoint from the leader.
      expect(restoredStatus.bootstraps).to.equal(0);
      expect(restoredStatus.lastSeqno).to.be.greaterThan(manifest.seqno);
      const expected = await keySpace(leader.url);
      expect([...(await keySpace(replaced.url)).entries()]).to.deep.equal([...expected.entries()]);
      expect(await events(replaced.url, restoredStatus.lastSeqno)).to.deep.equal(
        await events(leader.url, restoredStatus.lastSeqno),
      );
    });
  });
});
