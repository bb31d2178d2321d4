import { expect } from 'chai';
import { basename } from 'node:path';
import { SimulatedFileSystem, seededRandom } from '@strata/core';
import { Wal } from '../src/index.js';
import { batchAt, readAll, rejectionOf } from './helpers.js';

const OPTIONS = { segmentSizeBytes: 4096 };

/** A log of 300 entries in 3-entry records over many 4 KiB segments. */
async function logWithSegments(fs: SimulatedFileSystem): Promise<Wal> {
  const wal = await Wal.open('/wal', { fileSystem: fs, ...OPTIONS });
  for (let seqno = 1; seqno <= 300; seqno += 3)
    await wal.append(batchAt(seqno, 3, 1, '-'.repeat(60)));
  return wal;
}

/** Links `path` into /other (as a checkpoint does) and returns the link's path. */
async function linkElsewhere(fs: SimulatedFileSystem, path: string): Promise<string> {
  await fs.mkdir('/other');
  const link = `/other/${basename(path)}`;
  await fs.link(path, link);
  await fs.syncDirectory('/other');
  return link;
}

describe('Wal: segments shared by hard links are copied, never changed in place', () => {
  it('a cut back into a shared sealed segment copies it up to the cut; the link keeps every byte', async () => {
    const fs = new SimulatedFileSystem();
    const wal = await logWithSegments(fs);
    const sealed = wal.segments().filter((segment) => !segment.active);
    const shared = sealed[2]!;
    const link = await linkElsewhere(fs, shared.path);
    const before = fs.peek(link);
    expect((await fs.stat(shared.path)).linkCount).to.equal(2);

    const cutAfter = shared.firstSeqno + 2; // a record boundary: records hold 3 entries
    await wal.truncateAfter(cutAfter);
    expect(fs.peek(link).equals(before)).to.equal(true);
    expect((await fs.stat(shared.path)).linkCount).to.equal(1);
    expect((await fs.stat(link)).linkCount).to.equal(1);
    expect(wal.lastSeqno).to.equal(cutAfter);
    // The log goes on from the cut in its own copy of the segment.
    await wal.append(batchAt(cutAfter + 1, 1, 2));
    expect(fs.peek(link).equals(before)).to.equal(true);
    const read = await readAll(wal, cutAfter - 2);
    expect(read.map((batch) => batch.firstSeqno)).to.deep.equal([cutAfter - 2, cutAfter + 1]);
    expect((await wal.verify()).lastSeqno).to.equal(cutAfter + 1);
    await wal.close();
  });

  it('a cut back to the start of a segment copies the shared segment before it, which becomes the one appended to', async () => {
    const fs = new SimulatedFileSystem();
    const wal = await logWithSegments(fs);
    const sealed = wal.segments().filter((segment) => !segment.active);
    const shared = sealed[1]!;
    const link = await linkElsewhere(fs, shared.path);
    const before = fs.peek(link);
    await wal.truncateAfter(sealed[2]!.firstSeqno - 1);
    await wal.append(batchAt(sealed[2]!.firstSeqno, 1, 2));
    expect(fs.peek(link).equals(before)).to.equal(true);
    expect((await wal.verify()).lastSeqno).to.equal(sealed[2]!.firstSeqno);
    await wal.close();
  });

  it('opening a log whose last segment is shared copies it before appending, durably', async () => {
    const fs = new SimulatedFileSystem();
    const wal = await logWithSegments(fs);
    await wal.close();
    const last = wal.segments().pop()!;
    const link = await linkElsewhere(fs, last.path);
    const before = fs.peek(link);

    const reopened = await Wal.open('/wal', { fileSystem: fs, ...OPTIONS, sync: 'always' });
    expect((await fs.stat(last.path)).linkCount).to.equal(1);
    await reopened.append(batchAt(301, 1, 2));
    expect(fs.peek(link).equals(before)).to.equal(true);
    // A power loss right after: the log keeps its acknowledged write, the link its bytes.
    const rebooted = fs.crash({ random: seededRandom(7) });
    expect(rebooted.peek(link).equals(before)).to.equal(true);
    const recovered = await Wal.open('/wal', { fileSystem: rebooted, ...OPTIONS });
    expect(recovered.lastSeqno).to.equal(301);
    expect((await recovered.verify()).lastSeqno).to.equal(301);
    await recovered.close();
  });

  it('a copy that fails leaves no partial file, and a copy a crash cut short is removed at open', async () => {
    const fs = new SimulatedFileSystem();
    const wal = await logWithSegments(fs);
    await wal.close();
    const last = wal.segments().pop()!;
    await linkElsewhere(fs, last.path);
    const partial = `/wal/.${basename(last.path)}.private.tmp`;
    fs.setFaultInjector((operation, path) =>
      operation === 'datasync' && path === partial ? 'ENOSPC' : undefined,
    );
    const error = await rejectionOf(Wal.open('/wal', { fileSystem: fs, ...OPTIONS }));
    expect(error.code).to.equal('NO_SPACE');
    expect(await fs.exists(partial)).to.equal(false);
    expect((await fs.stat(last.path)).linkCount).to.equal(2);
    fs.setFaultInjector(undefined);

    // What a power loss in the middle of a copy leaves: the dot file, next to the shared segment.
    const handle = await fs.open(partial, 'create-exclusive');
    await handle.writev([Buffer.alloc(100, 1)], 0);
    await handle.close();
    const reopened = await Wal.open('/wal', { fileSystem: fs, ...OPTIONS });
    expect(await fs.exists(partial)).to.equal(false);
    expect(reopened.lastSeqno).to.equal(300);
    await reopened.close();
  });

  it('point-in-time recovery cuts a damaged shared segment in its own copy; the link keeps every byte', async () => {
    const fs = new SimulatedFileSystem();
    const wal = await logWithSegments(fs);
    const shared = wal.segments().filter((segment) => !segment.active)[2]!;
    await wal.close();
    const link = await linkElsewhere(fs, shared.path);
    // Damage on the medium: both names see it, since they are one file.
    fs.corruptByte(shared.path, Math.floor(shared.sizeBytes / 2));
    const before = fs.peek(link);

    const recovered = await Wal.open('/wal', {
      fileSystem: fs,
      ...OPTIONS,
      recovery: 'point-in-time',
    });
    const cut = recovered.recovery.pointInTime!;
    expect(cut.file).to.equal(shared.path);
    expect(fs.peek(shared.path).length).to.equal(cut.offset);
    expect(fs.peek(link).equals(before)).to.equal(true);
    expect((await fs.stat(link)).linkCount).to.equal(1);
    expect((await recovered.verify()).lastSeqno).to.equal(cut.droppedFromSeqno - 1);
    await recovered.close();
  });
});
