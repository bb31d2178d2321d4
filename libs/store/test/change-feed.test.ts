import { expect } from 'chai';
import { createTempDirectory } from '@strata/testing';
import { Store } from '../src/index.js';
import { rejectionOf, takeBatches, waitUntil } from './helpers.js';

describe('Store: change feed', () => {
  let dir: { path: string; remove(): Promise<void> };
  let store: Store;
  beforeEach(async () => {
    dir = await createTempDirectory('feed-');
    // A tiny in-memory window, so older batches come from the log and newer ones from memory.
    store = await Store.open(dir.path, { recentRecordsBytes: 512, walSegmentSizeBytes: 4096 });
    for (let index = 1; index <= 60; index++) {
      if (index % 10 === 0)
        await store.batch([
          { type: 'put', key: `b${index}`, value: 'x' },
          { type: 'delete', key: `b${index - 1}` },
        ]);
      else await store.put(`k${index}`, `v${index}-${'z'.repeat(30)}`);
    }
  });
  afterEach(async () => {
    await store.close();
    await dir.remove();
  });

  function expectedFrom(from: number): string[] {
    // The committed sequence, read back independently: every batch whose last seqno >= from.
    const out: string[] = [];
    let seqno = 1;
    for (let index = 1; index <= 60; index++) {
      const batch =
        index % 10 === 0
          ? { first: seqno, keys: [`b${index}`, `b${index - 1}`] }
          : { first: seqno, keys: [`k${index}`] };
      seqno += batch.keys.length;
      if (seqno - 1 >= from) out.push(`${batch.first}:${batch.keys.join(',')}`);
    }
    return out;
  }

  it('from every position in the history yields exactly the committed sequence', async () => {
    const last = store.lastSeqno;
    expect(last).to.equal(66);
    for (const from of [1, 2, 10, 11, 12, 33, 60, 65, 66]) {
      const expected = expectedFrom(from);
      expect(
        await takeBatches(store.subscribe({ from }), expected.length),
        `from ${from}`,
      ).to.deep.equal(expected);
    }
  });

  it('hands over from history to live writes with no gap and no duplicate', async () => {
    const feed = store.subscribe({ from: 50 });
    const historical = expectedFrom(50);
    const collecting = takeBatches(feed, historical.length + 3);
    await store.put('live1', 'a');
    await store.batch([
      { type: 'put', key: 'live2', value: 'b' },
      { type: 'put', key: 'live3', value: 'c' },
    ]);
    await store.put('live4', 'd');
    expect(await collecting).to.deep.equal([
      ...historical,
      '67:live1',
      '68:live2,live3',
      '70:live4',
    ]);
  });

  it('at the head and in the future: waits for the writes that make the seqno exist', async () => {
    const atHead = takeBatches(store.subscribe(), 1);
    const future = takeBatches(store.subscribe({ from: 69 }), 2);
    await store.put('n1', '1'); // 67
    await store.put('n2', '2'); // 68
    await store.put('n3', '3'); // 69
    await store.put('n4', '4'); // 70
    expect(await atHead).to.deep.equal(['67:n1']);
    expect(await future).to.deep.equal(['69:n3', '70:n4']);
  });

  it('yields the record bytes as stored, and ends when the store closes or the signal aborts', async () => {
    const controller = new AbortController();
    const seen: number[] = [];
    const consuming = (async () => {
      for await (const batch of store.subscribe({ from: 66, signal: controller.signal })) {
        expect(batch.record.readUInt32LE(0)).to.equal(batch.record.length - 8);
        seen.push(batch.firstSeqno);
      }
    })();
    // Abort once the subscriber has the last batch and waits at the head for the next write.
    await waitUntil(
      () => seen.length === 1 && store.waitingReaders === 1,
      'the feed waits at the head',
    );
    controller.abort();
    await consuming;
    expect(seen).to.deep.equal([65]);
    expect(store.waitingReaders).to.equal(0);
  });

  it('a start below the retained history fails with HISTORY_TRUNCATED and the first seqno', async () => {
    await store.close();
    store = await Store.open(dir.path, {
      retention: { kind: 'max-bytes', maxBytes: 0 },
      walSegmentSizeBytes: 4096,
      memtableSizeBytes: 4096,
    });
    for (let index = 0; index < 200; index++) await store.put(`more${index}`, 'y'.repeat(100));
    await store.flush();
    await store.waitForBackgroundWork();
    expect(store.firstRetainedSeqno).to.be.greaterThan(1);
    const error = await rejectionOf(takeBatches(store.subscribe({ from: 1 }), 1));
    expect(error.code).to.equal('HISTORY_TRUNCATED');
    expect(error.details).to.include({ firstSeqno: store.firstRetainedSeqno });
    const first = store.firstRetainedSeqno;
    expect((await takeBatches(store.subscribe({ from: first }), 1))[0]).to.match(
      new RegExp(`^${first}:`),
    );
  });
});

