import { expect } from 'chai';
import fc from 'fast-check';
import { crc32c } from '@strata/core';
import {
  decodeRecord,
  decodeRecordWithProtobufjs,
  encodeRecord,
  encodeRecordWithProtobufjs,
  validateRecordEntries,
  validateBatch,
} from '../src/format/batch-codec.js';
import {
  RECORD_HEADER_BYTES,
  isPayloadPrefix,
  newRecordHeader,
  scanPayload,
} from '../src/format/record-format.js';
import { LogOp, visitEntries } from '../src/index.js';
import type { LogEntry } from '../src/index.js';
import {
  batchArbitrary,
  expectMalformed,
  framed,
  limits,
  outcomeOf,
  payloadArbitrary,
  plainBatch,
} from './codec-arbitraries.js';
import { strata } from '../src/generated/log.js';

describe('record codec (property tests)', () => {
  it('encode then decode returns the same batch, and the frame header is right', () => {
    fc.assert(
      fc.property(batchArbitrary, fc.integer({ min: 0, max: 0xffffffff }), (batch, chain) => {
        validateBatch(batch, limits);
        const { bytes, checksum } = encodeRecord(batch, batch.timestampMs!, chain, limits);
        expect(bytes.readUInt32LE(0)).to.equal(bytes.length - RECORD_HEADER_BYTES);
        expect(bytes.readUInt32LE(4)).to.equal(checksum);
        expect(crc32c(bytes.subarray(RECORD_HEADER_BYTES))).to.equal(checksum);
        const decoded = decodeRecord(bytes);
        expect(decoded.epoch).to.equal(batch.epoch);
        expect(decoded.firstSeqno).to.equal(batch.firstSeqno);
        expect(decoded.lastSeqno).to.equal(batch.firstSeqno + batch.entries.length - 1);
        expect(decoded.timestampMs).to.equal(batch.timestampMs);
        expect(decoded.chain).to.equal(chain);
        const shape = (entry: LogEntry): unknown[] => [
          entry.op,
          Buffer.from(entry.key).toString('hex'),
          Buffer.from(entry.value).toString('hex'),
          entry.expiresAtMs ?? 0,
          entry.expired ?? false,
        ];
        expect(decoded.entries.map(shape)).to.deep.equal(batch.entries.map(shape));
        // The protobufjs-generated codec (the schema's reference) writes and reads the same bytes.
        const reference = encodeRecordWithProtobufjs(batch, batch.timestampMs!, chain, limits);
        expect(reference.bytes.equals(bytes)).to.equal(true);
        const referenceEntries = decodeRecordWithProtobufjs(bytes).entries.map((entry) => [
          entry.op,
          Buffer.from(entry.key).toString('hex'),
          Buffer.from(entry.value).toString('hex'),
          Number(entry.expiresAtMs ?? 0),
          entry.expired ?? false,
        ]);
        expect(referenceEntries).to.deep.equal(batch.entries.map(shape));
      }),
      { numRuns: 500 },
    );
  });

  it('the zero-copy header scan agrees with the protobufjs decoder', () => {
    fc.assert(
      fc.property(batchArbitrary, fc.integer({ min: 0, max: 0xffffffff }), (batch, chain) => {
        const { bytes } = encodeRecord(batch, batch.timestampMs!, chain, limits);
        const header = newRecordHeader();
        expect(scanPayload(bytes, RECORD_HEADER_BYTES, bytes.length, header)).to.equal(true);
        const reference = strata.log.LogBatch.decode(bytes.subarray(RECORD_HEADER_BYTES));
        expect(header).to.deep.equal({
          epoch: Number(reference.epoch),
          firstSeqno: Number(reference.firstSeqno),
          timestampMs: Number(reference.timestampMs),
          chain: reference.chain >>> 0,
          entryCount: reference.entries.length,
        });
      }),
      { numRuns: 300 },
    );
  });

  it('the header scan never throws; on mutated and random payloads it accepts every record the decoder decodes, with the same header', () => {
    let accepted = 0;
    let rejected = 0;
    fc.assert(
      fc.property(payloadArbitrary, (payload) => {
        const header = newRecordHeader();
        const scanned = scanPayload(payload, 0, payload.length, header);
        if (scanned) accepted++;
        else rejected++;
        const decoded = outcomeOf(() => decodeRecord(framed(payload)));
        if ('error' in decoded) return;
        expect(scanned).to.equal(true);
        expect(header).to.deep.equal({
          epoch: decoded.value.epoch,
          firstSeqno: decoded.value.firstSeqno,
          timestampMs: decoded.value.timestampMs,
          chain: decoded.value.chain,
          entryCount: decoded.value.entries.length,
        });
      }),
      { numRuns: 3000 },
    );
    expect(accepted, 'accepted').to.be.greaterThan(300);
    expect(rejected, 'refused').to.be.greaterThan(300);
  });
});

