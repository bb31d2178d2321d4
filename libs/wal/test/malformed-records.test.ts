import { expect } from 'chai';
import { SimulatedFileSystem } from '@strata/core';
import { encodeRecord } from '../src/format/batch-codec.js';
import { CLEAN_CLOSE_FILE } from '../src/segments/clean-close-marker.js';
import { LogOp, RECORD_HEADER_BYTES, Wal } from '../src/index.js';
import { segmentFileName } from '../src/segments/segment-file.js';
import type { LogBatchInput } from '../src/index.js';
import { framed, limits } from './codec-arbitraries.js';
import { batchAt, readAll, rejectionOf } from './helpers.js';

/**
 * A framed record of `batch` chained from `chain` whose first entry's op is `op`, with a valid
 * length and checksum: bytes that pass framing and CRC but that no encoder writes.
 */
function recordWithOp(batch: LogBatchInput, chain: number, op: number): Buffer {
  const { bytes } = encodeRecord(batch, batch.timestampMs ?? 0, chain, limits);
  const payload = Buffer.from(bytes.subarray(RECORD_HEADER_BYTES));
  // An entry starts 0x2a <length> 0x08 <op>: find the first entry's op byte.
  const entryAt = payload.indexOf(0x2a);
  expect(payload[entryAt + 2]).to.equal(0x08);
  payload[entryAt + 3] = op;
  return framed(payload);
}

describe('Wal: records with a valid checksum and malformed content', () => {
  it('a replicated record whose entry is malformed is refused with CORRUPTION, nothing written', async () => {
    const fs = new SimulatedFileSystem();
    const wal = await Wal.open('/wal', { fileSystem: fs });
    await wal.append(batchAt(1));
    const sizeBefore = fs.peek(`/wal/${segmentFileName(1)}`).length;
    const error = await rejectionOf(wal.appendRecord(recordWithOp(batchAt(2), wal.nextChain, 9)));
    expect(error.code).to.equal('CORRUPTION');
    expect(error.message).to.match(
      /replicated record has invalid content: malformed record at byte \d+: unknown op 9/,
    );
    // An entry rule keeps its own code.
    const deleteWithValue = await rejectionOf(
      wal.appendRecord(
        encodeRecord(
          {
            epoch: 1,
            firstSeqno: 2,
            entries: [{ op: LogOp.Delete, key: Buffer.from('k'), value: Buffer.from('v') }],
          },
          0,
          wal.nextChain,
          limits,
        ).bytes,
      ),
    );
    expect(deleteWithValue.code).to.equal('INVALID_ARGUMENT');
    expect(wal.nextSeqno).to.equal(2);
    expect(fs.peek(`/wal/${segmentFileName(1)}`).length).to.equal(sizeBefore);
    await wal.close();
  });

  it('a stored record whose entry is malformed is CORRUPTION naming its file and offset when read', async () => {
    const fs = new SimulatedFileSystem();
    const wal = await Wal.open('/wal', { fileSystem: fs });
    await wal.append(batchAt(1));
    const bad = recordWithOp(batchAt(2), wal.nextChain, 9);
    await wal.close();
    const path = `/wal/${segmentFileName(1)}`;
    const offset = fs.peek(path).length;
    const handle = await fs.open(path, 'read-write');
    await handle.writev([bad], offset);
    await handle.datasync();
    await handle.close();
    await fs.unlink(`/wal/${CLEAN_CLOSE_FILE}`);

    // Framing, checksum, order and chain are fine: open accepts it and records read raw.
    const reopened = await Wal.open('/wal', { fileSystem: fs });
    expect(reopened.nextSeqno).to.equal(3);
    const raw = [];
    for await (const record of reopened.readRecords()) raw.push(record.offset);
    expect(raw).to.deep.equal([0, offset]);
    const error = await rejectionOf(readAll(reopened));
    expect(error.code).to.equal('CORRUPTION');
    expect(error.details).to.include({ file: path, offset, seqno: 2 });
    expect(error.message).to.include('unknown op 9');
    await reopened.close();
  });
});