describe('Store: replicated appends', () => {
  it("a follower applying the leader's records byte for byte converges; duplicates are ignored; gaps, stale epochs and foreign histories are refused", async () => {
    const leaderDir = await createTempDirectory('leader-');
    const followerDir = await createTempDirectory('follower-');
    const otherDir = await createTempDirectory('other-');
    const leader = await Store.open(leaderDir.path);
    const follower = await Store.open(followerDir.path);
    const other = await Store.open(otherDir.path);
    try {
      for (let index = 0; index < 30; index++) await leader.put(`k${index % 7}`, `v${index}`);
      await leader.batch([
        { type: 'delete', key: 'k3' },
        { type: 'put', key: 'z', value: 'last' },
      ]);
      await other.put('k0', 'foreign');
      const records: Buffer[] = [];
      for await (const batch of leader.subscribe({ from: 1 })) {
        records.push(batch.record);
        if (batch.lastSeqno === leader.lastSeqno) break;
      }
      for (const record of records.slice(0, 10))
        expect((await follower.appendReplicated(record)).duplicate).to.equal(false);
      expect((await follower.appendReplicated(records[3]!)).duplicate).to.equal(true);
      expect((await rejectionOf(follower.appendReplicated(records[12]!))).code).to.equal(
        'OUT_OF_SEQUENCE',
      );
      for (const record of records.slice(10)) await follower.appendReplicated(record);
      expect(follower.lastSeqno).to.equal(leader.lastSeqno);
      const dump = async (store: Store) => {
        const out: string[] = [];
        for await (const item of store.range())
          out.push(`${item.key.toString()}=${item.value.toString()}`);
        return out;
      };
      expect(await dump(follower)).to.deep.equal(await dump(leader));
      // A record from another history at the next seqno does not chain: DIVERGED.
      const foreign: Buffer[] = [];
      await other.batch(
        Array.from({ length: leader.lastSeqno - 1 }, (_, index) => ({
          type: 'put' as const,
          key: `f${index}`,
          value: 'f',
        })),
      );
      await other.put('next', 'x');
      for await (const batch of other.subscribe({ from: leader.lastSeqno + 1 })) {
        foreign.push(batch.record);
        break;
      }
      expect((await rejectionOf(follower.appendReplicated(foreign[0]!))).code).to.equal('DIVERGED');
      // Garbage is CORRUPTION; the follower's data is untouched.
      expect(
        (await rejectionOf(follower.appendReplicated(Buffer.from('not a record at all')))).code,
      ).to.equal('CORRUPTION');
      expect(await dump(follower)).to.deep.equal(await dump(leader));
      // The follower raises its epoch; a later record from a lower epoch is STALE_EPOCH.
      leader.setEpoch(5);
      await leader.put('epoch', '5');
      for await (const batch of leader.subscribe({ from: leader.lastSeqno })) {
        await follower.appendReplicated(batch.record);
        break;
      }
      expect(follower.epoch).to.equal(5);
    } finally {
      await leader.close();
      await follower.close();
      await other.close();
      await leaderDir.remove();
      await followerDir.remove();
      await otherDir.remove();
    }
  });
});

describe('Store: change feed resources', () => {
  it('a subscriber at the head leaves no listeners or waiters behind, across many commits and after an abort', async () => {
    const dir = await createTempDirectory('feed-leak-');
    const store = await Store.open(dir.path);
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const controller = new AbortController();
      let seen = 0;
      const consuming = (async () => {
        for await (const batch of store.subscribe({ signal: controller.signal }))
          seen = batch.lastSeqno;
      })();
      for (let index = 0; index < 300; index++) await store.put(`k${index}`, 'v');
      await waitUntil(() => seen === 300, 'the subscriber has seen every write');
      // One waiter at the head, not one left behind per commit.
      await waitUntil(() => store.waitingReaders === 1, 'the subscriber waits at the head');
      controller.abort();
      await consuming;
      expect(store.waitingReaders).to.equal(0);
      expect(store.stats().subscribers).to.equal(0);
      expect(
        warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning'),
      ).to.deep.equal([]);
    } finally {
      process.off('warning', onWarning);
      await store.close();
      await dir.remove();
    }
  });
});
