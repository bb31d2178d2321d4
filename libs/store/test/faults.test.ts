import { expect } from 'chai';
import { SimulatedFileSystem, seededRandom } from '@strata/core';
import type { FaultableOperation } from '@strata/core';
import { Store } from '../src/index.js';
import { deterministicValue as valueOf } from '@strata/testing';

const CYCLES = Number(process.env['STRATA_STORE_FAULT_CYCLES'] ?? 300);
const options = { memtableSizeBytes: 4096, walSegmentSizeBytes: 4096 } as const;

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
    let once = true;
    fs.setFaultInjector((operation, path) => {
      if (once && operation === 'write' && path.includes('/wal/')) {
        once = false;
        return 'ENOSPC';
      }
      return undefined;
    });
    expect(
      await store.put('b', valueOf('b')).catch((error: { code?: string }) => error.code),
    ).to.equal('NO_SPACE');
    expect(store.status).to.equal('open');
    const retried = await store.put('b', valueOf('b'));
    expect(retried.seqno).to.equal(2);
    expect((await store.get('b'))?.toString()).to.equal(valueOf('b'));
    await store.close();
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
