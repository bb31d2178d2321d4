// Over 400 lines on purpose: ClusterMeta's contract in one place (opening, identity, migrations,
// then each table), on one fixture (a meta.sqlite opened in a fresh directory per test).
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import Database from 'better-sqlite3';
import { createTempDirectory } from '@strata/testing';
import { ClusterMeta } from '../src/meta/cluster-meta.js';
import { MAX_RECORDED_CHECKPOINTS } from '../src/meta/checkpoints-table.js';
import { DEFAULT_MAX_STREAM_POSITIONS } from '../src/meta/stream-positions-table.js';
import type { PeerRecord } from '../src/meta/meta-records.js';
import { META_SCHEMA_VERSION } from '../src/meta/migrations.js';

type CodedError = Error & { code?: string; details?: Record<string, unknown> };

/** What `action` threw; fails the test if it returned. */
function errorOf(action: () => unknown): CodedError {
  try {
    action();
  } catch (error) {
    return error as CodedError;
  }
  throw new Error('expected an error');
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function peer(nodeId: string, overrides: Partial<PeerRecord> = {}): PeerRecord {
  return {
    nodeId,
    url: `http://${nodeId}.test:7070`,
    role: 'follower',
    epoch: 1,
    appliedSeqno: 10,
    durableSeqno: 9,
    lastContactMs: 1_000,
    ...overrides,
  };
}

describe('ClusterMeta', () => {
  let dir: { path: string; remove(): Promise<void> };
  let file: string;
  let clockMs: number;
  const nowMs = (): number => clockMs;
  const opened: ClusterMeta[] = [];

  function open(options: Partial<Parameters<typeof ClusterMeta.open>[1]> = {}): ClusterMeta {
    const meta = ClusterMeta.open(file, { cluster: 'demo', nowMs, ...options });
    opened.push(meta);
    return meta;
  }

  beforeEach(async () => {
    dir = await createTempDirectory('cluster-meta-');
    file = join(dir.path, 'meta.sqlite');
    clockMs = 1_700_000_000_000;
  });
  afterEach(async () => {
    for (const meta of opened.splice(0)) meta.close();
    await dir.remove();
  });

  describe('identity', () => {
    it('generates a node id once and keeps it across reopens', () => {
      const first = open();
      expect(first.nodeId).to.match(UUID);
      expect(first.cluster).to.equal('demo');
      expect(first.createdAtMs).to.equal(1_700_000_000_000);
      const nodeId = first.nodeId;
      first.close();
      clockMs += 5_000;
      const second = open();
      expect(second.nodeId).to.equal(nodeId);
      expect(second.createdAtMs).to.equal(1_700_000_000_000);
      // Naming the stored id explicitly is fine too.
      second.close();
      expect(open({ nodeId }).nodeId).to.equal(nodeId);
    });

    it('keeps a given node id, and refuses to open the file as another node', () => {
      open({ nodeId: 'n1' }).close();
      expect(open().nodeId).to.equal('n1');
      opened.splice(0).forEach((meta) => meta.close());
      const error = errorOf(() => open({ nodeId: 'n2' }));
      expect(error.code).to.equal('INVALID_ARGUMENT');
      expect(error.message).to.contain('"n1"').and.to.contain('"n2"');
      expect(error.details).to.include({ storedNodeId: 'n1', nodeId: 'n2', file });
    });

    it('refuses a given node id that differs from a generated one', () => {
      const generated = open().nodeId;
      opened.splice(0).forEach((meta) => meta.close());
      const error = errorOf(() => open({ nodeId: 'other' }));
      expect(error.code).to.equal('INVALID_ARGUMENT');
      expect(error.details).to.include({ storedNodeId: generated, nodeId: 'other' });
      // The refused open changed nothing.
      expect(open().nodeId).to.equal(generated);
    });

    it('refuses to open the file for another cluster, and bad names', () => {
      open().close();
      const error = errorOf(() => open({ cluster: 'other' }));
      expect(error.code).to.equal('INVALID_ARGUMENT');
      expect(error.details).to.include({ storedCluster: 'demo', cluster: 'other' });
      expect(errorOf(() => open({ cluster: 'has.dot' })).code).to.equal('INVALID_ARGUMENT');
      expect(errorOf(() => open({ nodeId: '' })).code).to.equal('INVALID_ARGUMENT');
      expect(errorOf(() => open({ nodeId: 'with space' })).code).to.equal('INVALID_ARGUMENT');
      expect(errorOf(() => open({ maxStreamPositions: 0 })).code).to.equal('INVALID_ARGUMENT');
    });
  });

  describe('SQLite settings and schema', () => {
    it('runs in WAL mode with synchronous=FULL, also after relaxed writes', () => {
      const meta = open();
      expect(meta.sqliteSettings()).to.deep.equal({
        journalMode: 'wal',
        synchronous: 2,
        busyTimeoutMs: 5_000,
        schemaVersion: META_SCHEMA_VERSION,
      });
      meta.recordStreamPosition({ streamSequence: 1, firstSeqno: 1, lastSeqno: 3 });
      meta.upsertPeer(peer('n2'));
      expect(meta.sqliteSettings().synchronous).to.equal(2);
      meta.close();
      const raw = new Database(file, { readonly: true });
      try {
        expect(raw.pragma('journal_mode', { simple: true })).to.equal('wal');
        expect(raw.pragma('user_version', { simple: true })).to.equal(META_SCHEMA_VERSION);
      } finally {
        raw.close();
      }
    });

    it('refuses a schema version newer than it knows, without touching the file', () => {
      open().close();
      const raw = new Database(file);
      raw.pragma(`user_version = ${META_SCHEMA_VERSION + 1}`);
      raw.close();
      const error = errorOf(() => open());
      expect(error.code).to.equal('UNSUPPORTED_FORMAT');
      expect(error.details).to.include({ version: META_SCHEMA_VERSION + 1, file });
      expect(errorOf(() => ClusterMeta.readSnapshot(file)).code).to.equal('UNSUPPORTED_FORMAT');
      const check = new Database(file, { readonly: true });
      try {
        expect(check.pragma('user_version', { simple: true })).to.equal(META_SCHEMA_VERSION + 1);
      } finally {
        check.close();
      }
    });

    it('reports a file that is not a database as CORRUPTION and leaves it as it was', async () => {
      const garbage = Buffer.alloc(8192, 0x5a);
      await writeFile(file, garbage);
      const error = errorOf(() => open());
      expect(error.code).to.equal('CORRUPTION');
      expect(error.details).to.include({ file, offset: 0 });
      expect(error.cause).to.be.instanceOf(Error);
      expect(errorOf(() => ClusterMeta.readSnapshot(file)).code).to.equal('CORRUPTION');
      expect((await readFile(file)).equals(garbage)).to.equal(true);
    });
  });

  describe('term', () => {
    it('starts at epoch 0 with no leader', () => {
      expect(open().term()).to.deep.equal({
        epoch: 0,
        leaderId: undefined,
        leaderUrl: undefined,
        updatedAtMs: 1_700_000_000_000,
      });
    });

    it('records epochs that only grow, and persists them', () => {
      const meta = open();
      clockMs = 2_000;
      meta.recordTerm({ epoch: 3, leaderId: 'n1', leaderUrl: 'http://n1:7070' });
      expect(meta.term()).to.deep.equal({
        epoch: 3,
        leaderId: 'n1',
        leaderUrl: 'http://n1:7070',
        updatedAtMs: 2_000,
      });
      const stale = errorOf(() => meta.recordTerm({ epoch: 2, leaderId: 'n9' }));
      expect(stale.code).to.equal('STALE_EPOCH');
      expect(stale.details).to.include({ epoch: 2, storedEpoch: 3 });
      expect(meta.term().leaderId).to.equal('n1');

      // The same term again writes nothing: updatedAtMs stays.
      clockMs = 3_000;
      meta.recordTerm({ epoch: 3, leaderId: 'n1', leaderUrl: 'http://n1:7070' });
      expect(meta.term().updatedAtMs).to.equal(2_000);

      // The same epoch may change the leader's fields.
      meta.recordTerm({ epoch: 3, leaderId: 'n1', leaderUrl: 'http://n1:7071' });
      expect(meta.term()).to.include({ epoch: 3, leaderUrl: 'http://n1:7071', updatedAtMs: 3_000 });

      // A new epoch without a known leader clears the old one.
      meta.recordTerm({ epoch: 4 });
      expect(meta.term()).to.include({ epoch: 4, leaderId: undefined, leaderUrl: undefined });
      meta.recordTerm({ epoch: 4, leaderId: 'n2', leaderUrl: 'http://n2:7070' });
      meta.close();

      expect(open().term()).to.deep.equal({
        epoch: 4,
        leaderId: 'n2',
        leaderUrl: 'http://n2:7070',
        updatedAtMs: 3_000,
      });
    });

    it('rejects malformed terms', () => {
      const meta = open();
      expect(errorOf(() => meta.recordTerm({ epoch: -1 })).code).to.equal('INVALID_ARGUMENT');
      expect(errorOf(() => meta.recordTerm({ epoch: 1.5 })).code).to.equal('INVALID_ARGUMENT');
      expect(errorOf(() => meta.recordTerm({ epoch: 2 ** 53 })).code).to.equal('INVALID_ARGUMENT');
      expect(errorOf(() => meta.recordTerm({ epoch: 1, leaderUrl: 'http://x' })).code).to.equal(
        'INVALID_ARGUMENT',
      );
      expect(errorOf(() => meta.recordTerm({ epoch: 1, leaderId: '' })).code).to.equal(
        'INVALID_ARGUMENT',
      );
      expect(meta.term().epoch).to.equal(0);
    });
  });

  describe('peers', () => {
    it('upserts, orders by node id, forgets, and persists', () => {
      const meta = open({ nodeId: 'n1' });
      meta.upsertPeer(peer('n3'));
      meta.upsertPeer(peer('n2', { role: 'leader', epoch: 2 }));
      meta.upsertPeer(peer('n3', { appliedSeqno: 50, durableSeqno: 48, lastContactMs: 9_000 }));
      expect(meta.peers()).to.deep.equal([
        peer('n2', { role: 'leader', epoch: 2 }),
        peer('n3', { appliedSeqno: 50, durableSeqno: 48, lastContactMs: 9_000 }),
      ]);
      meta.upsertPeer(peer('n4'));
      meta.forgetPeer('n4');
      meta.forgetPeer('never-known');
      meta.close();
      expect(
        open()
          .peers()
          .map((p) => [p.nodeId, p.appliedSeqno]),
      ).to.deep.equal([
        ['n2', 10],
        ['n3', 50],
      ]);
    });

    it('rejects malformed peers', () => {
      const meta = open();
      const bad: PeerRecord[] = [
        peer(''),
        peer('n2', { url: '' }),
        peer('n2', { role: 'boss' as PeerRecord['role'] }),
        peer('n2', { appliedSeqno: -1 }),
        peer('n2', { durableSeqno: Number.NaN }),
        peer('n2', { epoch: 0.5 }),
      ];
      for (const record of bad) {
        expect(errorOf(() => meta.upsertPeer(record)).code, JSON.stringify(record)).to.equal(
          'INVALID_ARGUMENT',
        );
      }
      expect(meta.peers()).to.deep.equal([]);
    });
  });

  describe('stream positions', () => {
    it('finds the message with the largest first seqno at or before a seqno', () => {
      const meta = open();
      meta.recordStreamPosition({ streamSequence: 1, firstSeqno: 1, lastSeqno: 10 });
      meta.recordStreamPosition({ streamSequence: 2, firstSeqno: 11, lastSeqno: 20 });
      meta.recordStreamPosition({ streamSequence: 3, firstSeqno: 21, lastSeqno: 21 });
      meta.recordStreamPosition({ streamSequence: 5, firstSeqno: 22, lastSeqno: 40 });
      const at = (seqno: number): number | undefined =>
        meta.streamPositionAtOrBefore(seqno)?.streamSequence;
      expect(at(0)).to.equal(undefined);
      expect(at(1)).to.equal(1);
      expect(at(10)).to.equal(1);
      expect(at(11)).to.equal(2);
      expect(at(20)).to.equal(2);
      expect(at(21)).to.equal(3);
      expect(at(22)).to.equal(5);
      expect(at(1_000)).to.equal(5);
      expect(meta.streamPositionAtOrBefore(30)).to.deep.equal({
        streamSequence: 5,
        firstSeqno: 22,
        lastSeqno: 40,
      });
      // Recording a message again replaces it.
      meta.recordStreamPosition({ streamSequence: 5, firstSeqno: 22, lastSeqno: 41 });
      expect(meta.streamPositionAtOrBefore(41)?.lastSeqno).to.equal(41);
      expect(meta.snapshot().streamPositions.count).to.equal(4);
      meta.close();
      expect(open().streamPositionAtOrBefore(15)).to.deep.equal({
        streamSequence: 2,
        firstSeqno: 11,
        lastSeqno: 20,
      });
    });

    it('rejects malformed positions', () => {
      const meta = open();
      const bad = [
        { streamSequence: 0, firstSeqno: 1, lastSeqno: 1 },
        { streamSequence: 1, firstSeqno: -1, lastSeqno: 1 },
        { streamSequence: 1, firstSeqno: 5, lastSeqno: 4 },
        { streamSequence: 1.5, firstSeqno: 1, lastSeqno: 1 },
      ];
      for (const position of bad) {
        expect(errorOf(() => meta.recordStreamPosition(position)).code).to.equal(
          'INVALID_ARGUMENT',
        );
      }
      expect(errorOf(() => meta.streamPositionAtOrBefore(-1)).code).to.equal('INVALID_ARGUMENT');
      expect(meta.snapshot().streamPositions).to.deep.equal({ count: 0 });
    });

    it('stays bounded and keeps the recent positions right', () => {
      const max = 1_000;
      const meta = open({ maxStreamPositions: max });
      expect(meta.maxStreamPositions).to.equal(max);
      const step = meta.streamPositionPruneInterval;
      expect(step).to.be.within(1, max);
      const total = 25_000;
      // Message i carries seqnos 3i-2 .. 3i.
      for (let index = 1; index <= total; index++) {
        meta.recordStreamPosition({
          streamSequence: index,
          firstSeqno: 3 * index - 2,
          lastSeqno: 3 * index,
        });
        if (index % 5_000 === 0) {
          expect(meta.snapshot().streamPositions.count).to.be.at.most(max + step);
        }
      }
      const { count, last } = meta.snapshot().streamPositions;
      expect(count)
        .to.be.at.least(max)
        .and.at.most(max + step);
      expect(last).to.deep.equal({
        streamSequence: total,
        firstSeqno: 3 * total - 2,
        lastSeqno: 3 * total,
      });
      for (const index of [total, total - 1, total - 500, total - max + 1]) {
        expect(meta.streamPositionAtOrBefore(3 * index - 1)?.streamSequence).to.equal(index);
      }
      // The oldest were pruned.
      expect(meta.streamPositionAtOrBefore(3)).to.equal(undefined);
      meta.close();

      // A lower bound applies at open.
      const reopened = open({ maxStreamPositions: 10 });
      expect(reopened.snapshot().streamPositions.count).to.equal(10);
      expect(reopened.streamPositionAtOrBefore(3 * total)?.streamSequence).to.equal(total);
    });

    it('uses the default bound', () => {
      expect(open().maxStreamPositions).to.equal(DEFAULT_MAX_STREAM_POSITIONS);
    });

    it('forgets positions from a cut-back seqno, and all of them', () => {
      const meta = open();
      meta.recordStreamPosition({ streamSequence: 1, firstSeqno: 1, lastSeqno: 10 });
      meta.recordStreamPosition({ streamSequence: 2, firstSeqno: 11, lastSeqno: 20 });
      meta.recordStreamPosition({ streamSequence: 3, firstSeqno: 21, lastSeqno: 30 });
      // Seqno 15 sits inside message 2: it goes too.
      meta.forgetStreamPositionsFrom(15);
      expect(meta.streamPositionAtOrBefore(100)?.streamSequence).to.equal(1);
      expect(meta.snapshot().streamPositions.count).to.equal(1);
      meta.forgetStreamPositionsFrom(11);
      expect(meta.snapshot().streamPositions.count).to.equal(1);
      // The stream goes on after the cut-back.
      meta.recordStreamPosition({ streamSequence: 4, firstSeqno: 11, lastSeqno: 12 });
      expect(meta.streamPositionAtOrBefore(100)?.streamSequence).to.equal(4);
      meta.clearStreamPositions();
      expect(meta.streamPositionAtOrBefore(100)).to.equal(undefined);
      meta.close();
      expect(open().snapshot().streamPositions).to.deep.equal({ count: 0 });
    });
  });

  describe('checkpoints', () => {
    it('lists them newest first, keeps the last ones, and persists them', () => {
      const meta = open();
      clockMs = 42;
      const first = meta.recordCheckpoint({
        kind: 'taken',
        seqno: 100,
        location: '/data/checkpoints/100',
        sizeBytes: 4096,
      });
      expect(first).to.deep.include({ kind: 'taken', seqno: 100, createdAtMs: 42 });
      meta.recordCheckpoint({
        kind: 'installed',
        seqno: 200,
        location: 'http://n1:7070/v1/checkpoint',
        sizeBytes: 8192,
        createdAtMs: 7,
      });
      expect(meta.checkpoints().map((c) => [c.kind, c.seqno, c.createdAtMs])).to.deep.equal([
        ['installed', 200, 7],
        ['taken', 100, 42],
      ]);
      for (let seqno = 1_000; seqno < 1_000 + MAX_RECORDED_CHECKPOINTS + 5; seqno++) {
        meta.recordCheckpoint({ kind: 'taken', seqno, location: `/c/${seqno}`, sizeBytes: 1 });
      }
      const kept = meta.checkpoints();
      expect(kept).to.have.length(MAX_RECORDED_CHECKPOINTS);
      expect(kept[0]!.seqno).to.equal(1_000 + MAX_RECORDED_CHECKPOINTS + 4);
      expect(kept.at(-1)!.seqno).to.equal(1_005);
      expect(meta.checkpoints(3).map((c) => c.seqno)).to.deep.equal([1_104, 1_103, 1_102]);
      expect(
        errorOf(() =>
          meta.recordCheckpoint({ kind: 'taken', seqno: 1, location: '', sizeBytes: 1 }),
        ).code,
      ).to.equal('INVALID_ARGUMENT');
      meta.close();
      expect(open().checkpoints(1)[0]!.seqno).to.equal(1_104);
    });
  });

  describe('snapshot', () => {
    it('is a plain JSON object of everything stored', () => {
      const meta = open({ nodeId: 'n1' });
      meta.recordTerm({ epoch: 2, leaderId: 'n1', leaderUrl: 'http://n1:7070' });
      meta.upsertPeer(peer('n2'));
      meta.recordStreamPosition({ streamSequence: 7, firstSeqno: 1, lastSeqno: 4 });
      for (let seqno = 1; seqno <= 12; seqno++) {
        meta.recordCheckpoint({ kind: 'taken', seqno, location: `/c/${seqno}`, sizeBytes: 10 });
      }
      const snapshot = meta.snapshot();
      expect(JSON.parse(JSON.stringify(snapshot))).to.deep.equal({
        nodeId: 'n1',
        cluster: 'demo',
        schemaVersion: META_SCHEMA_VERSION,
        createdAtMs: 1_700_000_000_000,
        term: {
          epoch: 2,
          leaderId: 'n1',
          leaderUrl: 'http://n1:7070',
          updatedAtMs: 1_700_000_000_000,
        },
        peers: [peer('n2')],
        checkpoints: JSON.parse(JSON.stringify(meta.checkpoints(10))) as unknown,
        streamPositions: { count: 1, last: { streamSequence: 7, firstSeqno: 1, lastSeqno: 4 } },
      });
      expect(snapshot.checkpoints.map((c) => c.seqno)).to.deep.equal([
        12, 11, 10, 9, 8, 7, 6, 5, 4, 3,
      ]);
    });

    it('reads a snapshot read-only while the node has the file open', () => {
      const meta = open({ nodeId: 'n1' });
      meta.recordTerm({ epoch: 5, leaderId: 'n2', leaderUrl: 'http://n2:7070' });
      meta.upsertPeer(peer('n2', { role: 'leader' }));
      const read = ClusterMeta.readSnapshot(file);
      expect(read).to.deep.equal(meta.snapshot());
      expect(read?.term.epoch).to.equal(5);
      // The writer goes on after the reader closed.
      meta.recordTerm({ epoch: 6 });
      expect(ClusterMeta.readSnapshot(file)?.term.epoch).to.equal(6);
      meta.close();
      expect(ClusterMeta.readSnapshot(file)?.peers.map((p) => p.nodeId)).to.deep.equal(['n2']);
    });

    it('reads nothing from a missing file, and does not create it', async () => {
      expect(ClusterMeta.readSnapshot(file)).to.equal(undefined);
      expect(ClusterMeta.readSnapshot(join(dir.path, 'no-such-dir', 'meta.sqlite'))).to.equal(
        undefined,
      );
      const error = await readFile(file).catch((caught: CodedError) => caught);
      expect((error as CodedError).code).to.equal('ENOENT');
    });
  });

  describe('close', () => {
    it('is idempotent and makes every other call fail with CLOSED', () => {
      const meta = open();
      meta.close();
      meta.close();
      const calls: Array<() => unknown> = [
        () => meta.term(),
        () => meta.recordTerm({ epoch: 1 }),
        () => meta.upsertPeer(peer('n2')),
        () => meta.peers(),
        () => meta.forgetPeer('n2'),
        () => meta.recordStreamPosition({ streamSequence: 1, firstSeqno: 1, lastSeqno: 1 }),
        () => meta.streamPositionAtOrBefore(1),
        () => meta.forgetStreamPositionsFrom(1),
        () => meta.clearStreamPositions(),
        () => meta.recordCheckpoint({ kind: 'taken', seqno: 1, location: '/c', sizeBytes: 1 }),
        () => meta.checkpoints(),
        () => meta.snapshot(),
        () => meta.sqliteSettings(),
      ];
      for (const call of calls) expect(errorOf(call).code).to.equal('CLOSED');
      // Still readable by a new handle.
      expect(open().nodeId).to.equal(meta.nodeId);
    });
  });
});
