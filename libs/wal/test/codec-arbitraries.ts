import { expect } from 'chai';
import fc from 'fast-check';
import { StrataError, crc32c } from '@strata/core';
import { encodeRecord } from '../src/format/batch-codec.js';
import { RECORD_HEADER_BYTES } from '../src/format/record-format.js';
import { LogOp } from '../src/index.js';
import type { LogBatch, LogBatchInput, LogEntry } from '../src/index.js';

/*
 * Arbitraries and helpers shared by the codec property tests: valid batches, payloads mutated
 * from them (and random bytes), and the outcome checks every decoder must satisfy.
 */

/** Generous limits for encoding arbitrary batches. */
export const limits = { maxKeyBytes: 65536, maxValueBytes: 1 << 20, maxRecordBytes: 1 << 26 };

/**
 * A key: binary, 0 to 64 bytes, the empty key (an ordinary key, the smallest) often enough that
 * every run meets it in every op.
 */
export const keyArbitrary: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 1, arbitrary: fc.constant(new Uint8Array(0)) },
  { weight: 5, arbitrary: fc.uint8Array({ maxLength: 64 }) },
);

/**
 * Any valid entry: puts (some with a deadline), deletes (some marked expired), range deletes (some
 * from the empty key) with binary keys and values, and epoch starts (no key, no value: told apart
 * from an empty-key entry by their op alone).
 */
export const entryArbitrary: fc.Arbitrary<LogEntry> = fc.oneof(
  fc.record({
    op: fc.constant(LogOp.Put),
    key: keyArbitrary,
    value: fc.uint8Array({ maxLength: 300 }),
  }),
  fc.record({
    op: fc.constant(LogOp.Put),
    key: keyArbitrary,
    value: fc.uint8Array({ maxLength: 300 }),
    expiresAtMs: fc.oneof(
      fc.integer({ min: 1, max: 2 ** 42 }),
      fc.constant(Number.MAX_SAFE_INTEGER),
    ),
  }),
  fc.record({
    op: fc.constant(LogOp.Delete),
    key: keyArbitrary,
    value: fc.constant(new Uint8Array(0)),
  }),
  fc.record({
    op: fc.constant(LogOp.Delete),
    key: keyArbitrary,
    value: fc.constant(new Uint8Array(0)),
    expired: fc.constant(true),
  }),
  fc
    .tuple(
      fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ minLength: 1, maxLength: 16 })),
      fc.uint8Array({ minLength: 1, maxLength: 16 }),
    )
    .filter(([a, b]) => Buffer.compare(a, b) < 0)
    .map(([key, value]) => ({ op: LogOp.DeleteRange, key, value })),
  fc.constant({ op: LogOp.EpochStart, key: new Uint8Array(0), value: new Uint8Array(0) }),
);

/** Any valid batch, with epochs, seqnos and timestamps up to the safe-integer range. */
export const batchArbitrary: fc.Arbitrary<LogBatchInput> = fc.record({
  epoch: fc.oneof(
    fc.constant(0),
    fc.integer({ min: 1, max: 2 ** 40 }),
    fc.constant(Number.MAX_SAFE_INTEGER),
  ),
  firstSeqno: fc.oneof(
    fc.integer({ min: 1, max: 1000 }),
    fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER - 1000 }),
  ),
  timestampMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2 ** 45 })),
  entries: fc.array(entryArbitrary, { minLength: 1, maxLength: 20 }),
});

/** A framed record around `payload` with the right length and checksum, as a writer frames it. */
export function framed(payload: Uint8Array): Buffer {
  const record = Buffer.alloc(RECORD_HEADER_BYTES + payload.length);
  record.set(payload, RECORD_HEADER_BYTES);
  record.writeUInt32LE(payload.length, 0);
  record.writeUInt32LE(crc32c(record.subarray(RECORD_HEADER_BYTES)), 4);
  return record;
}

/** One change to a payload: overwrite a byte, cut the payload short, or insert bytes. */
export type Mutation =
  | { readonly kind: 'set'; readonly at: number; readonly value: number }
  | { readonly kind: 'cut'; readonly at: number }
  | { readonly kind: 'insert'; readonly at: number; readonly bytes: Uint8Array };

/** A random {@link Mutation}; positions wrap around the payload. */
export const mutationArbitrary: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant('set' as const),
    at: fc.nat(),
    value: fc.integer({ min: 0, max: 255 }),
  }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 4 }),
  }),
);

/** `payload` with `mutation` applied (a new buffer or a view; `payload` is not changed). */
export function mutate(payload: Buffer, mutation: Mutation): Buffer {
  const at = payload.length === 0 ? 0 : mutation.at % payload.length;
  if (mutation.kind === 'set') {
    const copy = Buffer.from(payload);
    if (copy.length > 0) copy[at] = mutation.value;
    return copy;
  }
  if (mutation.kind === 'cut') return payload.subarray(0, at);
  return Buffer.concat([payload.subarray(0, at), mutation.bytes, payload.subarray(at)]);
}

/**
 * Payloads for the decoders: encoded batches with up to three mutations (zero keeps them valid;
 * one overwritten value byte usually does too; a changed tag or length usually does not), and
 * random bytes.
 */
export const payloadArbitrary: fc.Arbitrary<Buffer> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .tuple(batchArbitrary, fc.array(mutationArbitrary, { maxLength: 3 }))
      .map(([batch, mutations]) =>
        mutations.reduce(
          mutate,
          encodeRecord(batch, batch.timestampMs!, 7, limits).bytes.subarray(RECORD_HEADER_BYTES),
        ),
      ),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 120 }).map((bytes) => Buffer.from(bytes)) },
);

/** What `fn` returned, or the StrataError it threw; anything else it throws fails the test. */
export function outcomeOf<T>(fn: () => T): { value: T } | { error: StrataError } {
  try {
    return { value: fn() };
  } catch (error) {
    if (!(error instanceof StrataError)) throw error;
    return { error };
  }
}

/** A decoder's refusal: CORRUPTION, pointing at a byte of the record. */
export function expectMalformed(error: StrataError, record: Buffer): void {
  expect(error.code, error.message).to.equal('CORRUPTION');
  const recordOffset = error.details['recordOffset'] as number;
  expect(recordOffset).to.be.within(RECORD_HEADER_BYTES, record.length);
}

/** A batch with entries as [op, key hex, value hex], for deep comparisons. */
export function plainBatch(batch: LogBatch): unknown {
  return {
    ...batch,
    entries: batch.entries.map((entry) => [
      entry.op,
      Buffer.from(entry.key).toString('hex'),
      Buffer.from(entry.value).toString('hex'),
    ]),
  };
}
