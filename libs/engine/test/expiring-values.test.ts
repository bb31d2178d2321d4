import { expect } from 'chai';
import { SimulatedFileSystem, isStrataError } from '@strata/core';
import { MAX_SEQNO } from '../src/entry.js';
import type { Snapshot } from '../src/index.js';
import {
  LeveledStrategy,
  Tree,
  ValueKind,
  expiresAtMsOf,
  userValueOf,
  verifyTree,
} from '../src/index.js';
import { b, codeOf, s, tinyOptions, withTempDir } from './helpers.js';
import { expiryBlocksOf, recordingFileSystem } from './segment-files.js';

/** One write of the scenario: a put (with a deadline or 0) or a delete (`value` undefined). */
interface Write {
  readonly key: string;
  readonly seqno: number;
  readonly value: string | undefined;
  readonly expiresAtMs: number;
}

const put = (key: string, seqno: number, value: string, expiresAtMs = 0): Write => ({
  key,
  seqno,
  value,
  expiresAtMs,
});

// Older plain versions, flushed first into a segment of their own...
const older: Write[] = [put('a', 1, 'a1'), put('b', 2, 'b2'), put('e', 3, 'e3'), put('g', 4, 'g4')];
// ...then newer versions, several of them expiring: an expired one must hide the older one.
const newer: Write[] = [
  put('a', 5, 'a5', 2000),
  put('b', 6, 'b6', 1500),
  put('b', 7, 'b7'), // a put without a deadline after one with: permanent
  put('c', 8, 'c8', 3000),
  put('d', 9, 'd9'),
  put('e', 10, 'e10', 2500),
  { key: 'g', seqno: 11, value: undefined, expiresAtMs: 0 },
  put('g', 12, 'g12', 1200),
];
const KEYS = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
/** Instants around every deadline of the scenario. */
const INSTANTS = [1000, 1199, 1200, 1499, 1500, 2000, 2499, 2500, 2999, 3000, 9000];

/** The model: what a read at `readSeqno` sees at `nowMs` after `writes`. */
function expected(writes: readonly Write[], readSeqno: number, nowMs: number): [string, string][] {
  const newest = new Map<string, Write>();
  for (const w of writes) {
    if (w.seqno < readSeqno && (newest.get(w.key)?.seqno ?? -1) < w.seqno) newest.set(w.key, w);
  }
  const out: [string, string][] = [];
  for (const key of [...newest.keys()].sort()) {
    const w = newest.get(key)!;
    if (w.value === undefined || (w.expiresAtMs > 0 && nowMs >= w.expiresAtMs)) continue;
    out.push([key, w.value]);
  }
  return out;
}

function apply(tree: Tree, writes: readonly Write[]): void {
  for (const w of writes) {
    if (w.value === undefined) tree.remove(b(w.key), w.seqno);
    else tree.insert(b(w.key), b(w.value), w.seqno, w.expiresAtMs);
  }
}

const pairs = (list: readonly { key: Buffer; value: Buffer }[]): [string, string][] =>
  list.map(({ key, value }) => [s(key)!, s(value)!]);

