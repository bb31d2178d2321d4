import { expect } from 'chai';
import fc from 'fast-check';
import { SimulatedFileSystem } from '@strata/core';
import type { CompactionStrategy, Snapshot } from '../src/index.js';
import { MajorCompactionStrategy } from '../src/compaction/major.js';
import { LeveledStrategy, SizeTieredStrategy, Tree } from '../src/index.js';
import { codeOf, tinyOptions } from './helpers.js';

/** A key's newest value and its deadline (0: never expires). */
interface Versioned {
  readonly value: string;
  readonly expiresAtMs: number;
  readonly seqno: number;
}

interface Model {
  current: Map<string, Versioned>;
  nextSeqno: number;
  snapshots: { state: Map<string, Versioned> }[];
  /** The tree's clock: an expiring value is gone once it reaches the deadline. */
  nowMs: number;
  /** Every expiring version ever inserted, as `key@seqno:expiresAtMs`. */
  expiringInserted: Set<string>;
}

interface Real {
  tree: Tree;
  fs: SimulatedFileSystem;
  snapshots: Snapshot[];
  /** What the tree's injected clock reads. */
  clock: { nowMs: number };
}

/** Expired values the model hid from a read, over all runs: the test must exercise expiry. */
let expiredHidden = 0;

/** The pairs a reader sees at `nowMs`: expired values read like deleted ones. */
function visible(state: Map<string, Versioned>, nowMs: number): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, { value, expiresAtMs }] of state) {
    if (expiresAtMs === 0 || nowMs < expiresAtMs) out.set(key, value);
    else expiredHidden++;
  }
  return out;
}

const options = { ...tinyOptions, blockSizeBytes: 96, targetSegmentSizeBytes: 600, levelCount: 4 };
// One to three letters, and the empty key (an ordinary key, the smallest of all).
const keyArb = fc.oneof(
  { weight: 1, arbitrary: fc.constant('') },
  { weight: 8, arbitrary: fc.stringMatching(/^[a-d]{1,3}$/) },
);
const valueArb = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ minLength: 50, maxLength: 150 }) },
);

function sortedEntries(state: Map<string, string>): [string, string][] {
  return [...state.entries()].sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

function inRange(key: string, lo: string, hi: string): boolean {
  const k = Buffer.from(key);
  return Buffer.compare(k, Buffer.from(lo)) >= 0 && Buffer.compare(k, Buffer.from(hi)) < 0;
}

async function drain(
  iterable: AsyncIterable<{ key: Buffer; value: Buffer }>,
): Promise<[string, string][]> {
  const out: [string, string][] = [];
  for await (const { key, value } of iterable) out.push([key.toString(), value.toString()]);
  return out;
}

class Insert implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly key: string,
    readonly value: string,
    /** Time to live from the current instant; 0 for a value that never expires. */
    readonly ttlMs = 0,
  ) {}
  check = (): boolean => true;
  run(m: Model, r: Real): Promise<void> {
    const expiresAtMs = this.ttlMs === 0 ? 0 : m.nowMs + this.ttlMs;
    const seqno = m.nextSeqno++;
    r.tree.insert(Buffer.from(this.key), Buffer.from(this.value), seqno, expiresAtMs);
    m.current.set(this.key, { value: this.value, expiresAtMs, seqno });
    if (expiresAtMs > 0) m.expiringInserted.add(`${this.key}@${seqno}:${expiresAtMs}`);
    return Promise.resolve();
  }
  toString = (): string =>
    `insert(${this.key}, ${JSON.stringify(this.value)}${this.ttlMs > 0 ? `, ttl ${this.ttlMs}` : ''})`;
}

/**
 * `Tree.expiringEntries` lists the newest version of every key that is an expiring value (expired
 * or not), and nothing that was not inserted as one (superseded versions may stay listed).
 */
class ExpiringEntries implements fc.AsyncCommand<Model, Real> {
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    const listed = new Set<string>();
    for await (const { key, seqno, expiresAtMs } of r.tree.expiringEntries()) {
      listed.add(`${key.toString()}@${seqno}:${expiresAtMs}`);
    }
    for (const entry of listed) expect(m.expiringInserted.has(entry), entry).to.equal(true);
    for (const [key, { seqno, expiresAtMs }] of m.current) {
      if (expiresAtMs > 0) expect(listed.has(`${key}@${seqno}:${expiresAtMs}`)).to.equal(true);
    }
  }
  toString = (): string => 'expiringEntries';
}

