import { expect } from 'chai';
import { isStrataError } from '@strata/core';
import { createTempDirectory, rejectionOf } from '@strata/testing';
import { LogOp } from '@strata/wal';
import { Store } from '../src/index.js';
import type { ChangeBatch, ExpiryEvent, StoreOptions } from '../src/index.js';

/** A wall clock the test moves by hand. */
class TestClock {
  nowMs = 1_700_000_000_000;
  readonly read = (): number => this.nowMs;
  advance(ms: number): void {
    this.nowMs += ms;
  }
}

/** Resolves with the store's next `expiry` event. */
function nextExpiry(store: Store): Promise<ExpiryEvent> {
  return new Promise((resolve) => {
    const stop = store.events.on('expiry', (event) => {
      stop();
      resolve(event);
    });
  });
}

/** Every committed entry from seqno 1 to the store's last, as [seqno, op, key, expired]. */
async function logEntries(store: Store): Promise<[number, number, string, boolean][]> {
  const out: [number, number, string, boolean][] = [];
  const controller = new AbortController();
  const last = store.lastSeqno;
  if (last === 0) return out;
  for await (const batch of store.subscribe({
    from: 1,
    signal: controller.signal,
  }) as AsyncIterable<ChangeBatch>) {
    batch.entries.forEach((entry, index) => {
      out.push([
        batch.firstSeqno + index,
        entry.op,
        Buffer.from(entry.key).toString(),
        entry.expired === true,
      ]);
    });
    if (batch.lastSeqno >= last) break;
  }
  controller.abort();
  return out;
}

