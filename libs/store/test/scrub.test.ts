import { expect } from 'chai';
import { open, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createTempDirectory } from '@strata/testing';
import { Store } from '../src/index.js';
import type { ScrubDamage, ScrubStatus } from '../src/index.js';
import { rejectionOf, waitUntil } from './helpers.js';

/** Flips the byte at `offset` of `path` in place (the file stays the same inode, open or not). */
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

/** Start offsets of the framed records of a log segment: `[u32 length][u32 crc32c][payload]`. */
function recordOffsets(segment: Buffer): number[] {
  const offsets: number[] = [];
  for (let offset = 0; offset + 8 <= segment.length; offset += 8 + segment.readUInt32LE(offset))
    offsets.push(offset);
  return offsets;
}

describe('Store: background scrub', function () {
  this.timeout(60_000);
  let dir: { path: string; remove(): Promise<void> };
  let store: Store | undefined;

  beforeEach(async () => {
    dir = await createTempDirectory('scrub-');
  });

  afterEach(async () => {
    await store?.close();
    store = undefined;
    await dir.remove();
  });

  it('finds a flipped byte in a sealed log segment and in a tree segment within one pass, reports file and offset, and keeps serving', async () => {
    const found: ScrubDamage[] = [];
    store = await Store.open(dir.path, {
      walSegmentSizeBytes: 4096,
      scrub: {
        rateBytesPerSecond: 64 * 1024 * 1024,
        periodMs: 20,
        startDelayMs: 0,
        onDamage: (damage) => found.push(damage),
      },
    });
    for (let index = 0; index < 400; index++)
      await store.put(`k${String(index).padStart(4, '0')}`, `value-${index}-${'x'.repeat(40)}`);
    await store.flush();
    const passesOf = (): number => (store!.scrubStatus() as ScrubStatus).passes;
    // Clean passes first: nothing to report.
    const cleanFrom = passesOf();
    await waitUntil(() => passesOf() >= cleanFrom + 2, 'two clean passes');
    const clean = store.scrubStatus()!;
    expect(clean.damage).to.deep.equal([]);
    expect(clean.verifiedBytes).to.be.greaterThan(0);
    expect(clean.lastFullPassAt).to.be.a('string');

    const walFiles = (await readdir(join(dir.path, 'wal')))
      .filter((name) => name.endsWith('.log'))
      .sort()
      .map((name) => join(dir.path, 'wal', name));
    expect(walFiles.length).to.be.greaterThan(3);
    const sealed = walFiles[1]!;
    const recordOffset = recordOffsets(await readFile(sealed))[2]!;
    await flipByte(sealed, recordOffset + 8 + 3);
    const segmentFiles = (await readdir(join(dir.path, 'tree', 'segments'))).map((name) =>
      join(dir.path, 'tree', 'segments', name),
    );
    expect(segmentFiles).to.have.length(1);
    const segment = segmentFiles[0]!;
    // Inside the first data block (its 13-byte header, then its bytes): never read, so not cached.
    await flipByte(segment, 40);

    const from = passesOf();
    await waitUntil(() => passesOf() >= from + 2, 'a whole pass after the damage');
    const status = store.scrubStatus()!;
    const damage = status.damage.map(({ kind, file, offset }) => ({ kind, file, offset }));
    expect(damage).to.deep.include({ kind: 'log', file: sealed, offset: recordOffset });
    expect(damage).to.deep.include({ kind: 'tree', file: segment, offset: 0 });
    expect(damage).to.have.length(2);
    // Reported once each, though every pass finds them again.
    expect(found.map(({ file, offset }) => `${file}@${offset}`).sort()).to.deep.equal(
      [`${sealed}@${recordOffset}`, `${segment}@0`].sort(),
    );
    for (const entry of status.damage) expect(entry.reason).to.be.a('string').and.not.equal('');

    // The store keeps serving; the damaged block itself is refused, never served.
    expect(store.status).to.equal('open');
    expect((await rejectionOf(store.get('k0000'))).code).to.equal('CORRUPTION');
    await store.put('after', 'damage');
    expect((await store.get('after'))?.toString()).to.equal('damage');
  });

  it('holds a tree segment only while reading it: compaction deletes replaced files meanwhile', async () => {
    store = await Store.open(dir.path, {
      memtableSizeBytes: 16 * 1024,
      scrub: { rateBytesPerSecond: 512 * 1024, periodMs: 0, startDelayMs: 0 },
    });
    for (let round = 0; round < 3000; round++)
      await store.put(`k${round % 300}`, `value-${round}-${'y'.repeat(100)}`);
    await store.waitForBackgroundWork();
    const passes = store.scrubStatus()!.passes;
    // A whole pass after the last compaction: whatever it holds is live.
    await waitUntil(() => store!.scrubStatus()!.passes >= passes + 2, 'a whole pass', 30_000);
    // Every file in the segments folder is a live segment: nothing obsolete was kept.
    const listed = (await readdir(join(dir.path, 'tree', 'segments'))).length;
    expect(listed).to.equal(store.stats().segmentCount);
    expect(store.scrubStatus()!.damage).to.deep.equal([]);
  });

  it('keeps to its rate when every pass is smaller than the unit it paces by', async () => {
    // A few KiB of tree and nothing sealed in the log: a pass is far below the 64 KiB the scrub
    // gathers before it waits, so only what each pass charges at its end holds the rate.
    const rateBytesPerSecond = 32 * 1024;
    const started = performance.now();
    store = await Store.open(dir.path, {
      sync: 'none',
      scrub: { rateBytesPerSecond, periodMs: 0, startDelayMs: 0 },
    });
    for (let index = 0; index < 20; index++) await store.put(`k${index}`, 'v'.repeat(100));
    await store.flush();
    const status = (): ScrubStatus => store!.scrubStatus() as ScrubStatus;
    await waitUntil(() => status().verifiedBytes >= 6 * rateBytesPerSecond, '192 KiB verified');
    const elapsedSeconds = (performance.now() - started) / 1000;
    const { verifiedBytes, passes } = status();
    expect(passes).to.be.greaterThan(10);
    // An upper bound on bytes, so a slow machine only makes it easier: one second of burst, one
    // unit and the pass under way may run ahead of the rate.
    const allowedBytes =
      rateBytesPerSecond * (elapsedSeconds + 1) + 64 * 1024 + verifiedBytes / passes;
    expect(verifiedBytes).to.be.at.most(allowedBytes);
  });

  it('is off by default, stops with the store, and refuses a bad rate', async () => {
    store = await Store.open(dir.path);
    expect(store.scrubStatus()).to.equal(undefined);
    await store.close();
    store = await Store.open(dir.path, { scrub: { startDelayMs: 0, periodMs: 0 } });
    expect(store.scrubStatus()!.state).to.be.oneOf(['waiting', 'running']);
    const closing = store;
    await closing.close();
    expect(closing.scrubStatus()!.state).to.equal('stopped');
    store = undefined;
    expect(
      (await rejectionOf(Store.open(dir.path, { scrub: { rateBytesPerSecond: 0 } }))).code,
    ).to.equal('INVALID_ARGUMENT');
  });
});
