import { expect } from 'chai';
import { SimulatedFileSystem, seededRandom } from '@strata/core';
import { armPowerFailure } from '@strata/testing';
import { Store } from '../src/index.js';

interface Progress {
  opened: boolean;
  putAcknowledged: boolean;
  closed: boolean;
}

/**
 * What creating a store, then one put and a close, or only a close, leave after a power loss at
 * a file-system step: the result says how far the process got before the loss.
 */
async function createPutClose(
  fs: SimulatedFileSystem,
  failed: () => boolean,
  put: boolean,
): Promise<Progress> {
  const progress: Progress = { opened: false, putAcknowledged: false, closed: false };
  try {
    const store = await Store.open('/data', { fileSystem: fs });
    progress.opened = true;
    try {
      if (put) {
        await store.put('key', 'value');
        progress.putAcknowledged = true;
      }
    } finally {
      // A close that fails without a power loss is a failure of the test.
      await store.close().then(
        () => (progress.closed = true),
        (error: unknown) => {
          if (!failed()) throw error;
        },
      );
    }
  } catch (error) {
    // The process "died" with the power: whatever its calls threw then does not matter.
    if (!failed()) throw error;
  }
  return progress;
}

describe('Store: power loss while a store is created', () => {
  for (const put of [true, false]) {
    const steps = put ? 'open + put + close' : 'open + close';
    it(`at every file-system step of ${steps}, the directory then opens as the same store or as none`, async () => {
      await powerLossAtEveryStep(put);
    });
  }
});

async function powerLossAtEveryStep(put: boolean): Promise<void> {
  let step = 1;
  for (; step < 200; step++) {
    for (const seed of [1, 2, 3]) {
      const random = seededRandom(step * 10 + seed);
      const fs = new SimulatedFileSystem();
      const failure = armPowerFailure(fs, step, random);
      const { opened, putAcknowledged, closed } = await createPutClose(
        fs,
        () => failure.happened,
        put,
      );
      const reached = !failure.happened;
      failure.now();
      const context = `power loss at step ${step} (seed ${seed}), opened ${opened}, put ${putAcknowledged}, closed ${closed}`;
      // createIfMissing false: a store with an acknowledged write, or whose close resolved,
      // must be there (its creation is durable with either); before that, the directory holds
      // no store (NOT_FOUND) or the empty one; nothing else (no refusal).
      const existing = await Store.open('/data', {
        fileSystem: failure.disk,
        createIfMissing: false,
      }).then(
        (store) => store,
        (error: { code?: string }) => {
          expect(putAcknowledged || closed, context).to.equal(false);
          expect(error.code, context).to.equal('NOT_FOUND');
          return undefined;
        },
      );
      if (existing) {
        const value = await existing.get('key');
        if (putAcknowledged) expect(value?.toString(), context).to.equal('value');
        else expect(value === undefined || value.toString() === 'value', context).to.equal(true);
        await existing.close();
      }
      // And the default open always succeeds there, creating what is missing.
      const reopened = await Store.open('/data', { fileSystem: failure.disk });
      expect(reopened.lastSeqno, context).to.be.at.most(1);
      await reopened.close();
      if (reached && seed === 3) return;
    }
  }
  expect.fail(`creating a store took more than ${step} file-system steps`);
}