class AdvanceClock implements fc.AsyncCommand<Model, Real> {
  constructor(readonly ms: number) {}
  check = (): boolean => true;
  run(m: Model, r: Real): Promise<void> {
    m.nowMs += this.ms;
    r.clock.nowMs = m.nowMs;
    return Promise.resolve();
  }
  toString = (): string => `advanceClock(${this.ms})`;
}

class Remove implements fc.AsyncCommand<Model, Real> {
  constructor(readonly key: string) {}
  check = (): boolean => true;
  run(m: Model, r: Real): Promise<void> {
    r.tree.remove(Buffer.from(this.key), m.nextSeqno++);
    m.current.delete(this.key);
    return Promise.resolve();
  }
  toString = (): string => `remove(${this.key})`;
}

class RemoveRange implements fc.AsyncCommand<Model, Real> {
  readonly lo: string;
  readonly hi: string;
  constructor(a: string, b: string) {
    [this.lo, this.hi] = Buffer.compare(Buffer.from(a), Buffer.from(b)) <= 0 ? [a, b] : [b, a];
  }
  check = (): boolean => true;
  run(m: Model, r: Real): Promise<void> {
    const [lo, hi] = [Buffer.from(this.lo), Buffer.from(this.hi)];
    if (this.lo === this.hi) {
      expect(codeOf(() => r.tree.removeRange(lo, hi, m.nextSeqno))).to.equal('INVALID_ARGUMENT');
      return Promise.resolve();
    }
    r.tree.removeRange(lo, hi, m.nextSeqno++);
    for (const k of [...m.current.keys()]) if (inRange(k, this.lo, this.hi)) m.current.delete(k);
    return Promise.resolve();
  }
  toString = (): string => `removeRange(${this.lo}, ${this.hi})`;
}

class Ends implements fc.AsyncCommand<Model, Real> {
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    const expected = sortedEntries(visible(m.current, m.nowMs));
    const first = await r.tree.firstKeyValue();
    const last = await r.tree.lastKeyValue();
    expect(first?.key.toString()).to.equal(expected[0]?.[0]);
    expect(last?.key.toString()).to.equal(expected[expected.length - 1]?.[0]);
    expect(await r.tree.len()).to.equal(expected.length);
  }
  toString = (): string => 'ends';
}

class Get implements fc.AsyncCommand<Model, Real> {
  constructor(readonly key: string) {}
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    const got = await r.tree.get(Buffer.from(this.key));
    expect(got?.toString()).to.equal(visible(m.current, m.nowMs).get(this.key));
    expect(await r.tree.containsKey(Buffer.from(this.key))).to.equal(got !== undefined);
  }
  toString = (): string => `get(${this.key})`;
}

class Range implements fc.AsyncCommand<Model, Real> {
  /** `unbounded`: no lower bound (which must still include the empty key) instead of `gte: lo`. */
  constructor(
    readonly lo: string,
    readonly hi: string,
    readonly reverse: boolean,
    readonly unbounded = false,
  ) {}
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    const lo = this.unbounded ? '' : this.lo;
    const expected = sortedEntries(visible(m.current, m.nowMs)).filter(([k]) =>
      inRange(k, lo, this.hi),
    );
    const iterator = r.tree.range(
      this.unbounded
        ? { lt: Buffer.from(this.hi) }
        : { gte: Buffer.from(this.lo), lt: Buffer.from(this.hi) },
    );
    const got = await drain(this.reverse ? iterator.reverse() : iterator);
    expect(got).to.deep.equal(this.reverse ? expected.reverse() : expected);
  }
  toString = (): string =>
    `range(${this.unbounded ? '-' : this.lo}, ${this.hi}${this.reverse ? ', reverse' : ''})`;
}

class Prefix implements fc.AsyncCommand<Model, Real> {
  constructor(readonly prefix: string) {}
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    const expected = sortedEntries(visible(m.current, m.nowMs)).filter(([k]) =>
      k.startsWith(this.prefix),
    );
    expect(await drain(r.tree.prefix(Buffer.from(this.prefix)))).to.deep.equal(expected);
  }
  toString = (): string => `prefix(${this.prefix})`;
}

