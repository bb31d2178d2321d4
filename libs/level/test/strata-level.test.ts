import { expect } from 'chai';
import { createTempDirectory } from '@strata/testing';
import type { ChangeBatch } from '@strata/store';
import { StrataLevel } from '../src/index.js';

/*
 * What abstract-level's suite does not look at: how clear() lands in the store's log (one record
 * per clear without a limit, bounded or not), that data survives a reopen, that the store handle
 * sees what the database wrote, and the manifest this package promises.
 */

/** The log records from `fromSeqno` to the store's last seqno, as [firstSeqno, entry count]. */
async function records(db: StrataLevel, fromSeqno: number): Promise<[number, number][]> {
  const out: [number, number][] = [];
  const last = db.store.lastSeqno;
  for await (const batch of db.store.subscribe({ from: fromSeqno }) as AsyncIterable<ChangeBatch>) {
    out.push([batch.firstSeqno, batch.entries.length]);
    if (batch.lastSeqno >= last) break;
  }
  return out;
}

describe('StrataLevel', function () {
  let dir: { path: string; remove(): Promise<void> };
  let db: StrataLevel;

  beforeEach(async () => {
    dir = await createTempDirectory('strata-level-');
    db = new StrataLevel(dir.path);
    await db.open();
    await db.batch(
      ['', 'a', 'b', 'c', 'd'].map((key) => ({ type: 'put' as const, key, value: `v${key}` })),
    );
  });

  afterEach(async () => {
    await db.close();
    await dir.remove();
  });

  it('clear() without bounds deletes every key, the empty key included, with one log record', async () => {
    const from = db.store.lastSeqno + 1;
    await db.clear();
    expect(await db.keys().all()).to.deep.equal([]);
    // A range delete from the empty key to the last key, and the delete of the last key.
    expect(await records(db, from)).to.deep.equal([[from, 2]]);
    await db.clear(); // nothing left: nothing written
    expect(db.store.lastSeqno).to.equal(from + 1);
  });

  it('clear() with bounds is one record too; with a limit it deletes only those keys', async () => {
    let from = db.store.lastSeqno + 1;
    await db.clear({ gt: 'a', lte: 'c' });
    expect(await db.keys().all()).to.deep.equal(['', 'a', 'd']);
    expect(await records(db, from)).to.deep.equal([[from, 2]]);
    from = db.store.lastSeqno + 1;
    await db.clear({ gte: 'b' }); // open-ended
    expect(await db.keys().all()).to.deep.equal(['', 'a']);
    expect(await records(db, from)).to.deep.equal([[from, 2]]);
    await db.put('z', 'vz');
    await db.clear({ reverse: true, limit: 1 });
    expect(await db.keys().all()).to.deep.equal(['', 'a']);
  });

  it('keeps its data across close and reopen, and the store handle sees what it wrote', async () => {
    await db.put('json', JSON.stringify({ n: 1 }));
    const history = await db.store.history('a');
    expect(history.versions.map((version) => version.type)).to.deep.equal(['put']);
    await db.close();
    expect(() => db.store)
      .to.throw()
      .with.property('code', 'CLOSED');
    await db.open({ createIfMissing: false });
    expect(await db.get('a')).to.equal('va');
    expect(await db.get('json', { valueEncoding: 'json' })).to.deep.equal({ n: 1 });
    expect(await db.iterator({ gte: 'b', lt: 'd' }).all()).to.deep.equal([
      ['b', 'vb'],
      ['c', 'vc'],
    ]);
  });

  it('close() leaves a small memtable in the log (the next open replays it); closeFlushMinBytes: 0 flushes it', async () => {
    await db.close();
    await db.open();
    expect(db.store.stats().segmentCount).to.equal(0);
    expect(await db.keys().all()).to.deep.equal(['', 'a', 'b', 'c', 'd']);
    await db.close();
    db = new StrataLevel(dir.path, { closeFlushMinBytes: 0 });
    await db.open();
    await db.close();
    await db.open();
    expect(db.store.stats().segmentCount).to.equal(1);
    expect(await db.keys().all()).to.deep.equal(['', 'a', 'b', 'c', 'd']);
    expect(() => new StrataLevel(dir.path, { closeFlushMinBytes: -1 })).to.throw(TypeError);
  });

  it('declares the manifest its README promises', () => {
    expect(db.supports).to.deep.include({
      implicitSnapshots: true,
      explicitSnapshots: true,
      has: true,
      seek: true,
      createIfMissing: true,
      errorIfExists: true,
      permanence: true,
    });
    expect((db.supports as { getSync?: boolean }).getSync).to.equal(false);
    expect(db.supports.signals).to.deep.equal({ iterators: true });
  });

  it('a second database on the same directory fails to open with LEVEL_LOCKED as the cause', async () => {
    const other = new StrataLevel(dir.path);
    const error = (await other.open().then(
      () => undefined,
      (failure: unknown) => failure,
    )) as { code: string; cause: { code: string } };
    expect(error.code).to.equal('LEVEL_DATABASE_NOT_OPEN');
    expect(error.cause.code).to.equal('LEVEL_LOCKED');
  });
});
