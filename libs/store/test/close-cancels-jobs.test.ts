import { expect } from 'chai';
import { SimulatedFileSystem } from '@strata/core';
import { Store } from '../src/index.js';

const key = (i: number): string => `k${String(i).padStart(6, '0')}`;

/** Segment files (finished or being written) in the store's tree folder. */
async function segmentFiles(fs: SimulatedFileSystem): Promise<string[]> {
  return (await fs.readdir('/data/tree/segments')).filter((name) => name.includes('.seg')).sort();
}

describe('Store.close: does not write the memtables out and does not wait for file work', () => {
  it('a close during a flush cancels it: the close succeeds, nothing is lost, no file is left behind', async () => {
    const fs = new SimulatedFileSystem();
    const store = await Store.open('/data', { sync: 'none', fileSystem: fs });
    const ops = Array.from({ length: 2000 }, (_, i) => ({
      type: 'put' as const,
      key: key(i),
      value: `value-${i}`,
    }));
    await store.batch(ops);
    const lastSeqno = store.lastSeqno;
    // The close starts as soon as the flush opens its output file (the flush is then mid-way).
    let closing: Promise<void> | undefined;
    fs.setFaultInjector((operation, path) => {
      if (operation === 'open' && path.includes('.seg') && closing === undefined) {
        closing = store.close();
      }
      return undefined;
    });
    const flushing = store.flush().then(
      () => 'flushed',
      (error: unknown) => (error as { code?: string }).code,
    );
    await flushing;
    expect(closing, 'the flush never opened a segment file').to.not.equal(undefined);
    await closing;
    fs.setFaultInjector(undefined);
    expect(store.status).to.equal('closed');
    // The cancelled flush removed its partial output; the manifest lists no segment.
    expect(await segmentFiles(fs)).to.deep.equal([]);
    const reopened = await Store.open('/data', { sync: 'none', fileSystem: fs });
    expect(reopened.lastSeqno).to.equal(lastSeqno);
    expect(reopened.stats().segmentCount).to.equal(0);
    for (const i of [0, 999, 1999]) {
      expect((await reopened.get(key(i)))?.toString()).to.equal(`value-${i}`);
    }
    await reopened.close();
  });

  it('by default the memtable stays in the log (replayed by the next open); flushMemtable: true writes it out', async () => {
    const fs = new SimulatedFileSystem();
    const store = await Store.open('/data', { fileSystem: fs });
    await store.put('a', '1');
    await store.close();
    expect(await segmentFiles(fs)).to.deep.equal([]);
    const reopened = await Store.open('/data', { fileSystem: fs });
    expect((await reopened.get('a'))?.toString()).to.equal('1');
    await reopened.put('b', '2');
    await reopened.close({ flushMemtable: true });
    const files = await segmentFiles(fs);
    expect(files).to.have.length(1);
    expect(files[0]).to.match(/\.seg$/);
    const again = await Store.open('/data', { fileSystem: fs });
    expect(again.stats().segmentCount).to.equal(1);
    expect((await again.get('b'))?.toString()).to.equal('2');
    await again.close();
  });

  it('an open that replays a large memtable flushes it in the background, so the open after is quick', async () => {
    const fs = new SimulatedFileSystem();
    const options = { sync: 'none', fileSystem: fs, memtableSizeBytes: 64 * 1024 } as const;
    const store = await Store.open('/data', options);
    // About 16 KiB: over an eighth of the memtable size, under the size that seals it.
    await store.batch(
      Array.from({ length: 200 }, (_, i) => ({
        type: 'put' as const,
        key: key(i),
        value: 'v'.repeat(60),
      })),
    );
    await store.close();
    expect(await segmentFiles(fs)).to.deep.equal([]);
    const reopened = await Store.open('/data', options);
    await reopened.waitForBackgroundWork();
    expect(reopened.stats().segmentCount).to.equal(1);
    await reopened.close();
    // A small memtable is left in the log.
    const again = await Store.open('/data', options);
    await again.put('small', 'x');
    await again.close();
    const last = await Store.open('/data', options);
    await last.waitForBackgroundWork();
    expect(last.stats().segmentCount).to.equal(1);
    expect((await last.get('small'))?.toString()).to.equal('x');
    await last.close();
  });
});