describe('payload prefix check (torn appends)', () => {
  it('accepts every prefix of every encoded payload, and the whole payload', () => {
    fc.assert(
      fc.property(batchArbitrary, fc.integer({ min: 0, max: 0xffffffff }), (batch, chain) => {
        const { bytes } = encodeRecord(batch, batch.timestampMs!, chain, limits);
        for (let end = RECORD_HEADER_BYTES; end < bytes.length; end++) {
          expect(
            isPayloadPrefix(bytes, RECORD_HEADER_BYTES, end, bytes.length),
            `cut at ${end}`,
          ).to.equal(true);
        }
        expect(isPayloadPrefix(bytes, RECORD_HEADER_BYTES, bytes.length, bytes.length)).to.equal(
          true,
        );
      }),
      { numRuns: 200 },
    );
  });

  it('refuses fields that run past the declared length and bytes no encoder writes', () => {
    const { bytes } = encodeRecord(
      {
        epoch: 1,
        firstSeqno: 7,
        entries: [{ op: LogOp.Put, key: Buffer.from('k'), value: Buffer.alloc(40, 1) }],
      },
      5,
      9,
      limits,
    );
    // The declared payload is shorter than the entry field that the prefix starts.
    expect(
      isPayloadPrefix(bytes, RECORD_HEADER_BYTES, bytes.length - 10, bytes.length - 20),
    ).to.equal(false);
    // Wire type 3 (a group) and a chain written as a varint are not LogBatch fields.
    expect(isPayloadPrefix(Buffer.from([0x0b, 0x01]), 0, 2, 10)).to.equal(false);
    expect(isPayloadPrefix(Buffer.from([0x20, 0x01]), 0, 2, 10)).to.equal(false);
    // A varint cut by the end is a prefix; one that is complete but too long is not.
    expect(isPayloadPrefix(Buffer.from([0x10, 0x80, 0x80]), 0, 3, 10)).to.equal(true);
    expect(
      isPayloadPrefix(Buffer.concat([Buffer.from([0x10]), Buffer.alloc(10, 0x80)]), 0, 11, 20),
    ).to.equal(false);
  });
});

