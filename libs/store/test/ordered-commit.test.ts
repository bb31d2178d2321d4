import { expect } from 'chai';
import type { AppendResult, LogEntry } from '@strata/wal';
import { CommitNotifier } from '../src/commit-notifier.js';
import { OrderedCommit } from '../src/write/ordered-commit.js';
import { rejectionOf } from './helpers.js';

/** A written batch covering `firstSeqno`..`lastSeqno`, as the log resolves an append. */
function written(firstSeqno: number, lastSeqno = firstSeqno): AppendResult {
  return { firstSeqno, lastSeqno, chain: 0, checksum: 0, bytes: Buffer.alloc(0) };
}

const ENTRIES: readonly LogEntry[] = [];

describe('OrderedCommit: written batches are published in seqno order', () => {
  let notifier: CommitNotifier;
  let published: string[];
  let commit: OrderedCommit;
  beforeEach(() => {
    notifier = new CommitNotifier(0);
    published = [];
    // Publishing advances the applied seqno, as the store's applier does.
    commit = new OrderedCommit(notifier, {
      publish(appended, entries) {
        const how = entries === undefined ? 'early' : 'insert';
        published.push(`${appended.firstSeqno}-${appended.lastSeqno}:${how}`);
        notifier.advance(appended.lastSeqno);
      },
    });
  });

  it('publishes a batch that follows the applied seqno at once, with no promise', () => {
    expect(commit.publishInOrder(written(1), ENTRIES)).to.equal(undefined);
    expect(commit.publishInOrder(written(2, 4), undefined)).to.equal(undefined);
    expect(published).to.deep.equal(['1-1:insert', '2-4:early']);
    expect(notifier.applied).to.equal(4);
  });

  it('parks batches that arrive before their predecessors and publishes them in seqno order', async () => {
    const third = commit.publishInOrder(written(5, 7), undefined);
    const second = commit.publishInOrder(written(2, 4), ENTRIES);
    expect(third).to.be.instanceOf(Promise);
    expect(second).to.be.instanceOf(Promise);
    expect(published).to.deep.equal([]);
    expect(notifier.applied).to.equal(0);
    expect(commit.parkedCount).to.equal(2);

    expect(commit.publishInOrder(written(1), ENTRIES)).to.equal(undefined);
    expect(published).to.deep.equal(['1-1:insert', '2-4:insert', '5-7:early']);
    expect(notifier.applied).to.equal(7);
    expect(commit.parkedCount).to.equal(0);
    await Promise.all([second, third]);
  });

  it('leaves a batch parked while a gap remains before it', async () => {
    const later = commit.publishInOrder(written(3), ENTRIES);
    expect(commit.publishInOrder(written(1), ENTRIES)).to.equal(undefined);
    expect(published).to.deep.equal(['1-1:insert']);
    expect(commit.parkedCount).to.equal(1);
    let settled = false;
    void later?.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).to.equal(false);
    expect(commit.publishInOrder(written(2), ENTRIES)).to.equal(undefined);
    await later;
    expect(published).to.deep.equal(['1-1:insert', '2-2:insert', '3-3:insert']);
  });

  it('trips the invariant on a batch at or below the applied seqno (duplicate or overlap)', () => {
    expect(commit.publishInOrder(written(1, 3), ENTRIES)).to.equal(undefined);
    for (const firstSeqno of [1, 2, 3]) {
      expect(() => commit.publishInOrder(written(firstSeqno, 5), ENTRIES), `at ${firstSeqno}`)
        .to.throw(/invariant violated: batch at \d+ published after 3/)
        .with.property('code', 'INTERNAL');
    }
    expect(published).to.deep.equal(['1-3:insert']);
    expect(notifier.applied).to.equal(3);
  });

  it('trips the invariant on a second batch parked at the same seqno', () => {
    void commit.publishInOrder(written(4), ENTRIES);
    expect(() => commit.publishInOrder(written(4, 6), ENTRIES))
      .to.throw(/invariant violated: batch at 4 published after 0/)
      .with.property('code', 'INTERNAL');
    expect(commit.parkedCount).to.equal(1);
  });

  it('rejects every parked batch when the store fails, and forgets them', async () => {
    const parked = [
      commit.publishInOrder(written(2), ENTRIES),
      commit.publishInOrder(written(3), ENTRIES),
    ];
    const failure = Object.assign(new Error('the log failed'), { code: 'IO_ERROR' });
    commit.rejectParked(failure);
    for (const promise of parked) expect(await rejectionOf(promise!)).to.equal(failure);
    expect(commit.parkedCount).to.equal(0);
    expect(commit.publishInOrder(written(1), ENTRIES)).to.equal(undefined);
    expect(published).to.deep.equal(['1-1:insert']);
  });
});
