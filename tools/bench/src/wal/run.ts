// Entry point of the log benchmark: `npm run bench:wal -- [--rounds N] [--quick] [--only id]
// [--contender name] [--cpu-prof dir]`. See tools/bench/README.md.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { renderMarkdown } from '../runner/report.js';
import { runSuite } from '../runner/run-suite.js';
import { FULL_SIZES, QUICK_SIZES, walSuite } from './suite.js';

const benchDir = fileURLToPath(new URL('../..', import.meta.url));

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    quick: { type: 'boolean', default: false },
    only: { type: 'string', multiple: true, default: [] },
    contender: { type: 'string', multiple: true, default: [] },
    'cpu-prof': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  process.stdout.write(
    [
      'usage: npm run bench:wal -- [options]',
      '  --rounds N        rounds per (workload, contender); default 3',
      '  --quick           small sizes, a smoke run (results are not written)',
      '  --only PREFIX     only groups whose id starts with PREFIX (repeatable):',
      '                    durable-appends/writers-1|8|64, bulk-none, replay',
      '  --contender NAME  only this contender (repeatable): strata-wal, rocksdb, leveldb',
      '  --cpu-prof DIR    run workers with --cpu-prof into DIR and print top self time',
      '',
    ].join('\n'),
  );
  process.exit(0);
}

const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds must be a positive integer');
const partial =
  values.quick ||
  values.only.length > 0 ||
  values.contender.length > 0 ||
  values['cpu-prof'] !== undefined;

const report = await runSuite(walSuite(values.quick ? QUICK_SIZES : FULL_SIZES), {
  rounds,
  quick: values.quick,
  only: values.only,
  contenders: values.contender,
  cwd: benchDir,
  ...(values['cpu-prof'] !== undefined ? { cpuProfileDir: path.resolve(values['cpu-prof']) } : {}),
  // Only complete, full-size runs replace the committed results.
  ...(partial ? {} : { resultsDir: path.join(benchDir, 'results') }),
});
process.stdout.write(`\n${renderMarkdown(report)}`);
