// Replication benchmark: `npm run bench:replication -- [--rounds N] [--seconds N] [--catch-up N]
// [--replicas 1,3] [--cpu-prof DIR]`. The leader (Store, `sync: 'always'`, LogPublisher) runs in this process, the
// follower (LogFollower -> store.appendReplicated, `sync: 'always'`) in a forked process, with
// real nats-servers (JetStream, file storage) between them: publisher -> JetStream -> follower ->
// store. Each stream replica count runs on a fresh deployment (R1: one nats-server; R3: a cluster
// of three) and is reported side by side: (1) lag from the leader's put resolving to the follower
// having applied that seqno, at 1k and 10k writes/s offered (open loop, at most 64 writes
// outstanding) and at the leader's top rate (64 writers, closed loop); (2) the follower's apply
// rate next to the leader's top durable rate; (3) quorum writes: 64 writers, each waiting for the
// follower too; (4) catch-up of 1,000,000 entries written while the follower was stopped.
// Each round runs every setup once (R1, then R3, on fresh deployments); the report shows each
// figure's median over the rounds and the spread of the figures the targets judge.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { STREAM_REPLICA_CHOICES } from '@strata/replication';
import { machineInfo } from '../runner/machine.js';
import { formatSelfTime, readCpuProfile, topSelfTime } from '../runner/profile-summary.js';
import { runSetup } from './phases.js';
import type { SetupResult } from './phases.js';
import { renderMarkdown, targetsOf } from './report.js';
import { medianOfRounds, spreadOf } from './rounds.js';
import type { ReplicationResult } from './report.js';
import { MAX_BUFFERED_MESSAGES, MAX_PENDING_RECORDS } from './settings.js';

const benchDir = fileURLToPath(new URL('../..', import.meta.url));
const repoDir = path.resolve(benchDir, '../..');

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '5' },
    'catch-up': { type: 'string', default: '1000000' },
    replicas: { type: 'string', default: '1,3' },
    'cpu-prof': { type: 'string' },
    'no-write': { type: 'boolean', default: false },
    pending: { type: 'string' },
    buffered: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write(
    [
      'usage: npm run bench:replication -- [options]',
      '  --rounds N      rounds, each running every setup once; default 3',
      '  --seconds N     length of each lag / throughput phase; default 5',
      '  --catch-up N    entries written while the follower is stopped; default 1000000',
      '  --replicas L    stream replica counts to run side by side, each on its own NATS',
      '                  deployment (1: one nats-server, 3 or 5: a cluster of that size); default 1,3',
      '  --cpu-prof DIR  profile the follower process into DIR and print its top self time',
      '  --no-write      do not replace tools/bench/results/replication.{json,md}',
      "  --pending N     the follower's maxPendingRecords (default 4096, as ReplicationNode)",
      "  --buffered N    the follower's maxBufferedMessages (default 64, as ReplicationNode)",
      '',
    ].join('\n'),
  );
  process.exit(0);
}
const replicaCounts = values.replicas.split(',').map((text) => {
  const count = STREAM_REPLICA_CHOICES.find((choice) => String(choice) === text.trim());
  if (count === undefined) {
    process.stderr.write(`--replicas: "${text}" is not 1, 3 or 5\n`);
    process.exit(2);
  }
  return count;
});
const loadAtStart = Math.round((loadavg()[0] ?? 0) * 100) / 100;
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) {
  process.stderr.write(`--rounds: "${values.rounds}" is not a whole number of at least 1\n`);
  process.exit(2);
}
const phaseMs = Number(values.seconds) * 1000;
const catchUpEntries = Number(values['catch-up']);
const profileDir = values['cpu-prof'] !== undefined ? path.resolve(values['cpu-prof']) : undefined;
const pendingRecords = Number(values.pending ?? MAX_PENDING_RECORDS);
const bufferedMessages = Number(values.buffered ?? MAX_BUFFERED_MESSAGES);
const writeResults =
  pendingRecords === MAX_PENDING_RECORDS &&
  bufferedMessages === MAX_BUFFERED_MESSAGES &&
  !values['no-write'] &&
  profileDir === undefined &&
  phaseMs >= 5000 &&
  catchUpEntries >= 1e6 &&
  rounds >= 3 &&
  values.replicas === '1,3';

if (profileDir) await mkdir(profileDir, { recursive: true });
// roundsBySetup[i][r]: setup i (replicaCounts[i]) in round r.
const roundsBySetup: SetupResult[][] = replicaCounts.map(() => []);
for (let round = 0; round < rounds; round++) {
  for (const [index, replicas] of replicaCounts.entries()) {
    console.log(`round ${round + 1}/${rounds}: R${replicas}`);
    const setup = await runSetup(replicas, {
      phaseMs,
      catchUpEntries,
      followerFlags: profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [],
      followerEnv: {
        BENCH_PENDING: String(pendingRecords),
        BENCH_BUFFERED: String(bufferedMessages),
      },
      repoDir,
    });
    roundsBySetup[index]?.push(setup);
  }
}
const setups = roundsBySetup.map((setupRounds) => medianOfRounds(setupRounds));
const spreads = roundsBySetup.map((setupRounds) => spreadOf(setupRounds));

// ---------------------------------------------------------------- report
if (profileDir) {
  const { readdirSync } = await import('node:fs');
  const files = readdirSync(profileDir).filter((file) => file.endsWith('.cpuprofile'));
  const profileSummary = files
    .map(
      (file) =>
        `${file}\n${formatSelfTime(topSelfTime(readCpuProfile(path.join(profileDir, file))))}`,
    )
    .join('\n\n');
  console.log(`\nfollower CPU profiles (top self time):\n${profileSummary}`);
}

const natsServerVersion = (() => {
  const binary =
    process.env['NATS_SERVER'] ??
    (existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server');
  try {
    return execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
})();
const machine = machineInfo(
  ['@strata/replication', '@strata/store', '@strata/wal', 'nats', 'tsx'],
  repoDir,
);
const targets = targetsOf(setups, spreads);
const result: ReplicationResult = {
  benchmark: 'replication',
  loadAverage1m: { start: loadAtStart, end: Math.round((loadavg()[0] ?? 0) * 100) / 100 },
  setup:
    'leader Store sync always + LogPublisher in one process; LogFollower + Store sync always in a forked process; R1: one real nats-server (JetStream file storage) on loopback; R3: three nats-servers routed on loopback, an R3 stream; 1 MiB messages, 64 publishes in flight, 4096 pending appends (ReplicationNode defaults); keys 16 B, values 100 B',
  machine: { ...machine, natsServer: natsServerVersion },
  phaseSeconds: phaseMs / 1000,
  rounds,
  setups,
  spreads,
  roundsBySetup,
  maxPendingRecords: pendingRecords,
  maxBufferedMessages: bufferedMessages,
  targets,
};
console.log(JSON.stringify(targets, null, 2));

if (!writeResults && process.env['BENCH_JSON_OUT'])
  await writeFile(process.env['BENCH_JSON_OUT'], `${JSON.stringify(result, null, 2)}\n`);
if (writeResults) {
  const resultsDir = path.join(benchDir, 'results');
  await writeFile(
    path.join(resultsDir, 'replication.json'),
    `${JSON.stringify(result, null, 2)}\n`,
  );
  await writeFile(path.join(resultsDir, 'replication.md'), renderMarkdown(result));
  console.log(`wrote ${path.join(resultsDir, 'replication.{json,md}')}`);
}