describe('fast encoder', () => {
  it('writes exactly the bytes the protobufjs-generated encoder writes', () => {
    fc.assert(
      fc.property(batchArbitrary, fc.integer({ min: 0, max: 0xffffffff }), (batch, chain) => {
        const fast = encodeRecord(batch, batch.timestampMs!, chain, limits);
        const reference = encodeRecordWithProtobufjs(batch, batch.timestampMs!, chain, limits);
        expect(fast.bytes.toString('hex')).to.equal(reference.bytes.toString('hex'));
        expect(fast.checksum).to.equal(reference.checksum);
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses a batch above the record limit before allocating it', () => {
    const batch = {
      epoch: 1,
      firstSeqno: 1,
      entries: [{ op: LogOp.Put, key: Buffer.from('k'), value: Buffer.alloc(200) }],
    };
    const small = { ...limits, maxRecordBytes: 200 };
    expect(() => encodeRecord(batch, 1, 1, small))
      .to.throw()
      .with.property('code', 'BATCH_TOO_LARGE');
  });
});

describe('fast decoder', () => {
  it('decodes exactly what the protobufjs-generated decoder decodes', () => {
    fc.assert(
      fc.property(batchArbitrary, fc.integer({ min: 0, max: 0xffffffff }), (batch, chain) => {
        const { bytes } = encodeRecord(batch, batch.timestampMs!, chain, limits);
        const fast = decodeRecord(bytes);
        const reference = decodeRecordWithProtobufjs(bytes);
        const plain = (decoded: typeof fast) => ({
          ...decoded,
          entries: decoded.entries.map((entry) => [
            entry.op,
            Buffer.from(entry.key).toString('hex'),
            Buffer.from(entry.value).toString('hex'),
          ]),
        });
        expect(plain(fast)).to.deep.equal(plain(reference));
      }),
      { numRuns: 500 },
    );
  });

  it('on mutated and random payloads it decodes what protobufjs decodes or throws CORRUPTION, never anything else', () => {
    let accepted = 0;
    let rejected = 0;
    fc.assert(
      fc.property(payloadArbitrary, (payload) => {
        const record = framed(payload);
        const fast = outcomeOf(() => decodeRecord(record));
        if ('error' in fast) {
          expectMalformed(fast.error, record);
          rejected++;
          return;
        }
        accepted++;
        expect(plainBatch(fast.value)).to.deep.equal(
          plainBatch(decodeRecordWithProtobufjs(record)),
        );
      }),
      { numRuns: 3000 },
    );
    // Both outcomes must really occur, or the property says nothing.
    expect(accepted, 'decoded').to.be.greaterThan(300);
    expect(rejected, 'refused').to.be.greaterThan(300);
  });
});

/** The entries visitEntries reports, as [op, key hex, value hex] with their indexes checked. */
function visited(record: Buffer): [number, string, string][] {
  const out: [number, string, string][] = [];
  const count = visitEntries(record, {
    entry(op, index, bytes, keyStart, keyLength, valueStart, valueLength) {
      expect(index).to.equal(out.length);
      out.push([
        op,
        bytes.toString('hex', keyStart, keyStart + keyLength),
        bytes.toString('hex', valueStart, valueStart + valueLength),
      ]);
    },
  });
  expect(count).to.equal(out.length);
  return out;
}

function decodedEntries(record: Buffer): [number, string, string][] {
  return decodeRecord(record).entries.map((entry) => [
    entry.op,
    Buffer.from(entry.key).toString('hex'),
    Buffer.from(entry.value).toString('hex'),
  ]);
}

describe('entry visitor (replay without entry objects)', () => {
  it('visits exactly the entries the decoder decodes, in order, as ranges of the record', () => {
    fc.assert(
      fc.property(batchArbitrary, fc.integer({ min: 0, max: 0xffffffff }), (batch, chain) => {
        const { bytes } = encodeRecord(batch, batch.timestampMs!, chain, limits);
        expect(visited(bytes)).to.deep.equal(decodedEntries(bytes));
      }),
      { numRuns: 500 },
    );
  });

  it('on mutated and random payloads it agrees with the decoder or throws CORRUPTION, as the in-place check does', () => {
    let accepted = 0;
    let rejected = 0;
    fc.assert(
      fc.property(payloadArbitrary, (payload) => {
        const record = framed(payload);
        const decoded = outcomeOf(() => decodedEntries(record));
        const walked = outcomeOf(() => visited(record));
        const checked = outcomeOf(() => validateRecordEntries(record, limits));
        if ('error' in walked) {
          expectMalformed(walked.error, record);
          rejected++;
        } else {
          accepted++;
        }
        if ('value' in decoded) expect(walked).to.deep.equal(decoded);
        // The in-place check walks the same structure, checking entry rules as it goes: it
        // refuses whatever the visitor refuses (an entry rule may stop it first) and otherwise
        // refuses only with an entry rule's own code.
        const ruleCodes = ['INVALID_ARGUMENT', 'KEY_TOO_LARGE', 'VALUE_TOO_LARGE'];
        if ('error' in checked)
          expect(checked.error.code).to.be.oneOf(
            'error' in walked ? [...ruleCodes, 'CORRUPTION'] : ruleCodes,
          );
        else expect(walked).to.not.have.property('error');
      }),
      { numRuns: 3000 },
    );
    expect(accepted, 'walked').to.be.greaterThan(300);
    expect(rejected, 'refused').to.be.greaterThan(300);
  });

  it('refuses an entry with an unknown op', () => {
    const { bytes } = encodeRecord(
      {
        epoch: 1,
        firstSeqno: 7,
        entries: [{ op: LogOp.Put, key: Buffer.from('k'), value: Buffer.alloc(0) }],
      },
      5,
      9,
      limits,
    );
    const opAt = bytes.indexOf(Buffer.from([0x08, LogOp.Put]), 8 + 8);
    const unknownOp = Buffer.from(bytes);
    unknownOp[opAt + 1] = 9;
    expect(() => visited(unknownOp))
      .to.throw(/unknown op 9/)
      .with.property('code', 'CORRUPTION');
    expect(() => decodeRecord(unknownOp))
      .to.throw(/unknown op 9/)
      .with.property('code', 'CORRUPTION');
  });
});

describe('in-place entry validation (replicated records)', () => {
  it('refuses exactly what validateBatch refuses, with the same code', () => {
    const codeOf = (fn: () => void): string | undefined => {
      try {
        fn();
        return undefined;
      } catch (error) {
        return (error as { code?: string }).code ?? 'plain';
      }
    };
    fc.assert(
      fc.property(
        batchArbitrary,
        fc.integer({ min: 1, max: 80 }),
        fc.integer({ min: 0, max: 320 }),
        (batch, maxKeyBytes, maxValueBytes) => {
          // Encoded under generous limits, checked under tight ones.
          const { bytes } = encodeRecord(batch, batch.timestampMs!, 7, limits);
          const tight = { ...limits, maxKeyBytes, maxValueBytes };
          expect(codeOf(() => validateRecordEntries(bytes, tight))).to.equal(
            codeOf(() => validateBatch(batch, tight)),
          );
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('refuses a delete with a value and a range delete whose end is not after its start', () => {
    const record = (entries: LogEntry[]): Buffer =>
      encodeRecordWithProtobufjs({ epoch: 1, firstSeqno: 1, entries }, 1, 1, limits).bytes;
    const b = (text: string): Buffer => Buffer.from(text);
    expect(() =>
      validateRecordEntries(record([{ op: LogOp.Delete, key: b('k'), value: b('v') }]), limits),
    )
      .to.throw()
      .with.property('code', 'INVALID_ARGUMENT');
    for (const end of ['a', 'b']) {
      expect(() =>
        validateRecordEntries(
          record([{ op: LogOp.DeleteRange, key: b('b'), value: b(end) }]),
          limits,
        ),
      )
        .to.throw(/range delete/)
        .with.property('code', 'INVALID_ARGUMENT');
    }
    expect(() =>
      validateRecordEntries(
        record([{ op: LogOp.DeleteRange, key: b('b'), value: b('c') }]),
        limits,
      ),
    ).to.not.throw();
  });
});

describe('record codec: time to live fields', () => {
  const b = (text: string): Buffer => Buffer.from(text);
  const record = (entries: LogEntry[]): Buffer =>
    encodeRecordWithProtobufjs({ epoch: 1, firstSeqno: 1, entries }, 1, 1, limits).bytes;

  it('a deadline only on a put and the expired marker only on a delete: refused before writing, CORRUPTION when read', () => {
    const misplaced: LogEntry[] = [
      { op: LogOp.Delete, key: b('k'), value: Buffer.alloc(0), expiresAtMs: 5 },
      { op: LogOp.DeleteRange, key: b('a'), value: b('b'), expiresAtMs: 5 },
      { op: LogOp.Put, key: b('k'), value: b('v'), expired: true },
    ];
    for (const entry of misplaced) {
      const batch = { epoch: 1, firstSeqno: 1, entries: [entry] };
      expect(() => validateBatch(batch, limits))
        .to.throw()
        .with.property('code', 'INVALID_ARGUMENT');
      expect(() => decodeRecord(record([entry])))
        .to.throw(/only/)
        .with.property('code', 'CORRUPTION');
      expect(() => visitEntries(record([entry]), { entry: () => undefined }))
        .to.throw()
        .with.property('code', 'CORRUPTION');
    }
    for (const expiresAtMs of [-1, 1.5, 2 ** 60]) {
      const batch = {
        epoch: 1,
        firstSeqno: 1,
        entries: [{ op: LogOp.Put, key: b('k'), value: b('v'), expiresAtMs }],
      };
      expect(() => validateBatch(batch, limits))
        .to.throw(/expiresAtMs/)
        .with.property('code', 'INVALID_ARGUMENT');
    }
  });

  it('hands the deadline and the marker to entry visitors', () => {
    const seen: [number, number, boolean][] = [];
    visitEntries(
      record([
        { op: LogOp.Put, key: b('a'), value: b('1'), expiresAtMs: 1_700_000_000_123 },
        { op: LogOp.Put, key: b('b'), value: b('2') },
        { op: LogOp.Delete, key: b('a'), value: Buffer.alloc(0), expired: true },
      ]),
      {
        entry: (op, _index, _record, _ks, _kl, _vs, _vl, expiresAtMs, expired) => {
          seen.push([op, expiresAtMs, expired]);
        },
      },
    );
    expect(seen).to.deep.equal([
      [LogOp.Put, 1_700_000_000_123, false],
      [LogOp.Put, 0, false],
      [LogOp.Delete, 0, true],
    ]);
  });
});

describe('fast decoder: non-minimal encodings', () => {
  it('decodes a field whose tag is written as a two-byte varint, as protobuf allows', () => {
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
    // Re-encode the entry's tag 0x2a as 0xaa 0x00 (same field, wire type 2).
    const entryAt = bytes.indexOf(0x2a, 8);
    const stretched = Buffer.concat([
      bytes.subarray(0, entryAt),
      Buffer.from([0xaa, 0x00]),
      bytes.subarray(entryAt + 1),
    ]);
    expect(
      decodeRecord(stretched).entries.map((entry) => Buffer.from(entry.key).toString()),
    ).to.deep.equal(['k']);
    expect(decodeRecordWithProtobufjs(stretched).entries.length).to.equal(1);
  });
});
