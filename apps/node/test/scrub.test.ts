import { open, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { createTempDirectory } from '@strata/testing';
import { waitFor } from './cluster-helpers.js';
import { startNodeProcess } from './helpers.js';
import type { NodeProcess } from './helpers.js';

interface ScrubView {
  readonly passes: number;
  readonly verifiedBytes: number;
  readonly lastFullPassAt: string | null;
  readonly damage: { kind: string; file: string; offset: number; reason: string }[];
}

/** Flips the byte at `offset` of `path` in place, under the running node. */
async function flipByte(path: string, offset: number): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, offset);
    byte[0] = byte[0]! ^ 0x5a;
    await handle.write(byte, 0, 1, offset);
  } finally {
    await handle.close();
  }
}

describe('strata serve: the background scrub (real process)', function () {
  this.timeout(180_000);
  let data: { path: string; remove(): Promise<void> };
  let node: NodeProcess | undefined;

  beforeEach(async () => {
    data = await createTempDirectory('strata-scrub-');
  });

  afterEach(async () => {
    await node?.stop('SIGKILL');
    node = undefined;
    await data.remove();
  });

  async function status(): Promise<{ status: string; segmentCount: number; scrub: ScrubView }> {
    const response = await fetch(`${node!.url}/v1/status`);
    return (await response.json()) as { status: string; segmentCount: number; scrub: ScrubView };
  }

  it('finds bytes flipped on disk under a running node in a sealed log segment and a tree segment, reports them with file and offset in /v1/status and the log, and keeps serving', async () => {
    node = await startNodeProcess(data.path, [
      '--memtable-bytes',
      '64KiB',
      '--log-segment-bytes',
      '16KiB',
      '--scrub-rate-bytes-per-second',
      '64MiB',
      '--scrub-period-ms',
      '50',
      '--scrub-start-delay-ms',
      '0',
    ]);
    for (let i = 0; i < 200; i++) {
      const response = await fetch(`${node.url}/v1/kv/k${String(i).padStart(4, '0')}`, {
        method: 'PUT',
        body: `value-${i}-${'x'.repeat(500)}`,
      });
      expect(response.status).to.equal(200);
    }
    // The memtable flushed at least once: a tree segment, and sealed log segments below it.
    const flushed = await waitFor('a flushed segment', 30_000, async () =>
      (await status()).segmentCount > 0 ? true : undefined,
    );
    expect(flushed).to.equal(true);
    const first = await status();
    await waitFor('a clean pass', 30_000, async () =>
      (await status()).scrub.passes >= first.scrub.passes + 2 ? true : undefined,
    );
    expect((await status()).scrub.damage).to.deep.equal([]);

    const walFiles = (await readdir(join(data.path, 'wal')))
      .filter((name) => name.endsWith('.log'))
      .sort()
      .map((name) => join(data.path, 'wal', name));
    expect(walFiles.length).to.be.greaterThan(2);
    const sealed = walFiles[0]!;
    const bytes = await readFile(sealed);
    // The second record: skip the first framed record `[u32 length][u32 crc32c][payload]`.
    const recordOffset = 8 + bytes.readUInt32LE(0);
    await flipByte(sealed, recordOffset + 8 + 3);
    const segmentName = (await readdir(join(data.path, 'tree', 'segments'))).sort()[0]!;
    const segment = join(data.path, 'tree', 'segments', segmentName);
    // Inside the first data block, which no read has cached.
    await flipByte(segment, 40);

    const from = (await status()).scrub.passes;
    const after = await waitFor('a whole pass after the damage', 60_000, async () => {
      const current = await status();
      return current.scrub.passes >= from + 2 ? current : undefined;
    });
    const damage = after.scrub.damage.map(({ kind, file, offset }) => ({ kind, file, offset }));
    expect(damage).to.deep.include({ kind: 'log', file: sealed, offset: recordOffset });
    expect(damage).to.deep.include({ kind: 'tree', file: segment, offset: 0 });
    expect(after.scrub.lastFullPassAt).to.be.a('string');
    expect(after.scrub.verifiedBytes).to.be.greaterThan(0);

    // The node runs on: it answers, takes writes, and the log says what the scrub found.
    expect(after.status).to.equal('open');
    expect((await fetch(`${node.url}/healthz`)).status).to.equal(200);
    const put = await fetch(`${node.url}/v1/kv/after`, { method: 'PUT', body: 'damage' });
    expect(put.status).to.equal(200);
    await waitFor('the damage in the log', 10_000, () =>
      node!.output().includes(`scrub found damage in ${segment} at offset 0`) &&
      node!.output().includes(`scrub found damage in ${sealed} at offset ${recordOffset}`)
        ? true
        : undefined,
    );
    const metrics = await (await fetch(`${node.url}/metrics`)).text();
    expect(metrics).to.match(/^strata_scrub_damaged_places 2$/m);
  });
});
