import { expect } from 'chai';
import fc from 'fast-check';
import { StrataError } from '@strata/core';
import { encodeRecord } from '../src/format/batch-codec.js';
import { isPayloadPrefix } from '../src/format/record-format.js';
import {
  LogOp,
  RECORD_HEADER_BYTES,
  decodeRecord,
  readRecordHeader,
  visitEntries,
} from '../src/index.js';
import {
  expectMalformed,
  framed,
  limits,
  outcomeOf,
  payloadArbitrary,
} from './codec-arbitraries.js';

/** The one-entry record epoch 1, first seqno 7, timestamp 5, chain 9, put k=v, as its payload. */
function samplePayload(): Buffer {
  const { bytes } = encodeRecord(
    {
      epoch: 1,
      firstSeqno: 7,
      entries: [{ op: LogOp.Put, key: Buffer.from('k'), value: Buffer.from('v') }],
    },
    5,
    9,
    limits,
  );
  return Buffer.from(bytes.subarray(RECORD_HEADER_BYTES));
}

/** What `fn` threw; fails the test if it returned. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  expect.fail('expected a throw');
}

const countEntries = { entry: () => undefined };

describe('record decoders: every refusal is a StrataError CORRUPTION', () => {
  it('visitEntries refuses what decodeRecord refuses (but a first seqno), at the same byte, never with another error', () => {
    let refused = 0;
    fc.assert(
      fc.property(payloadArbitrary, (payload) => {
        const record = framed(payload);
        const decoded = outcomeOf(() => decodeRecord(record));
        const visited = outcomeOf(() => visitEntries(record, countEntries));
        if ('error' in visited) {
          refused++;
          expectMalformed(visited.error, record);
          expect('error' in decoded, 'decodeRecord refuses too').to.equal(true);
          expect(visited.error.details['recordOffset']).to.equal(
            (decoded as { error: StrataError }).error.details['recordOffset'],
          );
        } else if ('value' in decoded) {
          expect(visited.value).to.equal(decoded.value.entries.length);
        } else {
          // The entries are well formed; only the batch's first seqno is missing, which the
          // visitor (walking entries only) does not read.
          expect(decoded.error.message).to.include('a batch needs entries and a first seqno');
        }
        // The header reader answers with undefined, never with an error.
        outcomeOf(() => readRecordHeader(record));
      }),
      { numRuns: 2000 },
    );
    expect(refused, 'refused').to.be.greaterThan(200);
  });

  it('records shorter than a frame, empty payloads and random bytes are CORRUPTION, not TypeError or RangeError', () => {
    for (const record of [
      Buffer.alloc(0),
      Buffer.alloc(3),
      Buffer.alloc(8),
      framed(Buffer.alloc(0)),
    ]) {
      for (const decode of [() => decodeRecord(record), () => visitEntries(record, countEntries)]) {
        const error = thrown(decode);
        expect(error).to.be.instanceOf(StrataError);
        expect((error as StrataError).code).to.equal('CORRUPTION');
      }
      expect(readRecordHeader(record)).to.equal(undefined);
    }
  });

  it('given the record source, the error names its file and offset and keeps where in the record', () => {
    const payload = samplePayload();
    // The entry's op (put, 1) becomes 9: an op no encoder writes.
    const entryAt = payload.indexOf(0x2a);
    payload[entryAt + 3] = 9;
    const record = framed(payload);
    const source = { file: '/wal/00000000000000000001.log', offset: 4096 };
    for (const decode of [
      () => decodeRecord(record, source),
      () => visitEntries(record, countEntries, source),
    ]) {
      const error = thrown(decode) as StrataError;
      expect(error.code).to.equal('CORRUPTION');
      expect(error.details).to.deep.equal({
        file: source.file,
        offset: 4096,
        recordOffset: RECORD_HEADER_BYTES + entryAt + 2,
      });
      expect(error.message).to.include(source.file).and.include('unknown op 9');
    }
    // Without a source: where in the record only.
    const bare = thrown(() => decodeRecord(record)) as StrataError;
    expect(bare.details).to.deep.equal({ recordOffset: RECORD_HEADER_BYTES + entryAt + 2 });
  });

  it('a varint cut by the end of the record is a truncated varint at its first byte', () => {
    // Epoch field with a value whose varint never ends.
    const record = framed(Buffer.from([0x08, 0x80, 0x80]));
    const error = thrown(() => decodeRecord(record)) as StrataError;
    expect(error.code).to.equal('CORRUPTION');
    expect(error.details).to.deep.equal({ recordOffset: RECORD_HEADER_BYTES + 1 });
    expect(error.message).to.include('truncated varint');
    // Core's reader refused it: its error is kept as the cause.
    expect((error.cause as StrataError).code).to.equal('CORRUPTION');
  });

  it('a varint longer than 8 bytes (a padded encoding no encoder writes) is refused everywhere alike', () => {
    // First seqno 7 written as 7 followed by eight padding bytes: 0x87 0x80 x7 0x00.
    const padded = Buffer.from([0x87, ...Array<number>(7).fill(0x80), 0x00]);
    const payload = samplePayload();
    const seqnoAt = payload.indexOf(0x10);
    expect(payload[seqnoAt + 1]).to.equal(7);
    const stretched = Buffer.concat([
      payload.subarray(0, seqnoAt + 1),
      padded,
      payload.subarray(seqnoAt + 2),
    ]);
    const record = framed(stretched);
    const error = thrown(() => decodeRecord(record)) as StrataError;
    expect(error.code).to.equal('CORRUPTION');
    expect(error.message).to.include('varint too long');
    expect(readRecordHeader(record)).to.equal(undefined);
    expect(isPayloadPrefix(stretched, 0, stretched.length, stretched.length)).to.equal(false);
    // Padded to 8 bytes it is still a safe integer's varint: read as 7.
    const eight = Buffer.concat([
      payload.subarray(0, seqnoAt + 1),
      Buffer.from([0x87, ...Array<number>(6).fill(0x80), 0x00]),
      payload.subarray(seqnoAt + 2),
    ]);
    expect(decodeRecord(framed(eight)).firstSeqno).to.equal(7);
    expect(readRecordHeader(framed(eight))?.firstSeqno).to.equal(7);
  });

  it('a torn tail may cut a varint after at most 7 continuation bytes (core reads 8 at most)', () => {
    const seven = Buffer.from([0x10, ...Array<number>(7).fill(0x80)]);
    const eight = Buffer.from([0x10, ...Array<number>(8).fill(0x80)]);
    expect(isPayloadPrefix(seven, 0, seven.length, 20)).to.equal(true);
    expect(isPayloadPrefix(eight, 0, eight.length, 20)).to.equal(false);
  });
});