/** Every read of the tree at `readSeqno` (or of a snapshot) against the model. */
async function expectReads(
  reader: Tree | Snapshot,
  writes: readonly Write[],
  readSeqno: number,
  nowMs: number,
  label: string,
): Promise<void> {
  const at = reader instanceof Tree ? readSeqno : undefined;
  const want = expected(writes, readSeqno, nowMs);
  const what = `${label}, read at ${readSeqno}, now ${nowMs}`;
  const tree = reader instanceof Tree ? reader : undefined;
  const snapshot = reader instanceof Tree ? undefined : reader;
  for (const key of KEYS) {
    const value = want.find(([k]) => k === key)?.[1];
    const got = tree ? await tree.get(b(key), at) : await snapshot!.get(b(key));
    expect(s(got), `${what}: get ${key}`).to.equal(value);
    const contains = tree
      ? await tree.containsKey(b(key), at)
      : await snapshot!.containsKey(b(key));
    expect(contains, `${what}: containsKey ${key}`).to.equal(value !== undefined);
  }
  const iter = () => (tree ? tree.iter(at) : snapshot!.iter());
  const range = () =>
    tree
      ? tree.range({ gte: b('b'), lt: b('f') }, at)
      : snapshot!.range({ gte: b('b'), lt: b('f') });
  const inRange = want.filter(([k]) => k >= 'b' && k < 'f');
  expect(pairs(await iter().toArray()), `${what}: iter`).to.deep.equal(want);
  const backward = [];
  for await (const pair of iter().reverse()) backward.push(pair);
  expect(pairs(backward), `${what}: iter reversed`).to.deep.equal([...want].reverse());
  expect(pairs(await range().toArray()), `${what}: range`).to.deep.equal(inRange);
  const rangeBackward = [];
  for await (const pair of range().reverse()) rangeBackward.push(pair);
  expect(pairs(rangeBackward), `${what}: range reversed`).to.deep.equal([...inRange].reverse());
  const prefix = tree ? tree.prefix(b('a'), at) : snapshot!.prefix(b('a'));
  expect(pairs(await prefix.toArray()), `${what}: prefix`).to.deep.equal(
    want.filter(([k]) => k === 'a'),
  );
  const first = tree ? await tree.firstKeyValue(at) : await snapshot!.firstKeyValue();
  const last = tree ? await tree.lastKeyValue(at) : await snapshot!.lastKeyValue();
  expect(first && s(first.key), `${what}: first`).to.equal(want[0]?.[0]);
  expect(first && s(first.value), `${what}: first value`).to.equal(want[0]?.[1]);
  expect(last && s(last.key), `${what}: last`).to.equal(want[want.length - 1]?.[0]);
  expect(tree ? await tree.len(at) : await snapshot!.len(), `${what}: len`).to.equal(want.length);
  const isEmpty = tree ? await tree.isEmpty(at) : await snapshot!.isEmpty();
  expect(isEmpty, `${what}: isEmpty`).to.equal(want.length === 0);
}

