import { expect } from 'chai';
import fc from 'fast-check';
import { SimulatedFileSystem, seededRandom } from '@strata/core';
import { Store } from '../src/index.js';
import type { StoreOptions } from '../src/index.js';

/** The model: every version of every key, by seqno (undefined = deleted). */
interface Model {
  versions: Map<string, [number, string | undefined][]>;
  lastSeqno: number;
}

interface Real {
  fs: SimulatedFileSystem;
  store: Store;
}

/** How often each kind of command ran, to prove the test exercises what it claims. */
const executed = new Map<string, number>();
function count(name: string): void {
  executed.set(name, (executed.get(name) ?? 0) + 1);
}

const options: StoreOptions = {
  memtableSizeBytes: 2048,
  walSegmentSizeBytes: 4096,
  level0SlowdownSegments: 3,
  level0StopSegments: 6,
};

function valueAt(model: Model, key: string, at: number): string | undefined {
  const versions = model.versions.get(key) ?? [];
  let value: string | undefined;
  for (const [seqno, candidate] of versions) if (seqno <= at) value = candidate;
  return value;
}

function visible(model: Model, at: number): [string, string][] {
  const out: [string, string][] = [];
  for (const key of [...model.versions.keys()].sort()) {
    const value = valueAt(model, key, at);
    if (value !== undefined) out.push([key, value]);
  }
  return out;
}

function record(model: Model, key: string, value: string | undefined): void {
  model.lastSeqno++;
  const versions = model.versions.get(key) ?? [];
  versions.push([model.lastSeqno, value]);
  model.versions.set(key, versions);
}

// The empty key is an ordinary key (the smallest): it goes through everything the others do.
const keyArbitrary = fc.constantFrom('', 'a', 'b', 'c', 'd', 'p/1', 'p/2', 'p/3', 'q', 'zz');
const valueArbitrary = fc.string({ minLength: 0, maxLength: 120 });

class PutCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly key: string,
    readonly value: string,
  ) {}
  check = () => true;
  async run(model: Model, real: Real) {
    count('put');
    const { seqno } = await real.store.put(this.key, this.value);
    record(model, this.key, this.value);
    expect(seqno).to.equal(model.lastSeqno);
  }
  toString = () => `put(${this.key}, ${this.value.length}b)`;
}

class DeleteCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly key: string) {}
  check = () => true;
  async run(model: Model, real: Real) {
    await real.store.delete(this.key);
    record(model, this.key, undefined);
  }
  toString = () => `delete(${this.key})`;
}

class BatchCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly operations: { key: string; value: string | undefined }[]) {}
  check = () => true;
  async run(model: Model, real: Real) {
    const result = await real.store.batch(
      this.operations.map(({ key, value }) =>
        value === undefined
          ? { type: 'delete' as const, key }
          : { type: 'put' as const, key, value },
      ),
    );
    for (const { key, value } of this.operations) record(model, key, value);
    expect(result.lastSeqno).to.equal(model.lastSeqno);
  }
  toString = () => `batch(${this.operations.map((operation) => operation.key).join(',')})`;
}

class GetCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly key: string,
    readonly back: number,
  ) {}
  check = () => true;
  async run(model: Model, real: Real) {
    count('get');
    const at = Math.max(0, model.lastSeqno - this.back);
    const options = this.back === 0 ? {} : { at };
    const actual = (await real.store.get(this.key, options))?.toString();
    expect(actual, `get ${this.key} at ${at}`).to.equal(
      valueAt(model, this.key, this.back === 0 ? model.lastSeqno : at),
    );
  }
  toString = () => `get(${this.key}, back ${this.back})`;
}

class RangeCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly prefix: string | undefined,
    readonly reverse: boolean,
    readonly limit: number | undefined,
    readonly back: number,
  ) {}
  check = () => true;
  async run(model: Model, real: Real) {
    const at = Math.max(0, model.lastSeqno - this.back);
    let expected = visible(model, at).filter(
      ([key]) => this.prefix === undefined || key.startsWith(this.prefix),
    );
    if (this.reverse) expected = expected.reverse();
    if (this.limit !== undefined) expected = expected.slice(0, this.limit);
    const actual: [string, string][] = [];
    for await (const item of real.store.range({
      prefix: this.prefix,
      reverse: this.reverse,
      limit: this.limit,
      at,
    })) {
      actual.push([item.key.toString(), item.value.toString()]);
    }
    expect(actual).to.deep.equal(expected);
  }
  toString = () =>
    `range(${this.prefix ?? '*'}, ${this.reverse ? 'rev' : 'fwd'}, ${this.limit ?? '∞'}, back ${this.back})`;
}

