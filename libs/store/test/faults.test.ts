import { expect } from 'chai';
import { SimulatedFileSystem, seededRandom } from '@strata/core';
import type { FaultableOperation } from '@strata/core';
import { Store } from '../src/index.js';
import { deterministicValue as valueOf } from '@strata/testing';

const CYCLES = Number(process.env['STRATA_STORE_FAULT_CYCLES'] ?? 300);
const options = { memtableSizeBytes: 4096, walSegmentSizeBytes: 4096 } as const;
const BATCH_CYCLES = Number(process.env['STRATA_STORE_FAULT_BATCH_CYCLES'] ?? 60);

/** Makes the next write to a log file fail with `error`, once. */
function failNextLogWrite(fs: SimulatedFileSystem, error: 'EIO' | 'ENOSPC'): void {
  let once = true;
  fs.setFaultInjector((operation, path) => {
    if (!once || operation !== 'write' || !path.includes('/wal/')) return undefined;
    once = false;
    return error;
  });
}

describe('Store: injected EIO and ENOSPC', () => {
  it('a failed fdatasync is fail-stop: writes refused with IO_ERROR, reads still served, reopen recovers', async () => {
    const fs = new SimulatedFileSystem();
    const store = await Store.open('/data', { fileSystem: fs });
    await store.put('a', valueOf('a'));
    fs.setFaultInjector((operation) => (operation === 'datasync' ? 'EIO' : undefined));
    const failed = await store.put('b', valueOf('b')).catch((error: { code?: string }) => error);
    expect(failed).to.include({ code: 'IO_ERROR' });
    expect(store.status).to.equal('failed');
    fs.setFaultInjector(undefined);
    // Never retried: the store stays stopped even when the device works again.
    expect(await store.put('c', 'x').catch((error: { code?: string }) => error.code)).to.equal(
      'IO_ERROR',
    );
    expect((await store.get('a'))?.toString()).to.equal(valueOf('a'));
    const rebooted = fs.crash({ random: seededRandom(1) });
    const reopened = await Store.open('/data', { fileSystem: rebooted });
    expect(reopened.status).to.equal('open');
    expect((await reopened.get('a'))?.toString()).to.equal(valueOf('a'));
    await reopened.put('d', valueOf('d'));
    await reopened.close();
  });

  it('ENOSPC on a log write refuses that write with NO_SPACE and the store keeps going', async () => {
    const fs = new SimulatedFileSystem();
    const store = await Store.open('/data', { fileSystem: fs });
    await store.put('a', valueOf('a'));
    failNextLogWrite(fs, 'ENOSPC');
    expect(
      await store.put('b', valueOf('b')).catch((error: { code?: string }) => error.code),
    ).to.equal('NO_SPACE');
    expect(store.status).to.equal('open');
    const retried = await store.put('b', valueOf('b'));
    expect(retried.seqno).to.equal(2);
    expect((await store.get('b'))?.toString()).to.equal(valueOf('b'));
    await store.close();
  });

  it('ENOSPC under batches applied while their write was in flight: the refused entries leave the memtable and their reused seqnos carry the next writes', async () => {
    const fs = new SimulatedFileSystem();
    const store = await Store.open('/data', { fileSystem: fs });
    const batchOf = (prefix: string, count: number, value: string) =>
      Array.from({ length: count }, (_, index) => ({
        type: 'put' as const,
        key: `${prefix}-${String(index).padStart(3, '0')}`,
        value,
      }));
    expect(await store.batch(batchOf('a', 100, 'A'))).to.include({ firstSeqno: 1, lastSeqno: 100 });
    failNextLogWrite(fs, 'ENOSPC');
    // Two batches admitted together (one group): both are refused, one of them overwrote 'a' keys.
    const refused = await Promise.all([
      store.batch(batchOf('b', 100, 'B')).catch((error: { code?: string }) => error.code),
      store.batch(batchOf('a', 50, 'C')).catch((error: { code?: string }) => error.code),
    ]);
    expect(refused).to.deep.equal(['NO_SPACE', 'NO_SPACE']);
    expect(store.status).to.equal('open');
    // The next batch takes the refused seqnos again.
    expect(await store.batch(batchOf('d', 200, 'D'))).to.include({
      firstSeqno: 101,
      lastSeqno: 300,
    });
    const check = async (reader: Store): Promise<void> => {
      expect((await reader.get('a-000'))?.toString()).to.equal('A');
      expect((await reader.get('a-049'))?.toString()).to.equal('A');
      expect(await reader.get('b-000')).to.equal(undefined);
      expect(await reader.get('b-099')).to.equal(undefined);
      expect((await reader.get('d-150'))?.toString()).to.equal('D');
      const keys = (await reader.range().all()).map((item) => item.key.toString()[0]);
      expect(keys.filter((letter) => letter === 'a')).to.have.length(100);
      expect(keys.filter((letter) => letter === 'b')).to.have.length(0);
      expect(keys.filter((letter) => letter === 'd')).to.have.length(200);
    };
    await check(store);
    await store.flush();
    await check(store);
    await store.close();
    const reopened = await Store.open('/data', { fileSystem: fs });
    await check(reopened);
    await reopened.close();
  });

  it('large batches (applied early) and single puts written in one group are published in seqno order', async () => {
    for (const sync of ['always', 'none'] as const) {
      const store = await Store.open('/data', { sync, fileSystem: new SimulatedFileSystem() });
      const writes: Promise<{ firstSeqno: number; lastSeqno: number }>[] = [];
      for (let round = 0; round < 20; round++) {
        writes.push(
          store.batch(
            Array.from({ length: 80 }, (_, index) => ({
              type: 'put' as const,
              key: `b${round}-${index}`,
              value: `${round}`,
            })),
          ),
        );
        for (let put = 0; put < 3; put++) {
          writes.push(
            store
              .put(`p${round}-${put}`, `${round}`)
              .then(({ seqno }) => ({ firstSeqno: seqno, lastSeqno: seqno })),
          );
        }
      }
      const results = await Promise.all(writes);
      let next = 1;
      for (const result of results) {
        expect(result.firstSeqno, sync).to.equal(next);
        next = result.lastSeqno + 1;
      }
      expect(store.lastSeqno).to.equal(20 * 83);
      expect((await store.get('b19-79'))?.toString()).to.equal('19');
      expect((await store.get('p19-2'))?.toString()).to.equal('19');
      expect(await store.range().all()).to.have.length(20 * 83);
      await store.close();
    }
  });

  it(`random EIO/ENOSPC under concurrent large batches (${BATCH_CYCLES} seeded cycles): no refused entry ever readable, nothing acknowledged lost`, async () => {
    let refusals = 0;
    for (let seed = 1; seed <= BATCH_CYCLES; seed++) {
      const random = seededRandom(seed * 7919);
      const mode = random() < 0.5 ? 'always' : 'none';
      const fs = new SimulatedFileSystem();
      const store = await Store.open('/data', {
        memtableSizeBytes: 64 * 1024,
        walSegmentSizeBytes: 32 * 1024,
        sync: mode,
        fileSystem: fs,
      });
      const faultOn = random() < 0.7 ? 'write' : 'datasync';
      const faultAt = 2 + Math.floor(random() * 30);
      const faultKind = random() < 0.7 ? 'ENOSPC' : 'EIO';
      let count = 0;
      fs.setFaultInjector((operation, path) => {
        if (operation !== faultOn || !path.includes('/wal/') || ++count !== faultAt)
          return undefined;
        return faultKind;
      });
      const acknowledged = new Set<string>();
      const refusedKeys = new Set<string>();
      const writer = async (name: string): Promise<void> => {
        for (let batch = 0; batch < 12 && store.status === 'open'; batch++) {
          const keys = Array.from(
            { length: 64 + Math.floor(random() * 40) },
            (_, index) => `${seed}-${name}-${batch}-${index}`,
          );
          try {
            await store.batch(
              keys.map((key) => ({ type: 'put' as const, key, value: valueOf(key) })),
            );
            for (const key of keys) acknowledged.add(key);
          } catch (error) {
            expect((error as { code?: string }).code, `seed ${seed}`).to.be.oneOf([
              'IO_ERROR',
              'NO_SPACE',
            ]);
            for (const key of keys) refusedKeys.add(key);
            if ((error as { code?: string }).code === 'NO_SPACE') refusals++;
          }
        }
      };
      await Promise.all([writer('x'), writer('y'), writer('z')]);
      // Under `none` a power loss may take acknowledged writes (never refused ones, and the
      // store must reopen); under `always` it takes nothing acknowledged.
      const check = async (reader: Store, when: string, complete: boolean): Promise<void> => {
        let present = 0;
        for (const key of acknowledged) {
          const value = (await reader.get(key))?.toString();
          if (value !== undefined) present++;
          if (complete || value !== undefined)
            expect(value, `seed ${seed} ${when}: ${key}`).to.equal(valueOf(key));
        }
        for (const key of refusedKeys)
          expect(await reader.get(key), `seed ${seed} ${when}: refused ${key}`).to.equal(undefined);
        const all = await reader.range().all();
        expect(all.length, `seed ${seed} ${when}: keys in a full scan`).to.equal(present);
      };
      await check(store, 'before reopen', true);
      const rebooted = fs.crash({ random });
      const reopened = await Store.open('/data', { fileSystem: rebooted });
      await check(reopened, 'after reopen', mode === 'always');
      await reopened.close();
    }
    expect(refusals, 'ENOSPC refusals must really happen').to.be.greaterThan(BATCH_CYCLES / 4);
  });

  it(`random EIO/ENOSPC on any operation (${CYCLES} seeded cycles): refusal or fail-stop, nothing acknowledged lost`, async () => {
    const operations: FaultableOperation[] = [
      'write',
      'datasync',
      'rename',
      'syncDirectory',
      'open',
      'unlink',
    ];
    let fired = 0;
    for (let seed = 1; seed <= CYCLES; seed++) {
      const random = seededRandom(seed);
      const fs = new SimulatedFileSystem();
      const store = await Store.open('/data', { ...options, fileSystem: fs });
      const faultOn = operations[Math.floor(random() * operations.length)]!;
      // Frequent operations fail late, rare ones (manifest renames, unlinks) early.
      const faultAt =
        1 + Math.floor(random() * (faultOn === 'write' || faultOn === 'datasync' ? 200 : 8));
      const faultKind = random() < 0.5 ? 'EIO' : 'ENOSPC';
      let count = 0;
      fs.setFaultInjector((operation) => {
        if (operation !== faultOn || ++count !== faultAt) return undefined;
        fired++;
        return faultKind;
      });
      const acknowledged = new Map<string, number>();
      const codes = new Set<string>();
      for (let index = 0; index < 150 && store.status === 'open'; index++) {
        const key = `s${seed}-${index}`;
        try {
          acknowledged.set(key, (await store.put(key, valueOf(key))).seqno);
        } catch (error) {
          const code = (error as { code?: string }).code ?? 'none';
          codes.add(code);
          expect(code, `seed ${seed}`).to.be.oneOf(['IO_ERROR', 'NO_SPACE']);
        }
      }
      if (store.status === 'failed') {
        // Reads keep working after a fail-stop.
        const [someKey] = acknowledged.keys();
        if (someKey)
          expect((await store.get(someKey))?.toString(), `seed ${seed}`).to.equal(valueOf(someKey));
      }
      const rebooted = fs.crash({ random });
      const reopened = await Store.open('/data', { ...options, fileSystem: rebooted });
      for (const [key] of acknowledged) {
        expect(
          (await reopened.get(key))?.toString(),
          `seed ${seed}: ${key} lost after ${[...codes].join(',')}`,
        ).to.equal(valueOf(key));
      }
      await reopened.close();
    }
    expect(fired, 'faults must really fire').to.be.greaterThan(CYCLES / 2);
  });
});
