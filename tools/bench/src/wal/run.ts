// Entry point of the log benchmark: `npm run bench:wal -- [--rounds N] [--quick] [--only id]
// [--contender name] [--cpu-prof dir]`. See tools/bench/README.md.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderMarkdown } from '../runner/report.js';
import { runSuite } from '../runner/run-suite.js';
import { parseSuiteCli } from '../runner/suite-cli.js';
import { WAL_CONTENDERS } from './contender.js';
import { FULL_SIZES, QUICK_SIZES, walSuite } from './suite.js';

const benchDir = fileURLToPath(new URL('../..', import.meta.url));

const cli = parseSuiteCli({
  command: 'bench:wal',
  quickHelp: 'small sizes, a smoke run',
  groupIds: 'durable-appends/writers-1|8|64 bulk-none replay',
  contenders: WAL_CONTENDERS,
});

const report = await runSuite(walSuite(cli.quick ? QUICK_SIZES : FULL_SIZES), {
  rounds: cli.rounds,
  quick: cli.quick,
  only: cli.only,
  contenders: cli.contenders,
  cwd: benchDir,
  ...(cli.cpuProfileDir !== undefined ? { cpuProfileDir: cli.cpuProfileDir } : {}),
  ...(cli.writeResults ? { resultsDir: path.join(benchDir, 'results') } : {}),
});
process.stdout.write(`\n${renderMarkdown(report)}`);