class Meet implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pattern: boolean[]) {}
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    const expected = sortedEntries(visible(m.current, m.nowMs));
    const iterator = r.tree.iter();
    const front: [string, string][] = [];
    const back: [string, string][] = [];
    for (let i = 0; ; i++) {
      const fromBack = this.pattern[i % Math.max(1, this.pattern.length)] ?? false;
      const item = fromBack ? await iterator.nextBack() : await iterator.next();
      if (!item) break;
      (fromBack ? back : front).push([item.key.toString(), item.value.toString()]);
    }
    expect([...front, ...back.reverse()]).to.deep.equal(expected);
  }
  toString = (): string => `meet(${this.pattern.map((x) => (x ? 'B' : 'F')).join('')})`;
}

class OpenSnapshot implements fc.AsyncCommand<Model, Real> {
  check = (m: Readonly<Model>): boolean => m.snapshots.length < 3;
  run(m: Model, r: Real): Promise<void> {
    r.snapshots.push(r.tree.snapshot(m.nextSeqno));
    m.snapshots.push({ state: new Map(m.current) });
    return Promise.resolve();
  }
  toString = (): string => 'openSnapshot';
}

class SnapshotRead implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly index: number,
    readonly key: string,
  ) {}
  check = (m: Readonly<Model>): boolean => m.snapshots.length > 0;
  async run(m: Model, r: Real): Promise<void> {
    const i = this.index % m.snapshots.length;
    // A snapshot fixes the versions, not the instant: its expiring values expire meanwhile.
    const state = visible(m.snapshots[i]!.state, m.nowMs);
    const snapshot = r.snapshots[i]!;
    expect((await snapshot.get(Buffer.from(this.key)))?.toString()).to.equal(state.get(this.key));
    expect(await drain(snapshot.iter())).to.deep.equal(sortedEntries(state));
  }
  toString = (): string => `snapshotRead(${this.index}, ${this.key})`;
}

class CloseSnapshot implements fc.AsyncCommand<Model, Real> {
  constructor(readonly index: number) {}
  check = (m: Readonly<Model>): boolean => m.snapshots.length > 0;
  run(m: Model, r: Real): Promise<void> {
    const i = this.index % m.snapshots.length;
    r.snapshots.splice(i, 1)[0]!.close();
    m.snapshots.splice(i, 1);
    return Promise.resolve();
  }
  toString = (): string => `closeSnapshot(${this.index})`;
}

class Flush implements fc.AsyncCommand<Model, Real> {
  check = (): boolean => true;
  async run(_m: Model, r: Real): Promise<void> {
    await r.tree.flushActiveMemtable();
  }
  toString = (): string => 'flush';
}

const strategies: Record<string, () => CompactionStrategy> = {
  leveled: () => new LeveledStrategy({ l0Trigger: 2, level1SizeBytes: 1500, sizeRatio: 2 }),
  tiered: () => new SizeTieredStrategy({ levelTrigger: 2 }),
  major: () => new MajorCompactionStrategy(600),
};

class Compact implements fc.AsyncCommand<Model, Real> {
  constructor(readonly strategy: string) {}
  check = (): boolean => true;
  async run(_m: Model, r: Real): Promise<void> {
    await r.tree.compact(strategies[this.strategy]!());
  }
  toString = (): string => `compact(${this.strategy})`;
}

class Reopen implements fc.AsyncCommand<Model, Real> {
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    // As the store would: flush (the log would replay anything unflushed), close, reopen.
    await r.tree.flushActiveMemtable();
    for (const snapshot of r.snapshots) snapshot.close();
    r.snapshots = [];
    m.snapshots = [];
    await r.tree.close();
    r.tree = await Tree.open('/tree', { fileSystem: r.fs, clock: () => r.clock.nowMs });
    expect(r.tree.getHighestSeqno() ?? -1).to.be.lessThan(m.nextSeqno);
  }
  toString = (): string => 'reopen';
}