describe('Tree: expiring values', () => {
  it('hide themselves and every older version once expired, in memory, segments, compactions and after a reopen', async () => {
    const fs = new SimulatedFileSystem();
    const clock = { nowMs: 0 };
    const options = { ...tinyOptions, fileSystem: fs, clock: () => clock.nowMs };
    let tree = await Tree.open('/tree', options);
    const all = [...older, ...newer];
    apply(tree, older);
    await tree.flushActiveMemtable();
    apply(tree, newer);
    // Snapshots before and after the first expiring write: compaction keeps what they see.
    let snapshots = [tree.snapshot(4), tree.snapshot(9)];
    const check = async (label: string, readSeqnos: number[]): Promise<void> => {
      for (const nowMs of INSTANTS) {
        clock.nowMs = nowMs;
        for (const readSeqno of readSeqnos) await expectReads(tree, all, readSeqno, nowMs, label);
        for (const snapshot of snapshots) {
          await expectReads(snapshot, all, snapshot.seqno, nowMs, `${label}, snapshot`);
        }
      }
    };
    const seqnos = [MAX_SEQNO, 4, 6, 9, 12];
    await check('older in a segment, newer in the active memtable', seqnos);
    const sealed = tree.rotateMemtable()!;
    await check('newer in a sealed memtable', seqnos);
    await tree.registerSegments([await tree.flushMemtable(sealed.id, sealed.memtable)]);
    expect(tree.firstLevelSegmentCount()).to.equal(2);
    await check('two level-0 segments', seqnos);
    await tree.compact(new LeveledStrategy({ l0Trigger: 2 }));
    expect(tree.firstLevelSegmentCount()).to.equal(0);
    await check('after a leveled compaction', seqnos);
    await tree.majorCompact();
    await check('after a major compaction', seqnos);
    for (const snapshot of snapshots) snapshot.close();
    snapshots = [];
    await tree.close();
    tree = await Tree.open('/tree', options);
    await check('after a reopen', seqnos);
    // Without snapshots a major compaction keeps only the newest versions: reads at the latest
    // seqno are unchanged (expired versions are kept as values, hiding nothing they did not).
    await tree.majorCompact();
    await check('after a major compaction without snapshots', [MAX_SEQNO]);
    const report = await verifyTree('/tree', { fileSystem: fs });
    expect(report.segments).to.be.greaterThan(0);
    await tree.close();
  });

  it('reads the clock once per point read and once per iterator', async () => {
    let reads = 0;
    let nowMs = 1000;
    const { tree } = await openTree(() => {
      reads++;
      return nowMs;
    });
    tree.insert(b('a'), b('1'), 1, 2000);
    tree.insert(b('b'), b('2'), 2, 2000);
    tree.insert(b('c'), b('3'), 3);
    reads = 0;
    expect(s(await tree.get(b('a')))).to.equal('1');
    expect(reads).to.equal(1);
    // A plain value needs no clock.
    expect(s(await tree.get(b('c')))).to.equal('3');
    expect(reads).to.equal(1);
    const iterator = tree.iter();
    expect(reads).to.equal(2);
    expect(s((await iterator.next())!.value)).to.equal('1');
    // The deadline passes in the middle of the scan: the scan keeps its instant.
    nowMs = 2000;
    expect(pairs(await iterator.toArray())).to.deep.equal([
      ['b', '2'],
      ['c', '3'],
    ]);
    expect(reads).to.equal(2);
    expect(pairs(await tree.iter().toArray())).to.deep.equal([['c', '3']]);
    await tree.close();
  });

  it('stores the deadline in front of the value: getInternalEntry returns it as stored', async () => {
    const { tree } = await openTree(() => 5000);
    tree.insert(b('a'), b('old'), 1);
    tree.insert(b('a'), b('value'), 2, 4000);
    const source = b('..key..value..');
    tree.insertFrom(source, 2, 3, 7, 5, 3, 6000);
    // Keeps the plain version below the expired one through the flush.
    const snapshot = tree.snapshot(2);
    for (const flushed of [false, true]) {
      if (flushed) await tree.flushActiveMemtable();
      const expired = (await tree.getInternalEntry(b('a')))!;
      expect(expired.kind).to.equal(ValueKind.Expiring);
      expect(expired.seqno).to.equal(2);
      expect(expiresAtMsOf(expired)).to.equal(4000);
      expect(s(userValueOf(expired))).to.equal('value');
      expect(expired.value.length).to.equal(8 + 5);
      expect(await tree.get(b('a'))).to.equal(undefined);
      const live = (await tree.getInternalEntry(b('key')))!;
      expect([live.kind, expiresAtMsOf(live), s(userValueOf(live))]).to.deep.equal([
        2,
        6000,
        'value',
      ]);
      expect(s(await tree.get(b('key')))).to.equal('value');
      const plain = (await tree.getInternalEntry(b('a'), true, 2))!;
      expect([plain.kind, expiresAtMsOf(plain), s(userValueOf(plain))]).to.deep.equal([
        0,
        0,
        'old',
      ]);
      expect(s(await snapshot.get(b('a')))).to.equal('old');
    }
    snapshot.close();
    await tree.close();
  });

  it('refuses a deadline that is not a safe integer >= 0 (INVALID_ARGUMENT); 0 means never', async () => {
    const { tree } = await openTree(() => 1000);
    const source = b('kv');
    for (const bad of [-1, 1.5, Number.NaN, Infinity, 2 ** 53]) {
      expect(
        codeOf(() => tree.insert(b('k'), b('v'), 1, bad)),
        String(bad),
      ).to.equal('INVALID_ARGUMENT');
      expect(codeOf(() => tree.insertFrom(source, 0, 1, 1, 1, 1, bad))).to.equal(
        'INVALID_ARGUMENT',
      );
    }
    expect(tree.approximateLen()).to.equal(0);
    tree.insert(b('k'), b('v'), 1, 0);
    tree.insertFrom(source, 0, 1, 1, 1, 2, 0);
    expect((await tree.getInternalEntry(b('k')))!.kind).to.equal(ValueKind.Value);
    // A deadline already past is accepted: the value is simply expired.
    tree.insert(b('p'), b('v'), 3, 1);
    expect(await tree.containsKey(b('p'))).to.equal(false);
    expect(codeOf(() => tree.insert(b('k'), b('v'), 4, 1.5))).to.equal('INVALID_ARGUMENT');
    await tree.close();
  });
});

