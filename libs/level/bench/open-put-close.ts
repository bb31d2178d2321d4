// Open + put + close of a small database, StrataLevel against classic-level (LevelDB) in the same
// run, alternating: of a new database (a fresh temp directory each round) and of an existing one
// (the same directory reopened each round, 100 keys in it); prints the median and p90 of each.
// classic-level comes from the benchmark peers (tools/bench; `npm run bench:kv` installs them).
//
// `--baseline DIR` adds StrataLevel from another checkout at DIR (say, `git archive` of an older
// commit, with a node_modules whose @strata links point into it) to the same rounds: an A/B of two
// builds in the same minute. It runs in a child process started in DIR/libs/level, since tsx
// resolves @strata/* through the tsconfig paths of the directory it runs in; the child times its
// own open + put + close, so the message round trip is not counted.
//
//   npm run bench -w @strata/level [-- rounds] [--baseline DIR]
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface LevelLike {
  open(): Promise<void>;
  put(key: string, value: string, options?: { sync?: boolean }): Promise<void>;
  close(): Promise<void>;
}

type LevelClass = new (location: string, options?: { store?: { sync?: string } }) => LevelLike;

/** A contender: fills `dir` (the existing database), or times one open + put + close of `dir`. */
interface Contender {
  fill(dir: string): Promise<void>;
  time(dir: string): Promise<number>;
}

const SERVE_BASELINE = '--serve-baseline';

async function openPutClose(db: LevelLike, sync: boolean): Promise<number> {
  const started = performance.now();
  await db.open();
  await db.put('key', 'value', sync ? { sync: true } : undefined);
  await db.close();
  return performance.now() - started;
}

async function fill(db: LevelLike): Promise<void> {
  await db.open();
  for (let index = 0; index < 100; index++) await db.put(`key-${index}`, `value-${index}`);
  await db.close();
}

function local(open: (dir: string) => LevelLike, sync = false): Contender {
  return { fill: (dir) => fill(open(dir)), time: (dir) => openPutClose(open(dir), sync) };
}

/** The child of `--baseline`: StrataLevel from the checkout it runs in, driven by messages. */
async function serveBaseline(): Promise<void> {
  const entry = pathToFileURL(join(process.cwd(), 'src/index.ts')).href;
  const { StrataLevel } = (await import(entry)) as { StrataLevel: LevelClass };
  process.on('message', (request: { kind: 'fill' | 'time'; dir: string }) => {
    const db = new StrataLevel(request.dir);
    const done = request.kind === 'fill' ? fill(db).then(() => 0) : openPutClose(db, false);
    void done.then(
      (elapsedMs) => process.send?.({ elapsedMs }),
      (error: unknown) => process.send?.({ error: String(error) }),
    );
  });
  process.send?.({ ready: true });
}

