// Open + put + close of a small database, StrataLevel against classic-level (LevelDB) in the same
// run, alternating: of a new database (a fresh temp directory each round) and of an existing one
// (the same directory reopened each round, 100 keys in it); prints the median and p90 of each.
// classic-level comes from the benchmark peers (tools/bench; `npm run bench:kv` installs them).
// `--baseline DIR` adds StrataLevel from another checkout at DIR (say, `git archive` of an older
// commit, with a node_modules whose @strata links point into it) to the same alternation: an A/B of
// two builds in one process, each round running both within milliseconds of each other.
//
//   npm run bench -w @strata/level [-- rounds] [--baseline DIR]
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { StrataLevel } from '../src/index.js';

interface LevelLike {
  open(): Promise<void>;
  put(key: string, value: string, options?: { sync?: boolean }): Promise<void>;
  close(): Promise<void>;
}

const args = process.argv.slice(2);
const baselineAt = args.indexOf('--baseline');
const baselineRoot = baselineAt >= 0 ? args.splice(baselineAt, 2)[1] : undefined;
const rounds = Number(args[0] ?? 30);
const benchDirectory = fileURLToPath(new URL('../../../tools/bench/', import.meta.url));
const classicPath = createRequire(join(benchDirectory, 'package.json')).resolve('classic-level');
const { ClassicLevel } = (await import(pathToFileURL(classicPath).href)) as {
  ClassicLevel: new (location: string) => LevelLike;
};

const contenders: Record<string, { open: (dir: string) => LevelLike; sync?: boolean }> = {
  'classic-level (put without sync, its default)': { open: (dir) => new ClassicLevel(dir) },
  'classic-level (put with sync: true)': { open: (dir) => new ClassicLevel(dir), sync: true },
  "StrataLevel (store default sync: 'always')": { open: (dir) => new StrataLevel(dir) },
  "StrataLevel (sync: 'none')": {
    open: (dir) => new StrataLevel(dir, { store: { sync: 'none' } }),
  },
};

if (baselineRoot !== undefined) {
  const baselineEntry = pathToFileURL(join(baselineRoot, 'libs/level/src/index.ts')).href;
  const baseline = (await import(baselineEntry)) as { StrataLevel: typeof StrataLevel };
  contenders["StrataLevel, baseline build (sync: 'always')"] = {
    open: (dir) => new baseline.StrataLevel(dir),
  };
}

const root = mkdtempSync(join(tmpdir(), 'strata-level-bench-'));
const timings = new Map<string, number[]>();
const existing = new Map<string, string>();
try {
  for (const [name, contender] of Object.entries(contenders)) {
    const dir = mkdtempSync(join(root, 'existing-'));
    const db = contender.open(dir);
    await db.open();
    for (let index = 0; index < 100; index++) await db.put(`key-${index}`, `value-${index}`);
    await db.close();
    existing.set(name, dir);
  }
  for (let round = -2; round < rounds; round++) {
    for (const mode of ['new', 'existing'] as const) {
      for (const [name, contender] of Object.entries(contenders)) {
        const dir =
          mode === 'new' ? mkdtempSync(join(root, 'db-')) : (existing.get(name) as string);
        const started = performance.now();
        const db = contender.open(dir);
        await db.open();
        await db.put('key', 'value', contender.sync ? { sync: true } : undefined);
        await db.close();
        const elapsedMs = performance.now() - started;
        const label = `${mode} database, ${name}`;
        if (!timings.has(label)) timings.set(label, []);
        if (round >= 0) timings.get(label)?.push(elapsedMs); // two warm-up rounds
        if (mode === 'new') rmSync(dir, { recursive: true, force: true });
      }
    }
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}

const quantile = (sorted: number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
console.log(`open + put + close, ${rounds} rounds each, alternating:`);
for (const [name, values] of timings) {
  const sorted = [...values].sort((a, b) => a - b);
  console.log(
    `  ${name.padEnd(66)} median ${quantile(sorted, 0.5).toFixed(2)} ms, p90 ${quantile(sorted, 0.9).toFixed(2)} ms`,
  );
}