class FlushCommand implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(_model: Model, real: Real) {
    count('flush');
    await real.store.flush();
    await real.store.waitForBackgroundWork();
    if (real.store.stats().segmentCount > 0) count('segments');
  }
  toString = () => 'flush+compact';
}

class ReopenCommand implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(model: Model, real: Real) {
    count('reopen');
    await real.store.close();
    real.store = await Store.open('/data', { ...options, fileSystem: real.fs });
    expect(real.store.lastSeqno).to.equal(model.lastSeqno);
  }
  toString = () => 'reopen';
}

class CrashCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly seed: number) {}
  check = () => true;
  async run(model: Model, real: Real) {
    // Under sync 'always' every resolved write is durable: the model keeps all of them.
    count('crash');
    real.fs = real.fs.crash({ random: seededRandom(this.seed) });
    real.store = await Store.open('/data', { ...options, fileSystem: real.fs });
    expect(real.store.lastSeqno).to.equal(model.lastSeqno);
  }
  toString = () => `crash(${this.seed})`;
}

const commands = [
  fc.tuple(keyArbitrary, valueArbitrary).map(([key, value]) => new PutCommand(key, value)),
  fc.tuple(keyArbitrary, valueArbitrary).map(([key, value]) => new PutCommand(key, value)),
  keyArbitrary.map((key) => new DeleteCommand(key)),
  fc
    .array(fc.record({ key: keyArbitrary, value: fc.option(valueArbitrary, { nil: undefined }) }), {
      minLength: 1,
      maxLength: 6,
    })
    .map((operations) => new BatchCommand(operations)),
  fc.tuple(keyArbitrary, fc.nat(30)).map(([key, back]) => new GetCommand(key, back)),
  fc
    .tuple(
      fc.option(fc.constantFrom('p/', 'a', 'z', ''), { nil: undefined }),
      fc.boolean(),
      fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
      fc.nat(20),
    )
    .map(([prefix, reverse, limit, back]) => new RangeCommand(prefix, reverse, limit, back)),
  fc.constant(new FlushCommand()),
  fc.constant(new ReopenCommand()),
  fc.nat().map((seed) => new CrashCommand(seed)),
];

describe('Store: model-based test (fast-check commands against a Map of versions)', () => {
  it('matches the model through writes, history reads, ranges, flushes, compactions, reopens and crashes', async () => {
    const seed =
      process.env['FC_SEED'] === undefined
        ? Date.now() % 1_000_000
        : Number(process.env['FC_SEED']);
    const numRuns = Number(process.env['FC_RUNS'] ?? 150);
    let open: Real | undefined;
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.commands(commands, { maxCommands: 120, size: 'large' }),
          async (sequence) => {
            const fs = new SimulatedFileSystem();
            const real: Real = {
              fs,
              store: await Store.open('/data', { ...options, fileSystem: fs }),
            };
            open = real;
            const model: Model = { versions: new Map(), lastSeqno: 0 };
            await fc.asyncModelRun(() => ({ model, real }), sequence);
            // Exhaustive history check: every key at every seqno, as of the end of the run.
            for (let at = 0; at <= model.lastSeqno; at++) {
              for (const key of model.versions.keys()) {
                const actual = (await real.store.get(key, { at }))?.toString();
                expect(actual, `final check: get ${key} at ${at}`).to.equal(
                  valueAt(model, key, at),
                );
              }
            }
            count('history-check');
            await real.store.close();
            open = undefined;
          },
        ),
        { seed, numRuns },
      );
    } catch (error) {
      console.error(`model test failed: reproduce with FC_SEED=${seed}`);
      throw error;
    } finally {
      await open?.store.close().catch(() => undefined);
    }
    for (const name of ['put', 'get', 'flush', 'segments', 'reopen', 'crash']) {
      expect(executed.get(name) ?? 0, `${name} commands executed`).to.be.greaterThan(numRuns / 4);
    }
  });
});