describe('Store: per-key time to live', () => {
  let dir: { path: string; remove(): Promise<void> };
  let clock: TestClock;
  let store: Store;
  const open = (options: StoreOptions = {}): Promise<Store> =>
    Store.open(dir.path, { clock: clock.read, ...options });

  beforeEach(async () => {
    dir = await createTempDirectory('store-ttl-');
    clock = new TestClock();
    store = await open();
  });
  afterEach(async () => {
    await store.close();
    await dir.remove();
  });

  it('serves a value until its deadline and never after: get, getEntry, range both ways, at, history', async () => {
    await store.put('a', 'before'); // 1: permanent, hidden below the expiring put
    const { seqno } = await store.put('a', 'short', { ttlMs: 1_000 }); // 2
    await store.put('b', 'stays'); // 3
    expect((await store.get('a'))?.toString()).to.equal('short');
    const entry = await store.getEntry('a');
    expect(entry?.seqno).to.equal(seqno);
    expect(entry?.expiresAtMs).to.equal(clock.nowMs + 1_000);

    clock.advance(999);
    expect((await store.get('a'))?.toString()).to.equal('short');
    clock.advance(1);
    // The deadline passed: absent everywhere, and the older permanent value does not show through.
    expect(await store.get('a')).to.equal(undefined);
    expect(await store.getEntry('a')).to.equal(undefined);
    expect(await store.get('a', { at: 2 })).to.equal(undefined);
    expect((await store.get('a', { at: 1 }))?.toString()).to.equal('before');
    const keys = async (reverse: boolean): Promise<string[]> => {
      const out: string[] = [];
      for await (const item of store.range({ reverse })) out.push(item.key.toString());
      return out;
    };
    expect(await keys(false)).to.deep.equal(['b']);
    expect(await keys(true)).to.deep.equal(['b']);
    const history = await store.history('a');
    expect(
      history.versions.map((v) => [v.seqno, v.type, v.value?.toString(), v.expired]),
    ).to.deep.equal([
      [2, 'put', undefined, true],
      [1, 'put', 'before', undefined],
    ]);
  });

  it('writes one expiry event per expired key, a delete marked expired with its own seqno', async () => {
    await store.put('session/1', 'x', { ttlMs: 100 });
    await store.put('session/2', 'y', { ttlMs: 100 });
    await store.put('session/3', 'z', { ttlMs: 60_000 });
    const expiry = nextExpiry(store);
    clock.advance(100);
    const event = await expiry;
    expect(event.keys).to.equal(2);
    expect(event.firstSeqno).to.equal(4);
    expect(await logEntries(store)).to.deep.equal([
      [1, LogOp.Put, 'session/1', false],
      [2, LogOp.Put, 'session/2', false],
      [3, LogOp.Put, 'session/3', false],
      [4, LogOp.Delete, 'session/1', true],
      [5, LogOp.Delete, 'session/2', true],
    ]);
    const history = await store.history('session/1');
    expect(history.versions.map((v) => [v.seqno, v.type, v.expired])).to.deep.equal([
      [4, 'delete', true],
      [1, 'put', true],
    ]);
    expect((await store.get('session/3'))?.toString()).to.equal('z');
  });

  it('a later put without ttlMs makes the key permanent: no expiry event for it', async () => {
    await store.put('k', 'temporary', { ttlMs: 100 });
    await store.put('k', 'permanent');
    await store.put('marker', 'm', { ttlMs: 100 });
    const expiry = nextExpiry(store);
    clock.advance(1_000);
    expect((await expiry).keys).to.equal(1);
    expect((await store.get('k'))?.toString()).to.equal('permanent');
    const entries = await logEntries(store);
    expect(entries.filter(([, , , expired]) => expired).map(([, , key]) => key)).to.deep.equal([
      'marker',
    ]);
  });

  it('an expired key has version 0: ifSeqno 0 creates it again, its old version conflicts', async () => {
    store.setExpiryWrites(false);
    const { seqno } = await store.put('lock', 'owner-1', { ttlMs: 500 });
    const conflict = await rejectionOf(store.put('lock', 'owner-2', { ifSeqno: 0 }));
    expect(conflict.code).to.equal('CONFLICT');
    clock.advance(500);
    const stale = await rejectionOf(store.put('lock', 'owner-1b', { ifSeqno: seqno }));
    expect(stale.code).to.equal('CONFLICT');
    expect(isStrataError(stale) && stale.details?.conflicts).to.deep.equal([
      { kind: 'key', key: Buffer.from('lock'), expectedSeqno: seqno, actualSeqno: 0 },
    ]);
    const taken = await store.put('lock', 'owner-2', { ifSeqno: 0, ttlMs: 500 });
    expect((await store.getEntry('lock'))?.seqno).to.equal(taken.seqno);
  });

  it('takes ttlMs on batch puts and refuses a bad ttlMs with INVALID_ARGUMENT, writing nothing', async () => {
    const result = await store.batch([
      { type: 'put', key: 'a', value: '1', ttlMs: 50 },
      { type: 'put', key: 'b', value: '2' },
    ]);
    expect(result.lastSeqno).to.equal(2);
    for (const ttlMs of [0, -1, 1.5, Number.NaN, 2 ** 53, '10' as unknown as number]) {
      expect((await rejectionOf(store.put('c', 'v', { ttlMs }))).code).to.equal('INVALID_ARGUMENT');
      const batchError = await rejectionOf(
        store.batch([{ type: 'put', key: 'c', value: 'v', ttlMs }]),
      );
      expect(batchError.code).to.equal('INVALID_ARGUMENT');
      expect(batchError.message).to.match(/operation 0 ttlMs/);
    }
    expect(store.lastSeqno).to.equal(2);
    clock.advance(50);
    expect(await store.get('a')).to.equal(undefined);
    expect((await store.get('b'))?.toString()).to.equal('2');
  });

  for (const flushMemtable of [true, false]) {
    it(`after a restart (${flushMemtable ? 'flushed to segments' : 'replayed from the log'}) never serves an expired value and writes the expiry events it owes`, async () => {
      store.setExpiryWrites(false);
      await store.put('gone', 'x', { ttlMs: 1_000 });
      await store.put('kept', 'y', { ttlMs: 60_000 });
      await store.put('plain', 'z');
      await store.close({ flushMemtable });
      clock.advance(1_000);
      store = await open({ expiryWrites: false });
      expect(await store.get('gone')).to.equal(undefined);
      expect((await store.get('kept'))?.toString()).to.equal('y');
      const expiry = nextExpiry(store);
      store.setExpiryWrites(true);
      const event = await expiry;
      expect(event).to.deep.equal({ keys: 1, firstSeqno: 4, lastSeqno: 4 });
      expect((await logEntries(store)).at(-1)).to.deep.equal([4, LogOp.Delete, 'gone', true]);
    });
  }

  it('finds every due deadline with fewer deadlines in memory than expiring keys', async () => {
    await store.close();
    store = await open({ maxDeadlinesInMemory: 3 });
    for (let index = 0; index < 12; index++) {
      await store.put(`k${String(index).padStart(2, '0')}`, 'v', { ttlMs: 100 + index * 10 });
    }
    let expired = 0;
    const allExpired = new Promise<void>((resolve) => {
      store.events.on('expiry', (event) => {
        expired += event.keys;
        if (expired === 12) resolve();
      });
    });
    clock.advance(1_000);
    await allExpired;
    const deletes = (await logEntries(store)).filter(([, op]) => op === LogOp.Delete);
    expect(deletes.map(([, , key]) => key)).to.deep.equal(
      Array.from({ length: 12 }, (_, index) => `k${String(index).padStart(2, '0')}`),
    );
  });

  it('a store that does not write expiry events (a follower) applies the ones it receives', async () => {
    const followerDir = await createTempDirectory('store-ttl-follower-');
    const follower = await Store.open(followerDir.path, { clock: clock.read, expiryWrites: false });
    try {
      const expiry = nextExpiry(store);
      await store.put('t', 'v', { ttlMs: 100 });
      clock.advance(100);
      await expiry;
      for await (const batch of store.subscribe({ from: 1 })) {
        await follower.appendReplicated(batch.record);
        if (batch.lastSeqno >= store.lastSeqno) break;
      }
      expect(follower.lastSeqno).to.equal(2);
      expect(await follower.get('t')).to.equal(undefined);
      expect((await logEntries(follower)).at(-1)).to.deep.equal([2, LogOp.Delete, 't', true]);
    } finally {
      await follower.close();
      await followerDir.remove();
    }
  });
});
