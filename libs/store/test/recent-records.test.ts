import { expect } from 'chai';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { RecentRecords } from '../src/change-feed/recent-records.js';

/** A full collection (V8 exposes `gc` to a new context once the flag is set). */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

describe('RecentRecords: the change feed’s in-memory tail', () => {
  it('keeps the newest records within its byte bound and finds them by seqno', () => {
    const recent = new RecentRecords(3000);
    for (let batch = 0; batch < 10; batch++) {
      recent.push({
        firstSeqno: batch * 10 + 1,
        lastSeqno: batch * 10 + 10,
        bytes: Buffer.alloc(1000),
      });
    }
    expect(recent.find(95)?.firstSeqno).to.equal(91);
    expect(recent.find(75)?.firstSeqno).to.equal(71);
    expect(recent.find(65)).to.equal(undefined);
  });

  it('lets evicted records be garbage-collected (it used to keep them until it compacted)', async () => {
    const recent = new RecentRecords(1000);
    const evicted: WeakRef<Buffer>[] = [];
    for (let batch = 0; batch < 50; batch++) {
      const bytes = Buffer.alloc(1000);
      if (batch < 40) evicted.push(new WeakRef(bytes));
      recent.push({ firstSeqno: batch + 1, lastSeqno: batch + 1, bytes });
    }
    // WeakRefs hold their target until the end of the current job.
    await new Promise((resolve) => setImmediate(resolve));
    collectGarbage();
    const alive = evicted.filter((ref) => ref.deref() !== undefined).length;
    expect(alive).to.equal(0);
    expect(recent.find(50)?.bytes.length).to.equal(1000);
  });
});
