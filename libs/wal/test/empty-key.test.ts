import { expect } from 'chai';
import { createTempDirectory } from '@strata/testing';
import {
  decodeRecord,
  decodeRecordWithProtobufjs,
  encodeRecord,
  encodeRecordWithProtobufjs,
  validateBatch,
  validateRecordEntries,
} from '../src/format/batch-codec.js';
import { LogOp, Wal, visitEntries } from '../src/index.js';
import type { LogEntry } from '../src/index.js';
import { limits } from './codec-arbitraries.js';

/*
 * The empty key (0 bytes) is an ordinary key: a put, delete or range delete may carry it, and the
 * epoch start, which has no key at all, is told apart by its op, never by its key.
 */

const EMPTY = Buffer.alloc(0);
const b = (text: string): Buffer => Buffer.from(text);

const entries: LogEntry[] = [
  { op: LogOp.Put, key: EMPTY, value: b('v') },
  { op: LogOp.Put, key: EMPTY, value: EMPTY },
  { op: LogOp.Put, key: EMPTY, value: b('w'), expiresAtMs: 1_700_000_000_000 },
  { op: LogOp.Delete, key: EMPTY, value: EMPTY },
  { op: LogOp.Delete, key: EMPTY, value: EMPTY, expired: true },
  { op: LogOp.DeleteRange, key: EMPTY, value: b('m') },
  { op: LogOp.EpochStart, key: EMPTY, value: EMPTY },
];

const shape = (entry: LogEntry): unknown[] => [
  entry.op,
  Buffer.from(entry.key).toString('hex'),
  Buffer.from(entry.value).toString('hex'),
  Number(entry.expiresAtMs ?? 0),
  entry.expired ?? false,
];

describe('log codec: the empty key', () => {
  it('puts, deletes and range deletes of the empty key pass validation, the fast and the reference paths agree on the bytes and decode them back with their ops', () => {
    const batch = { epoch: 2, firstSeqno: 10, timestampMs: 5, entries };
    validateBatch(batch, limits);
    const fast = encodeRecord(batch, 5, 3, limits);
    const reference = encodeRecordWithProtobufjs(batch, 5, 3, limits);
    expect(fast.bytes.toString('hex')).to.equal(reference.bytes.toString('hex'));
    expect(validateRecordEntries(fast.bytes, limits)).to.equal(1);
    const expected = entries.map(shape);
    expect(decodeRecord(fast.bytes).entries.map(shape)).to.deep.equal(expected);
    expect(decodeRecordWithProtobufjs(fast.bytes).entries.map(shape)).to.deep.equal(expected);
    const visited: unknown[][] = [];
    visitEntries(fast.bytes, {
      entry: (op, _index, record, keyStart, keyLength, valueStart, valueLength, at, expired) => {
        visited.push([
          op,
          record.toString('hex', keyStart, keyStart + keyLength),
          record.toString('hex', valueStart, valueStart + valueLength),
          at,
          expired,
        ]);
      },
    });
    expect(visited).to.deep.equal(expected);
  });

  it('an epoch start stays told apart by its op: with a key it is refused, and an empty-key put is never one', () => {
    const withKey = { op: LogOp.EpochStart, key: b('k'), value: EMPTY };
    expect(() => validateBatch({ epoch: 1, firstSeqno: 1, entries: [withKey] }, limits))
      .to.throw(/epoch start/)
      .with.property('code', 'INVALID_ARGUMENT');
    const record = encodeRecordWithProtobufjs(
      { epoch: 1, firstSeqno: 1, entries: [withKey] },
      1,
      1,
      limits,
    ).bytes;
    expect(() => decodeRecord(record))
      .to.throw(/epoch start with a key/)
      .with.property('code', 'CORRUPTION');
    const decoded = decodeRecord(
      encodeRecord({ epoch: 1, firstSeqno: 1, entries: [entries[0]!] }, 1, 1, limits).bytes,
    );
    expect(decoded.entries[0]!.op).to.equal(LogOp.Put);
    expect(decoded.entries[0]!.key.length).to.equal(0);
  });

  it('a range delete must still end after its start: [empty, empty) is refused', () => {
    const entry = { op: LogOp.DeleteRange, key: EMPTY, value: EMPTY };
    expect(() => validateBatch({ epoch: 1, firstSeqno: 1, entries: [entry] }, limits))
      .to.throw(/range delete/)
      .with.property('code', 'INVALID_ARGUMENT');
  });

  it('a log holding empty keys reads back the same after close and reopen', async () => {
    const dir = await createTempDirectory('wal-empty-key-');
    try {
      const wal = await Wal.open(dir.path);
      await wal.append({ epoch: 1, firstSeqno: 1, entries });
      await wal.append({ epoch: 1, firstSeqno: 8, entries: [entries[0]!] });
      await wal.close();
      const reopened = await Wal.open(dir.path);
      const read: unknown[][] = [];
      for await (const batch of reopened.read({})) read.push(...batch.entries.map(shape));
      expect(read).to.deep.equal([...entries, entries[0]!].map(shape));
      await reopened.close();
    } finally {
      await dir.remove();
    }
  });
});
