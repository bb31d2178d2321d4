import { expect } from 'chai';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { SimulatedFileSystem } from '@strata/core';
import { createTempDirectory } from '@strata/testing';
import { LogOp, Wal } from '../src/index.js';
import { INITIAL_CHAIN } from '../src/format/record-format.js';
import { segmentFileName } from '../src/segments/segment-file.js';
import { batchAt, put, readAll, rejectionOf, waitUntil } from './helpers.js';

describe('Wal: append and read', () => {
  let dir: { path: string; remove(): Promise<void> };

  beforeEach(async () => {
    dir = await createTempDirectory('wal-');
  });
  afterEach(async () => {
    await dir.remove();
  });

  it('appends batches with contiguous seqnos and reads them back in order, also after reopen', async () => {
    const wal = await Wal.open(dir.path);
    expect(wal.nextSeqno).to.equal(1);
    const first = await wal.append(batchAt(1, 3));
    const second = await wal.append(batchAt(4, 2));
    expect(first).to.include({ firstSeqno: 1, lastSeqno: 3 });
    expect(second).to.include({ firstSeqno: 4, lastSeqno: 5 });
    expect(wal.lastSeqno).to.equal(5);
    expect(wal.durableSeqno).to.equal(5);
    const expected = [
      { firstSeqno: 1, keys: ['k1', 'k2', 'k3'] },
      { firstSeqno: 4, keys: ['k4', 'k5'] },
    ];
    expect(await readAll(wal)).to.deep.equal(expected);
    await wal.close();
    expect((await readdir(dir.path)).sort()).to.deep.equal([segmentFileName(1), 'CLEAN-CLOSE']);

    const reopened = await Wal.open(dir.path);
    expect(reopened.nextSeqno).to.equal(6);
    expect(reopened.recovery.tornTail).to.equal(undefined);
    expect(await readAll(reopened)).to.deep.equal(expected);
    await reopened.append(batchAt(6));
    expect((await readAll(reopened, 6)).map((batch) => batch.firstSeqno)).to.deep.equal([6]);
    await reopened.close();
  });

  it('decodes every field: ops, binary keys and values, epoch, timestamp, chain', async () => {
    const wal = await Wal.open(dir.path);
    const key = Buffer.from([0, 255, 1, 254]);
    const value = Buffer.alloc(1000, 7);
    await wal.append({
      epoch: 3,
      firstSeqno: 1,
      timestampMs: 1234,
      entries: [
        { op: LogOp.Put, key, value },
        { op: LogOp.Delete, key, value: Buffer.alloc(0) },
        { op: LogOp.DeleteRange, key: Buffer.from('a'), value: Buffer.from('b') },
      ],
    });
    const batches = [];
    for await (const batch of wal.read()) batches.push(batch);
    expect(batches).to.have.length(1);
    const [batch] = batches;
    expect(batch).to.include({
      epoch: 3,
      firstSeqno: 1,
      lastSeqno: 3,
      timestampMs: 1234,
      // The first record of a log chains from the empty log.
      chain: INITIAL_CHAIN,
    });
    expect(batch!.entries.map((entry) => entry.op)).to.deep.equal([
      LogOp.Put,
      LogOp.Delete,
      LogOp.DeleteRange,
    ]);
    expect(Buffer.from(batch!.entries[0]!.key).equals(key)).to.equal(true);
    expect(Buffer.from(batch!.entries[0]!.value).equals(value)).to.equal(true);
    expect(batch!.entries[1]!.value.byteLength).to.equal(0);
    await wal.close();
  });

  it('group commit: concurrent appends share writes and all resolve in seqno order', async () => {
    const fs = new SimulatedFileSystem();
    let writes = 0;
    let syncs = 0;
    fs.setFaultInjector((operation) => {
      if (operation === 'write') writes++;
      if (operation === 'datasync') syncs++;
      return undefined;
    });
    const wal = await Wal.open('/wal', { fileSystem: fs });
    const resolvedOrder: number[] = [];
    const appends = [];
    for (let seqno = 1; seqno <= 100; seqno++) {
      appends.push(
        wal.append(batchAt(seqno)).then((result) => resolvedOrder.push(result.firstSeqno)),
      );
    }
    await Promise.all(appends);
    expect(resolvedOrder).to.deep.equal(Array.from({ length: 100 }, (_, index) => index + 1));
    expect(writes).to.be.lessThan(10);
    expect(syncs).to.equal(writes);
    expect((await readAll(wal)).length).to.equal(100);
    await wal.close();
  });

  it('bounds a group in bytes: a large backlog is written in several groups', async () => {
    const fs = new SimulatedFileSystem();
    let writes = 0;
    fs.setFaultInjector((operation) => {
      if (operation === 'write') writes++;
      return undefined;
    });
    const wal = await Wal.open('/wal', { fileSystem: fs, maxGroupBytes: 8192 });
    const appends = [];
    for (let seqno = 1; seqno <= 64; seqno++) {
      appends.push(
        wal.append({ epoch: 1, firstSeqno: seqno, entries: [put(`k${seqno}`, 'x'.repeat(1000))] }),
      );
    }
    await Promise.all(appends);
    // 64 records of about 1 KiB with at most 8 KiB per group need at least 8 writes.
    expect(writes).to.be.at.least(8);
    await wal.close();
  });

  it('refuses a batch that does not start at the next seqno, and writes nothing', async () => {
    const wal = await Wal.open(dir.path);
    await wal.append(batchAt(1));
    const gap = await rejectionOf(wal.append(batchAt(3)));
    expect(gap.code).to.equal('OUT_OF_SEQUENCE');
    expect(gap.details).to.include({ expectedSeqno: 2, actualSeqno: 3 });
    const repeat = await rejectionOf(wal.append(batchAt(1)));
    expect(repeat.code).to.equal('OUT_OF_SEQUENCE');
    await wal.append(batchAt(2));
    expect((await readAll(wal)).map((batch) => batch.firstSeqno)).to.deep.equal([1, 2]);
    await wal.close();
  });

  it('refuses bad input with stable codes and leaves the file untouched', async () => {
    const wal = await Wal.open(dir.path, { maxValueBytes: 100 });
    await wal.append(batchAt(1));
    const file = join(dir.path, segmentFileName(1));
    const sizeBefore = (await stat(file)).size;
    const cases: [unknown, string][] = [
      [{ epoch: 1, firstSeqno: 2, entries: [] }, 'INVALID_ARGUMENT'],
      // The empty key is a key, but an epoch start has none.
      [
        {
          epoch: 1,
          firstSeqno: 2,
          entries: [{ op: LogOp.EpochStart, key: Buffer.from('k'), value: Buffer.alloc(0) }],
        },
        'INVALID_ARGUMENT',
      ],
      [
        {
          epoch: 1,
          firstSeqno: 2,
          entries: [{ op: 9, key: Buffer.from('k'), value: Buffer.alloc(0) }],
        },
        'INVALID_ARGUMENT',
      ],
      [
        {
          epoch: 1,
          firstSeqno: 2,
          entries: [{ op: LogOp.Put, key: Buffer.alloc(65537, 1), value: Buffer.alloc(0) }],
        },
        'KEY_TOO_LARGE',
      ],
      [
        {
          epoch: 1,
          firstSeqno: 2,
          entries: [{ op: LogOp.Put, key: Buffer.from('k'), value: Buffer.alloc(101) }],
        },
        'VALUE_TOO_LARGE',
      ],
      [
        {
          epoch: 1,
          firstSeqno: 2,
          entries: [{ op: LogOp.Delete, key: Buffer.from('k'), value: Buffer.from('x') }],
        },
        'INVALID_ARGUMENT',
      ],
      [
        {
          epoch: 1,
          firstSeqno: 2,
          entries: [{ op: LogOp.DeleteRange, key: Buffer.from('b'), value: Buffer.from('a') }],
        },
        'INVALID_ARGUMENT',
      ],
      [
        {
          epoch: 1,
          firstSeqno: 2,
          entries: [{ op: LogOp.Put, key: 'not-bytes', value: Buffer.alloc(0) }],
        },
        'INVALID_ARGUMENT',
      ],
      [{ epoch: -1, firstSeqno: 2, entries: [put('k', 'v')] }, 'INVALID_ARGUMENT'],
      [{ epoch: 0, firstSeqno: 2, entries: [put('k', 'v')] }, 'STALE_EPOCH'],
    ];
    for (const [batch, code] of cases) {
      const error = await rejectionOf(wal.append(batch as never));
      expect(error.code, JSON.stringify(batch)).to.equal(code);
    }
    expect(wal.nextSeqno).to.equal(2);
    expect((await stat(file)).size).to.equal(sizeBefore);
    await wal.close();
    const closed = await rejectionOf(wal.append(batchAt(2)));
    expect(closed.code).to.equal('CLOSED');
  });

  it('accepts a key of exactly 64 KiB', async () => {
    const wal = await Wal.open(dir.path);
    await wal.append({
      epoch: 1,
      firstSeqno: 1,
      entries: [{ op: LogOp.Put, key: Buffer.alloc(65536, 1), value: Buffer.alloc(0) }],
    });
    const [batch] = await readAll(wal);
    expect(batch!.keys[0]!.length).to.equal(65536);
    await wal.close();
  });

  it('rotates segments at the size limit, names them by first seqno, and seeks into any of them', async () => {
    const wal = await Wal.open(dir.path, { segmentSizeBytes: 4096, indexIntervalBytes: 512 });
    for (let seqno = 1; seqno <= 400; seqno += 4)
      await wal.append(batchAt(seqno, 4, 1, '.'.repeat(100)));
    const segments = wal.segments();
    expect(segments.length).to.be.greaterThan(5);
    const names = (await readdir(dir.path)).sort();
    // Every sealed segment has its seek-index sidecar next to it; the active one has none.
    expect(names).to.deep.equal(
      segments
        .flatMap((segment) => {
          const name = segmentFileName(segment.firstSeqno);
          return segment.active ? [name] : [name, name.replace(/\.log$/, '.idx')];
        })
        .sort(),
    );
    for (let index = 1; index < segments.length; index++) {
      expect(segments[index]!.firstSeqno).to.equal(segments[index - 1]!.lastSeqno! + 1);
    }
    const middle = await readAll(wal, 203, 210);
    expect(middle.map((batch) => batch.firstSeqno)).to.deep.equal([201, 205, 209]);
    await wal.close();

    const reopened = await Wal.open(dir.path, { segmentSizeBytes: 4096 });
    expect(reopened.nextSeqno).to.equal(401);
    expect((await readAll(reopened, 1)).length).to.equal(100);
    expect(await readAll(reopened, 399)).to.deep.equal([
      { firstSeqno: 397, keys: ['k397', 'k398', 'k399', 'k400'] },
    ]);
    const report = await reopened.verify();
    expect(report).to.include({ recordCount: 100, firstSeqno: 1, lastSeqno: 400 });
    await reopened.close();
  });

  it('a reader sees appends made while it iterates the active segment', async () => {
    const wal = await Wal.open(dir.path);
    await wal.append(batchAt(1));
    const seen: number[] = [];
    for await (const record of wal.readRecords({ fromSeqno: 1 })) {
      seen.push(record.firstSeqno);
      if (record.firstSeqno < 5) await wal.append(batchAt(record.firstSeqno + 1));
    }
    expect(seen).to.deep.equal([1, 2, 3, 4, 5]);
    await wal.close();
  });

  it('starts an empty log at the configured first seqno (a follower bootstrapped from a checkpoint)', async () => {
    const wal = await Wal.open(dir.path, { firstSeqno: 1000 });
    expect(wal.nextSeqno).to.equal(1000);
    expect((await rejectionOf(wal.append(batchAt(1)))).code).to.equal('OUT_OF_SEQUENCE');
    await wal.append(batchAt(1000, 2));
    await wal.close();
    const reopened = await Wal.open(dir.path);
    expect(reopened.firstSeqno).to.equal(1000);
    expect(reopened.nextSeqno).to.equal(1002);
    expect((await rejectionOf(readAll(reopened, 10))).code).to.equal('HISTORY_TRUNCATED');
    await reopened.close();
  });

  it('sync modes: interval fsyncs in the background, none leaves it to the OS; both flush on close', async () => {
    for (const sync of ['interval', 'none'] as const) {
      const fs = new SimulatedFileSystem();
      let datasyncs = 0;
      fs.setFaultInjector((operation) => {
        if (operation === 'datasync') datasyncs++;
        return undefined;
      });
      const wal = await Wal.open('/wal', { fileSystem: fs, sync, syncIntervalMs: 5 });
      const datasyncsBefore = datasyncs;
      await wal.append(batchAt(1));
      if (sync === 'interval') {
        // Nobody asks for a sync: only the background timer can make seqno 1 durable.
        await waitUntil(() => wal.durableSeqno === 1, 'the interval fsync to make seqno 1 durable');
        expect(datasyncs).to.be.greaterThan(datasyncsBefore);
      } else {
        expect(wal.durableSeqno).to.equal(0);
        expect(datasyncs).to.equal(datasyncsBefore);
      }
      await wal.append(batchAt(2));
      await wal.close();
      expect(wal.durableSeqno).to.equal(2);
      // Durable means on disk: a power loss that keeps no unsynced byte still has both batches.
      const rebooted = fs.crash({ random: () => 0 });
      const reopened = await Wal.open('/wal', { fileSystem: rebooted });
      expect(reopened.lastSeqno, sync).to.equal(2);
      await reopened.close();
    }
  });
});

describe('Wal: writer hand-off', () => {
  it('an append made right after the writer drains is still written (sequential awaited appends through a wrapper)', async () => {
    const fs = new SimulatedFileSystem();
    const wal = await Wal.open('/wal', { fileSystem: fs });
    // Wrapping append in an async function adds microtask hops between the resolve and the next
    // append, which used to land in the gap where the finished writer still looked busy.
    const put = async (seqno: number) => {
      await wal.append(batchAt(seqno));
    };
    for (let seqno = 1; seqno <= 200; seqno++) await put(seqno);
    expect(wal.lastSeqno).to.equal(200);
    await wal.close();
  });
});