/** A simulated tree with `clock` and the small test sizes. */
async function openTree(clock: () => number): Promise<{ tree: Tree; fs: SimulatedFileSystem }> {
  const fs = new SimulatedFileSystem();
  return { tree: await Tree.open('/tree', { ...tinyOptions, fileSystem: fs, clock }), fs };
}

const listed = async (tree: Tree): Promise<string[]> => {
  const out: string[] = [];
  for await (const { key, seqno, expiresAtMs } of tree.expiringEntries()) {
    out.push(`${s(key)}@${seqno}:${expiresAtMs}`);
  }
  return out.sort();
};

describe('Tree.expiringEntries', () => {
  it('lists memtable and segment entries through flushes, compactions and reopens, reading no data block', async () => {
    const simulated = new SimulatedFileSystem();
    const { fs, reads } = recordingFileSystem(simulated);
    const options = { ...tinyOptions, fileSystem: fs, clock: () => 1000 };
    let tree = await Tree.open('/tree', options);
    for (let i = 0; i < 300; i++) {
      const key = `key-${String(i).padStart(3, '0')}`;
      tree.insert(b(key), b(`value-${i}`), i, i % 7 === 0 ? 10_000 + i : 0);
    }
    // A key whose expiring version is superseded by a plain one, and one superseded by a delete.
    tree.insert(b('key-001'), b('x'), 300, 50_000);
    tree.insert(b('key-001'), b('y'), 301);
    tree.insert(b('key-002'), b('x'), 302, 60_000);
    tree.remove(b('key-002'), 303);
    const newest: string[] = [];
    for (let i = 0; i < 300; i += 7)
      newest.push(`key-${String(i).padStart(3, '0')}@${i}:${10_000 + i}`);
    const withSuperseded = [...newest, 'key-001@300:50000', 'key-002@302:60000'].sort();
    expect(await listed(tree)).to.deep.equal(withSuperseded);
    // A sealed memtable and a fresh active one.
    const sealed = tree.rotateMemtable()!;
    tree.insert(b('new'), b('n'), 304, 70_000);
    expect(await listed(tree)).to.deep.equal([...withSuperseded, 'new@304:70000'].sort());
    // The flush keeps only the newest version of each key (no snapshot is open).
    await tree.registerSegments([await tree.flushMemtable(sealed.id, sealed.memtable)]);
    await tree.flushActiveMemtable();
    const flushed = [...newest, 'new@304:70000'].sort();
    expect(await listed(tree)).to.deep.equal(flushed);
    // More segments, then compactions (their outputs carry expiry blocks of their own).
    for (let i = 0; i < 300; i += 3) {
      tree.insert(
        b(`more-${String(i).padStart(3, '0')}`),
        b('m'),
        400 + i,
        i % 2 === 0 ? 20_000 : 0,
      );
    }
    await tree.flushActiveMemtable();
    const more: string[] = [];
    for (let i = 0; i < 300; i += 6)
      more.push(`more-${String(i).padStart(3, '0')}@${400 + i}:20000`);
    const everything = [...flushed, ...more].sort();
    expect(await listed(tree)).to.deep.equal(everything);
    await tree.compact(new LeveledStrategy({ l0Trigger: 2 }));
    expect(tree.firstLevelSegmentCount()).to.equal(0);
    expect(tree.segmentCount()).to.be.greaterThan(2);
    expect(await listed(tree)).to.deep.equal(everything);
    await tree.majorCompact();
    expect(await listed(tree)).to.deep.equal(everything);
    await tree.close();

    // After a reopen: only the expiry blocks are read, nothing else of any segment.
    tree = await Tree.open('/tree', options);
    reads.length = 0;
    expect(await listed(tree)).to.deep.equal(everything);
    const segmentReads = reads.filter((r) => r.path.endsWith('.seg'));
    const blocks = await expiryBlocksOf(simulated);
    expect(blocks.size).to.be.greaterThan(1);
    expect(segmentReads.length).to.equal(blocks.size);
    for (const read of segmentReads) {
      expect(blocks.get(read.path), read.path).to.deep.equal([read.position, read.length]);
    }
    expect(tree.cacheStats()).to.include({ hits: 0, misses: 0, entries: 0 });
    // Reads still work, and a tree without expiring entries lists nothing.
    expect(s(await tree.get(b('key-007')))).to.equal('value-7');
    // A checkpoint links the segments: their expiry blocks come along.
    await tree.checkpoint('/copy');
    await tree.close();
    const copy = await Tree.open('/copy', options);
    expect(await listed(copy)).to.deep.equal(everything);
    await copy.close();
    const { tree: empty } = await openTree(() => 0);
    empty.insert(b('k'), b('v'), 1);
    await empty.flushActiveMemtable();
    expect(await listed(empty)).to.deep.equal([]);
    await empty.close();
  });

  it('keeps superseded versions that a snapshot still needs, and releases its version when abandoned early', async () => {
    const { tree, fs } = await openTree(() => 0);
    tree.insert(b('a'), b('1'), 1, 5000);
    const snapshot = tree.snapshot(2);
    tree.insert(b('a'), b('2'), 2);
    await tree.flushActiveMemtable();
    await tree.majorCompact();
    expect(await listed(tree)).to.deep.equal(['a@1:5000']);
    // Leaving the loop early unpins the version: a compaction can then delete the old files.
    tree.insert(b('b'), b('3'), 3, 6000);
    await tree.flushActiveMemtable();
    for await (const entry of tree.expiringEntries()) {
      expect(entry.expiresAtMs).to.be.greaterThan(0);
      break;
    }
    snapshot.close();
    await tree.majorCompact();
    expect(await listed(tree)).to.deep.equal(['b@3:6000']);
    expect(tree.segmentCount()).to.equal(1);
    await tree.close();
    // No listing pins an old version: its files are gone.
    const files = (await fs.readdir('/tree/segments')).filter((name) => name.endsWith('.seg'));
    expect(files).to.have.length(1);
  });

  it('works with flushes and compactions in worker threads on the real file system', async () => {
    await withTempDir(async (dir) => {
      const path = `${dir}/tree`;
      const options = { ...tinyOptions, jobExecution: 'worker' as const, clock: () => 1000 };
      let tree = await Tree.open(path, options);
      for (let i = 0; i < 200; i++) tree.insert(b(`k${i}`), b(`v${i}`), i, i % 2 === 0 ? 500 : 0);
      await tree.flushActiveMemtable();
      for (let i = 0; i < 200; i++) tree.insert(b(`j${i}`), b(`w${i}`), 200 + i, 2000 + i);
      await tree.flushActiveMemtable();
      await tree.majorCompact();
      await tree.close();
      tree = await Tree.open(path, options);
      expect((await listed(tree)).length).to.equal(300);
      // The even k keys expired at 500, the j keys expire at 2000 and later.
      expect(await tree.len()).to.equal(300);
      expect((await verifyTree(path)).segments).to.equal(tree.segmentCount());
      await tree.close();
    });
  });

  it('refuses a closed tree (CLOSED)', async () => {
    const { tree } = await openTree(() => 0);
    await tree.close();
    expect(codeOf(() => tree.expiringEntries())).to.equal('CLOSED');
    try {
      await tree.get(b('a'));
      expect.fail('get on a closed tree');
    } catch (error) {
      expect(isStrataError(error, 'CLOSED')).to.equal(true);
    }
  });
});
