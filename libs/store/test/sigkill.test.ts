import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { seededRandom } from '@strata/core';
import { createTempDirectory } from '@strata/testing';
import { Store } from '../src/index.js';
import { valueOf } from './support/oracle.js';

const CYCLES = Number(process.env['STRATA_STORE_SIGKILL_CYCLES'] ?? 100);
const childScript = fileURLToPath(new URL('./support/writer-child.ts', import.meta.url));

function runAndKill(
  directory: string,
  cycle: number,
  runMs: number,
  acknowledged: Map<number, string>,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', childScript, directory, String(cycle)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let buffered = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const [kind, seqno, key] = line.split(' ');
        if (kind === 'ready') setTimeout(() => child.kill('SIGKILL'), runMs);
        else if (kind === 'ack') acknowledged.set(Number(seqno), key!);
      }
    });
    child.on('exit', (code, signal) =>
      signal === 'SIGKILL' ? resolve() : reject(new Error(`child exited with ${code}: ${stderr}`)),
    );
  });
}

describe('Store: SIGKILL loop', function () {
  this.timeout(CYCLES * 20_000);

  it(`concurrent writers with tiny memtables, killed ${CYCLES} times: nothing acknowledged lost, nothing unwritten, no holes`, async () => {
    const dataDir = await createTempDirectory('store-sigkill-');
    // The oracle: seqno -> key of every acknowledged write, kept here, outside the data directory.
    const acknowledged = new Map<number, string>();
    const random = seededRandom(Number(process.env['STRATA_SEED'] ?? 4242));
    let flushesSeen = 0;
    try {
      for (let cycle = 0; cycle < CYCLES; cycle++) {
        await runAndKill(dataDir.path, cycle, 20 + Math.floor(random() * 250), acknowledged);
        const store = await Store.open(dataDir.path);
        try {
          const last = store.lastSeqno;
          // The recovered history: contiguous from 1, every entry a value that was really written.
          let expected = 1;
          const history = new Map<number, string>();
          for await (const batch of store.subscribe({ from: 1 })) {
            expect(batch.firstSeqno, `cycle ${cycle}: hole before ${batch.firstSeqno}`).to.equal(
              expected,
            );
            for (const [index, entry] of batch.entries.entries()) {
              const key = Buffer.from(entry.key).toString();
              expect(
                Buffer.from(entry.value).toString(),
                `cycle ${cycle}: unwritten value at ${batch.firstSeqno + index}`,
              ).to.equal(valueOf(key));
              history.set(batch.firstSeqno + index, key);
            }
            expected = batch.lastSeqno + 1;
            if (batch.lastSeqno >= last) break;
          }
          expect(expected - 1).to.equal(last);
          for (const [seqno, key] of acknowledged) {
            expect(
              history.get(seqno),
              `cycle ${cycle}: acknowledged seqno ${seqno} (${key}) lost`,
            ).to.equal(key);
          }
          // Reads through the tree (memtable replay + flushed segments) agree with the log.
          const sample = [...acknowledged.entries()].filter(
            (_, index) => index % 97 === 0 || index >= acknowledged.size - 20,
          );
          for (const [, key] of sample) {
            expect((await store.get(key))?.toString(), `cycle ${cycle}: get ${key}`).to.equal(
              valueOf(key),
            );
          }
          flushesSeen = Math.max(flushesSeen, store.stats().segmentCount);
        } finally {
          await store.close();
        }
      }
      expect(acknowledged.size).to.be.greaterThan(CYCLES * 10);
      expect(flushesSeen, 'tiny memtables must have produced segments').to.be.greaterThan(0);
    } finally {
      await dataDir.remove();
    }
  });
});
