import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StrataLevel } from '../src/index.js';
import type { StrataLevelOptions } from '../src/index.js';

/*
 * abstract-level's own test suite (abstract-level/test, run with tape) against StrataLevel, each
 * database in a directory of its own: every test the declared manifest (db.supports) enables must
 * pass. The suite runs once on the root database and once on a sublevel.
 */

const require = createRequire(import.meta.url);

/** One assertion as tape reports it in object mode. */
interface TapeRow {
  readonly type: string;
  readonly ok?: boolean;
  readonly name?: string;
  readonly test?: number;
  readonly id?: number;
  readonly operator?: string;
  readonly actual?: unknown;
  readonly expected?: unknown;
  readonly error?: { readonly stack?: string; readonly message?: string };
}

interface Tape {
  createHarness(): TapeHarness;
}
interface TapeHarness {
  (name: string, fn: (t: unknown) => unknown): void;
  createStream(options: { objectMode: true }): NodeJS.ReadableStream;
  onFinish(fn: () => void): void;
}

describe('abstract-level test suite', function () {
  this.timeout(30 * 60_000);
  let root: string;

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'strata-level-suite-'));
  });

  after(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it('passes every test its manifest enables', async () => {
    const tape = require('tape') as Tape;
    const suite = require('abstract-level/test') as (options: {
      test: TapeHarness;
      factory: (options?: StrataLevelOptions<unknown, unknown>) => StrataLevel<unknown, unknown>;
    }) => void;
    const harness = tape.createHarness();
    const tests = new Map<number, string>();
    const failures: string[] = [];
    let passed = 0;
    let failed = 0;
    harness.createStream({ objectMode: true }).on('data', (row: TapeRow) => {
      if (row.type === 'test' && row.id !== undefined) tests.set(row.id, row.name ?? '');
      if (row.type !== 'assert') return;
      if (row.ok === true) {
        passed++;
        return;
      }
      failed++;
      failures.push(
        `${tests.get(row.test ?? -1) ?? '?'}: ${row.name ?? ''} (${row.operator ?? ''}; ` +
          `expected ${JSON.stringify(row.expected)}, actual ${JSON.stringify(row.actual)})` +
          (row.error?.stack ? `\n${row.error.stack}` : ''),
      );
    });
    const finished = new Promise<void>((resolve) => harness.onFinish(resolve));
    let count = 0;
    suite({
      test: harness,
      factory: (options) => new StrataLevel(join(root, `db-${++count}`), options),
    });
    await finished;
    console.log(
      `      abstract-level suite: ${passed} of ${passed + failed} assertions passed, ${count} databases`,
    );
    if (failures.length > 0)
      console.log(failures.map((failure) => `      - ${failure}`).join('\n'));
    expect(failed, failures.join('\n')).to.equal(0);
    expect(passed).to.be.above(1000);
  });
});
