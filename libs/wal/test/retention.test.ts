import { expect } from 'chai';
import { SimulatedFileSystem } from '@strata/core';
import { Wal } from '../src/index.js';
import type { WalOptions } from '../src/index.js';
import { batchAt, readAll, rejectionOf } from './helpers.js';

async function filledLog(options: WalOptions): Promise<{ wal: Wal; fs: SimulatedFileSystem }> {
  const fs = (options.fileSystem as SimulatedFileSystem | undefined) ?? new SimulatedFileSystem();
  const wal = await Wal.open('/wal', { segmentSizeBytes: 4096, ...options, fileSystem: fs });
  for (let seqno = 1; seqno <= 200; seqno += 2)
    await wal.append(batchAt(seqno, 2, 1, '-'.repeat(80)));
  return { wal, fs };
}

describe('Wal: retention', () => {
  it('keep-all (the default) drops nothing, whatever recovery no longer needs', async () => {
    const { wal, fs } = await filledLog({});
    const before = wal.segments().length;
    const result = await wal.dropBefore(201);
    expect(result.droppedFiles).to.deep.equal([]);
    expect(wal.segments().length).to.equal(before);
    expect((await fs.readdir('/wal')).filter((name) => name.endsWith('.log')).length).to.equal(
      before,
    );
    await wal.close();
  });

  it('max-bytes drops the oldest whole segments, only below the needed seqno, never the active one', async () => {
    const { wal, fs } = await filledLog({ retention: { kind: 'max-bytes', maxBytes: 8192 } });
    const segments = wal.segments();
    expect(segments.length).to.be.greaterThan(4);
    // Recovery still needs everything from segment 2 on: only segment 0 and 1 may go.
    const neededFrom = segments[2]!.firstSeqno;
    const limited = await wal.dropBefore(neededFrom);
    expect(limited.droppedFiles).to.deep.equal([segments[0]!.path, segments[1]!.path]);
    expect(limited.firstSeqno).to.equal(neededFrom);
    const all = await wal.dropBefore(Number.MAX_SAFE_INTEGER);
    const remaining = wal.segments();
    expect(remaining.reduce((sum, segment) => sum + segment.sizeBytes, 0)).to.be.at.most(
      8192 + 4096,
    );
    expect(remaining[remaining.length - 1]!.active).to.equal(true);
    expect(all.droppedFiles.length).to.be.greaterThan(0);
    const files = (await fs.readdir('/wal')).sort();
    // Only the remaining segments and the sealed ones' sidecars: the dropped sidecars went too.
    expect(files).to.deep.equal(
      remaining
        .flatMap((segment) => {
          const name = segment.path.split('/').pop()!;
          return segment.active ? [name] : [name, name.replace(/\.log$/, '.idx')];
        })
        .sort(),
    );
    const error = await rejectionOf(readAll(wal, 1));
    expect(error.code).to.equal('HISTORY_TRUNCATED');
    expect(error.details).to.include({ firstSeqno: remaining[0]!.firstSeqno });
    expect((await readAll(wal, remaining[0]!.firstSeqno)).length).to.be.greaterThan(0);
    await wal.close();
    const reopened = await Wal.open('/wal', { fileSystem: fs });
    expect(reopened.firstSeqno).to.equal(remaining[0]!.firstSeqno);
    expect(reopened.nextSeqno).to.equal(201);
    await reopened.close();
  });

  it('max-age drops segments last written before the cut-off', async () => {
    let nowMs = 1_000_000;
    const fs = new SimulatedFileSystem();
    const wal = await Wal.open('/wal', {
      fileSystem: fs,
      segmentSizeBytes: 4096,
      retention: { kind: 'max-age', maxAgeMs: 60_000 },
      now: () => nowMs,
    });
    for (let seqno = 1; seqno <= 100; seqno += 2)
      await wal.append(batchAt(seqno, 2, 1, '-'.repeat(80)));
    const old = wal.segments().filter((segment) => !segment.active).length;
    nowMs += 120_000;
    for (let seqno = 101; seqno <= 200; seqno += 2)
      await wal.append(batchAt(seqno, 2, 1, '-'.repeat(80)));
    expect((await wal.dropBefore(Number.MAX_SAFE_INTEGER)).droppedFiles.length).to.be.at.least(old);
    const remaining = wal.segments();
    // Every segment kept was written to after the clock moved (the one active then included).
    for (const segment of remaining.slice(0, -1)) expect(segment.lastSeqno).to.be.greaterThan(100);
    expect(wal.nextSeqno).to.equal(201);
    await wal.close();
  });
});
