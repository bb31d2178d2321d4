#!/usr/bin/env node
// Runs every package's mocha suite through Nx (one package at a time: several suites use real
// processes, disks and ports) and ends with one plain total line: "tests: N passed, N failed".
import { spawn } from 'node:child_process';

const args = [
  'nx',
  'run-many',
  '-t',
  'test',
  '--parallel=1',
  '--outputStyle=stream',
  ...process.argv.slice(2),
];
const child = spawn('npx', args, {
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, NX_DAEMON: 'false' },
});
let passed = 0;
let failed = 0;
let pending = 0;
let carry = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  const text = carry + chunk.toString();
  const lines = text.split('\n');
  carry = lines.pop() ?? '';
  for (const line of lines) count(line);
});
child.on('close', (code) => {
  count(carry);
  const failedRun = code !== 0 && failed === 0 ? 1 : failed;
  console.log(
    `\ntests: ${passed} passed, ${failedRun} failed${pending ? `, ${pending} skipped` : ''}`,
  );
  process.exit(code ?? 1);
});

function count(line) {
  // eslint-disable-next-line no-control-regex
  const plain = line.replace(/\u001b\[[0-9;]*m/g, '');
  const match = /\b(\d+) (passing|failing|pending)\b/.exec(plain);
  if (!match) return;
  const value = Number(match[1]);
  if (match[2] === 'passing') passed += value;
  else if (match[2] === 'failing') failed += value;
  else pending += value;
}