describe('Tree: model-based property test against a Map (puts, TTL puts, deletes, range deletes)', function () {
  this.timeout(180_000);

  it('behaves like a sorted map with snapshots through flushes, compactions and reopens', async () => {
    // Range deletes span from a single key to every key; with snapshots open they must keep the
    // versions below them readable, and compactions must drop only what no reader can see.
    const commands = fc.commands(
      [
        fc.tuple(keyArb, valueArb).map(([k, v]) => new Insert(k, v)),
        fc.tuple(keyArb, valueArb).map(([k, v]) => new Insert(k, v)),
        fc.tuple(keyArb, valueArb).map(([k, v]) => new Insert(k, v)),
        // Deadlines a few clock steps ahead: values expire under reads, snapshots, flushes.
        fc
          .tuple(keyArb, valueArb, fc.integer({ min: 1, max: 40 }))
          .map(([k, v, ttl]) => new Insert(k, v, ttl)),
        fc
          .tuple(keyArb, valueArb, fc.integer({ min: 1, max: 40 }))
          .map(([k, v, ttl]) => new Insert(k, v, ttl)),
        fc.integer({ min: 1, max: 15 }).map((ms) => new AdvanceClock(ms)),
        fc.constant(new ExpiringEntries()),
        keyArb.map((k) => new Remove(k)),
        // Bounds of one to three letters, and "e" past every key: ranges from a key to all.
        fc.tuple(keyArb, fc.oneof(keyArb, fc.constant('e'))).map(([a, b]) => new RemoveRange(a, b)),
        fc.tuple(fc.stringMatching(/^[a-d]$/), keyArb).map(([a, b]) => new RemoveRange(a, b)),
        keyArb.map((k) => new Get(k)),
        fc.constant(new Ends()),
        fc.tuple(keyArb, keyArb, fc.boolean()).map(([a, b, rev]) => new Range(a, b, rev)),
        fc.tuple(keyArb, fc.boolean()).map(([b, rev]) => new Range('', b, rev, true)),
        fc.stringMatching(/^[a-d]{0,2}$/).map((p) => new Prefix(p)),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }).map((p) => new Meet(p)),
        fc.constant(new OpenSnapshot()),
        fc.tuple(fc.nat(), keyArb).map(([i, k]) => new SnapshotRead(i, k)),
        fc.nat().map((i) => new CloseSnapshot(i)),
        fc.constant(new Flush()),
        fc.constant(new Flush()),
        fc.constantFrom('leveled', 'tiered', 'major').map((name) => new Compact(name)),
        fc.constant(new Reopen()),
      ],
      { maxCommands: 150, size: 'max' },
    );
    const stats = { runs: 0, commands: 0, maxSegments: 0, maxLevel: 0 };
    const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
    await fc.assert(
      fc.asyncProperty(commands, async (cmds) => {
        const fs = new SimulatedFileSystem();
        const clock = { nowMs: 1_700_000_000_000 };
        const tree = await Tree.open('/tree', {
          fileSystem: fs,
          ...options,
          clock: () => clock.nowMs,
        });
        const real: Real = { tree, fs, snapshots: [], clock };
        const model: Model = {
          current: new Map(),
          nextSeqno: 0,
          snapshots: [],
          nowMs: clock.nowMs,
          expiringInserted: new Set(),
        };
        try {
          await fc.asyncModelRun(() => ({ model, real }), cmds);
          stats.runs++;
          stats.commands += [...cmds].length;
          stats.maxSegments = Math.max(stats.maxSegments, real.tree.segmentCount());
          stats.maxLevel = Math.max(
            stats.maxLevel,
            ...real.tree.levelSegmentIds().map((ids, level) => (ids.length > 0 ? level : 0)),
          );
          // Whatever happened, a final full compaction and reopen must preserve the map.
          await real.tree.majorCompact();
          await new Reopen().run(model, real);
          expect(await drain(real.tree.iter())).to.deep.equal(
            sortedEntries(visible(model.current, model.nowMs)),
          );
          await new ExpiringEntries().run(model, real);
        } finally {
          for (const snapshot of real.snapshots) snapshot.close();
          await real.tree.close();
        }
      }),
      {
        numRuns: Number(process.env.FC_RUNS ?? 150),
        ...(seed === undefined ? {} : { seed }),
        reporter: (details) => {
          if (details.failed) {
            throw new Error(
              `model test failed; reproduce with FC_SEED=${details.seed} (path ${details.counterexamplePath}):\n` +
                fc.defaultReportMessage(details),
            );
          }
        },
      },
    );
    if (process.env.FC_STATS) console.log(stats);
    // The sizes are tiny so that the runs really exercise many segments and deep levels.
    expect(stats.maxSegments).to.be.greaterThan(3);
    expect(stats.maxLevel).to.be.greaterThan(1);
    expect(expiredHidden).to.be.greaterThan(0);
  });
});