function baselineContender(root: string): { contender: Contender; child: ChildProcess } {
  const child = fork(fileURLToPath(import.meta.url), [SERVE_BASELINE], {
    cwd: join(root, 'libs/level'),
    execArgv: ['--import', 'tsx', '--conditions=@strata/source'],
  });
  let pending: ((reply: { elapsedMs?: number; error?: string }) => void) | undefined;
  child.on('message', (reply: { elapsedMs?: number; error?: string; ready?: boolean }) => {
    if (reply.ready) return;
    const resolve = pending;
    pending = undefined;
    resolve?.(reply);
  });
  const ask = (kind: 'fill' | 'time', dir: string): Promise<number> =>
    new Promise((resolve, reject) => {
      pending = (reply) =>
        reply.error === undefined
          ? resolve(reply.elapsedMs ?? 0)
          : reject(new Error(`baseline: ${reply.error}`));
      child.send({ kind, dir });
    });
  return {
    contender: {
      fill: async (dir) => void (await ask('fill', dir)),
      time: (dir) => ask('time', dir),
    },
    child,
  };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const baselineAt = args.indexOf('--baseline');
  const baselineRoot = baselineAt >= 0 ? args.splice(baselineAt, 2)[1] : undefined;
  const rounds = Number(args[0] ?? 30);
  const benchDirectory = fileURLToPath(new URL('../../../tools/bench/', import.meta.url));
  const classicPath = createRequire(join(benchDirectory, 'package.json')).resolve('classic-level');
  const { ClassicLevel } = (await import(pathToFileURL(classicPath).href)) as {
    ClassicLevel: LevelClass;
  };
  const { StrataLevel } = (await import('../src/index.js')) as unknown as {
    StrataLevel: LevelClass;
  };

  const contenders: Record<string, Contender> = {
    'classic-level (put without sync, its default)': local((dir) => new ClassicLevel(dir)),
    'classic-level (put with sync: true)': local((dir) => new ClassicLevel(dir), true),
    "StrataLevel (store default sync: 'always')": local((dir) => new StrataLevel(dir)),
    "StrataLevel (sync: 'none')": local((dir) => new StrataLevel(dir, { store: { sync: 'none' } })),
  };
  let child: ChildProcess | undefined;
  if (baselineRoot !== undefined) {
    const baseline = baselineContender(baselineRoot);
    child = baseline.child;
    contenders["StrataLevel, baseline build (sync: 'always')"] = baseline.contender;
  }

  const root = mkdtempSync(join(tmpdir(), 'strata-level-bench-'));
  const timings = new Map<string, number[]>();
  const existing = new Map<string, string>();
  try {
    for (const [name, contender] of Object.entries(contenders)) {
      const dir = mkdtempSync(join(root, 'existing-'));
      await contender.fill(dir);
      existing.set(name, dir);
    }
    for (let round = -2; round < rounds; round++) {
      for (const mode of ['new', 'existing'] as const) {
        for (const [name, contender] of Object.entries(contenders)) {
          const dir =
            mode === 'new' ? mkdtempSync(join(root, 'db-')) : (existing.get(name) as string);
          const elapsedMs = await contender.time(dir);
          const label = `${mode} database, ${name}`;
          if (!timings.has(label)) timings.set(label, []);
          if (round >= 0) timings.get(label)?.push(elapsedMs); // two warm-up rounds
          if (mode === 'new') rmSync(dir, { recursive: true, force: true });
        }
      }
    }
  } finally {
    child?.kill();
    rmSync(root, { recursive: true, force: true });
  }

  const quantile = (sorted: number[], q: number): number =>
    sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  console.log(`open + put + close, ${rounds} rounds each, alternating:`);
  if (baselineRoot !== undefined) console.log(`  (baseline build: ${baselineRoot})`);
  for (const [name, values] of timings) {
    const sorted = [...values].sort((a, b) => a - b);
    console.log(
      `  ${name.padEnd(66)} median ${quantile(sorted, 0.5).toFixed(2)} ms, p90 ${quantile(sorted, 0.9).toFixed(2)} ms`,
    );
  }
  // The load of a shared machine drifts within a run: each round's contenders run back to back,
  // so a ratio taken within the round is steadier than the ratio of two medians.
  console.log(`per-round ratio to ${REFERENCE} of the same round (median, p90):`);
  for (const mode of ['new', 'existing']) {
    const reference = timings.get(`${mode} database, ${REFERENCE}`) ?? [];
    for (const name of Object.keys(contenders).filter((name) => name.startsWith('StrataLevel'))) {
      const label = `${mode} database, ${name}`;
      const ratios = (timings.get(label) ?? [])
        .map((value, round) => value / (reference[round] ?? Number.NaN))
        .sort((a, b) => a - b);
      console.log(
        `  ${label.padEnd(66)} ${quantile(ratios, 0.5).toFixed(2)}x, ${quantile(ratios, 0.9).toFixed(2)}x`,
      );
    }
  }
}

/** What the per-round ratios compare with: LevelDB making its put durable, as the store does. */
const REFERENCE = 'classic-level (put with sync: true)';

if (process.argv.includes(SERVE_BASELINE)) await serveBaseline();
else await main();
