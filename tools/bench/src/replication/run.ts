// Replication benchmark: `npm run bench:replication -- [--seconds N] [--catch-up N] [--cpu-prof DIR]`.
// The leader (Store, `sync: 'always'`, LogPublisher) runs in this process, the follower
// (LogFollower -> store.appendReplicated, `sync: 'always'`) in a forked process, with a real
// nats-server (JetStream, file storage) between them: publisher -> JetStream -> follower -> store.
// Measures (1) lag from the leader's put resolving to the follower having applied that seqno, at
// 1k and 10k writes/s offered (open loop, at most 64 writes outstanding) and at the leader's top
// rate (64 writers, closed loop); (2) the follower's apply rate next to the leader's top durable
// rate; (3) catch-up of 1,000,000 entries written while the follower was stopped.
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Store } from '@strata/store';
import { startNatsServer } from '@strata/testing';
import { connect } from 'nats';
import { machineInfo } from '../runner/machine.js';
import { formatSelfTime, readCpuProfile, topSelfTime } from '../runner/profile-summary.js';
import { quantile } from '../runner/stats.js';
import type { FollowerCommand, FollowerReply } from './follower-process.js';
import {
  LogPublisher,
  StreamIndex,
  clusterNames,
  ensureLogStream,
  silentLogger,
} from '@strata/replication';
import {
  CLUSTER,
  MAX_IN_FLIGHT_MESSAGES,
  MAX_MESSAGE_BYTES,
  MAX_BUFFERED_MESSAGES,
  MAX_PENDING_RECORDS,
  nowMs,
} from './settings.js';

const benchDir = fileURLToPath(new URL('../..', import.meta.url));
const repoDir = path.resolve(benchDir, '../..');

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    'catch-up': { type: 'string', default: '1000000' },
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
      '  --seconds N     length of each lag / throughput phase; default 5',
      '  --catch-up N    entries written while the follower is stopped; default 1000000',
      '  --cpu-prof DIR  profile the follower process into DIR and print its top self time',
      '  --no-write      do not replace tools/bench/results/replication.{json,md}',
      "  --pending N     the follower's maxPendingRecords (default 4096, as ReplicationNode)",
      "  --buffered N    the follower's maxBufferedMessages (default 64, as ReplicationNode)",
      '',
    ].join('\n'),
  );
  process.exit(0);
}
const loadAtStart = Math.round((loadavg()[0] ?? 0) * 100) / 100;
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
  catchUpEntries >= 1e6;

// 16-byte keys, 100-byte values about half compressible (as BENCHMARKS.md's workloads).
const keyOf = (index: number): Buffer => Buffer.from(index.toString(16).padStart(16, '0'));
const valueOf = (index: number): Buffer => {
  const value = Buffer.alloc(100, 'v');
  let x = (index * 2654435761) >>> 0;
  for (let offset = 0; offset < 50; offset++) {
    x = (x * 1103515245 + 12345) >>> 0;
    value[offset] = 33 + (x % 90);
  }
  return value;
};

// ---------------------------------------------------------------- follower process
class FollowerProcess {
  private readonly child: ChildProcess;
  private readonly waiters: { kind: string; resolve: (reply: FollowerReply) => void }[] = [];
  readonly errors: string[] = [];

  constructor(nodeFlags: string[]) {
    this.child = fork(fileURLToPath(new URL('./follower-process.ts', import.meta.url)), [], {
      cwd: repoDir,
      execArgv: ['--import', 'tsx', ...nodeFlags],
      env: {
        ...process.env,
        BENCH_PENDING: String(pendingRecords),
        BENCH_BUFFERED: String(bufferedMessages),
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (reply: FollowerReply) => {
      if (reply.kind === 'error') {
        this.errors.push(reply.message);
        process.stderr.write(`follower: ${reply.message}\n`);
        return;
      }
      const index = this.waiters.findIndex((waiter) => waiter.kind === reply.kind);
      if (index >= 0) this.waiters.splice(index, 1)[0]?.resolve(reply);
    });
  }

  request<K extends FollowerReply['kind']>(
    command: FollowerCommand,
    kind: K,
  ): Promise<Extract<FollowerReply, { kind: K }>> {
    return new Promise((resolve) => {
      this.waiters.push({
        kind,
        resolve: (reply) => resolve(reply as Extract<FollowerReply, { kind: K }>),
      });
      this.child.send(command);
    });
  }

  async exit(): Promise<void> {
    if (this.child.exitCode !== null) return;
    await new Promise((resolve) => this.child.once('exit', resolve));
  }
}

// ---------------------------------------------------------------- setup
const workDir = await mkdtemp(path.join(tmpdir(), 'strata-replication-bench-'));
const leaderDir = path.join(workDir, 'leader');
const followerDir = path.join(workDir, 'follower');
const server = await startNatsServer();
const nc = await connect({ servers: server.url });
const names = clusterNames(CLUSTER);
const jsm = await nc.jetstreamManager();
await ensureLogStream(jsm, names, { maxMessageBytes: MAX_MESSAGE_BYTES });
const leader = await Store.open(leaderDir, { sync: 'always' });
const publisher = new LogPublisher(
  leader,
  nc.jetstream(),
  new StreamIndex(jsm, names, MAX_MESSAGE_BYTES * 64),
  {
    names,
    epoch: 0,
    maxMessageBytes: MAX_MESSAGE_BYTES,
    maxInFlightMessages: MAX_IN_FLIGHT_MESSAGES,
    publishTimeoutMs: 5_000,
    logger: silentLogger,
    onFenced: (reason) => process.stderr.write(`publisher fenced: ${reason}\n`),
  },
);
publisher.start();
if (profileDir) await mkdir(profileDir, { recursive: true });
const followerFlags = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
let follower = new FollowerProcess(followerFlags);
await follower.request(
  { cmd: 'start', url: server.url, directory: followerDir, from: 1 },
  'started',
);

let nextKey = 0;
const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface WriteLog {
  seqnos: number[];
  acks: number[];
}

/** Open loop: `rate` writes/s scheduled from the start, at most 64 outstanding. */
async function openLoop(
  rate: number,
  durationMs: number,
): Promise<WriteLog & { elapsedMs: number }> {
  const log: WriteLog = { seqnos: [], acks: [] };
  let outstanding = 0;
  let issued = 0;
  const started = performance.now();
  const total = Math.round((rate * durationMs) / 1000);
  const done: Promise<void>[] = [];
  while (issued < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) * rate) / 1000) + 1);
    while (issued < due && outstanding < 64) {
      issued++;
      outstanding++;
      const index = nextKey++;
      done.push(
        leader.put(keyOf(index), valueOf(index)).then(({ seqno }) => {
          log.acks.push(nowMs());
          log.seqnos.push(seqno);
          outstanding--;
        }),
      );
    }
    await delay(1);
  }
  await Promise.all(done);
  return { ...log, elapsedMs: performance.now() - started };
}

/** Closed loop: 64 writers, each awaiting its durable put before the next. */
async function closedLoop(durationMs: number): Promise<WriteLog & { elapsedMs: number }> {
  const log: WriteLog = { seqnos: [], acks: [] };
  const started = performance.now();
  const end = started + durationMs;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (performance.now() < end) {
        const index = nextKey++;
        const { seqno } = await leader.put(keyOf(index), valueOf(index));
        log.acks.push(nowMs());
        log.seqnos.push(seqno);
      }
    }),
  );
  return { ...log, elapsedMs: performance.now() - started };
}

interface LagResult {
  offeredPerSec: number | null;
  writes: number;
  leaderWritesPerSec: number;
  lagP50Ms: number;
  lagP99Ms: number;
  lagMaxMs: number;
  followerEntriesPerSec: number;
  followerVsLeader: number;
  /** Null when the follower had not applied the last write within the wait. */
  drainMs: number | null;
  notAppliedWithinWait: number;
}

const WAIT_MS = 30_000;

/** The follower's reply once it applied `seqno`; undefined if not within {@link WAIT_MS}. */
async function waitApplied(seqno: number): Promise<{ atMs: number; cpuMs: number } | undefined> {
  const reached = follower.request({ cmd: 'wait', seqno }, 'reached');
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([
    reached,
    new Promise<undefined>((resolve) => (timer = setTimeout(resolve, WAIT_MS, undefined))),
  ]);
  clearTimeout(timer);
  if (result === undefined) {
    stalls.push(`seqno ${seqno} not applied within ${WAIT_MS} ms`);
    process.stderr.write(`follower stalled: ${stalls[stalls.length - 1]}\n`);
  }
  return result;
}
const stalls: string[] = [];

/** Runs a write phase, waits for the follower to apply its last write, computes lag per write. */
async function lagPhase(rate: number | null): Promise<LagResult> {
  await follower.request({ cmd: 'timeline' }, 'timeline'); // reset
  const firstSeqno = leader.lastSeqno + 1;
  const startedAt = nowMs();
  const log = rate === null ? await closedLoop(phaseMs) : await openLoop(rate, phaseMs);
  const lastSeqno = leader.lastSeqno;
  const writesEndedAt = nowMs();
  const reached = await waitApplied(lastSeqno);
  const timeline = await follower.request({ cmd: 'timeline' }, 'timeline');
  const lags: number[] = [];
  let cursor = 0;
  const order = log.seqnos.map((_, index) => index).sort((a, b) => log.seqnos[a]! - log.seqnos[b]!);
  for (const index of order) {
    const seqno = log.seqnos[index]!;
    while (cursor < timeline.seqnos.length && timeline.seqnos[cursor]! < seqno) cursor++;
    const appliedAt = timeline.times[cursor] ?? reached?.atMs;
    if (appliedAt === undefined) continue;
    lags.push(Math.max(0, appliedAt - log.acks[index]!));
  }
  lags.sort((a, b) => a - b);
  // Entries the follower applied while the leader was writing, per second of writing.
  let appliedDuring = 0;
  for (let index = 0; index < timeline.seqnos.length; index++)
    if (timeline.times[index]! <= writesEndedAt) appliedDuring = timeline.seqnos[index]!;
  const appliedEntries = Math.max(0, appliedDuring - firstSeqno + 1);
  const writingSec = (writesEndedAt - startedAt) / 1000;
  const leaderWritesPerSec = log.seqnos.length / (log.elapsedMs / 1000);
  const followerEntriesPerSec = appliedEntries / writingSec;
  return {
    offeredPerSec: rate,
    writes: log.seqnos.length,
    leaderWritesPerSec: Math.round(leaderWritesPerSec),
    lagP50Ms: round2(quantile(lags, 0.5)),
    lagP99Ms: round2(quantile(lags, 0.99)),
    lagMaxMs: round2(lags[lags.length - 1] ?? Number.NaN),
    followerEntriesPerSec: Math.round(followerEntriesPerSec),
    followerVsLeader: round2(followerEntriesPerSec / leaderWritesPerSec),
    drainMs: reached ? round2(Math.max(0, reached.atMs - writesEndedAt)) : null,
    notAppliedWithinWait: log.seqnos.length - lags.length,
  };
}

const round2 = (value: number): number => Math.round(value * 100) / 100;

// ---------------------------------------------------------------- phases
if (process.env['BENCH_DEBUG'])
  setInterval(() => {
    process.stderr.write(
      `debug: leader ${leader.lastSeqno} durable ${leader.durableSeqno} published ${publisher.stats().publishedSeqno}\n`,
    );
  }, 1000).unref();
// A short warm-up (JIT, consumer, files), not reported.
await openLoop(2_000, 1_000);
await waitApplied(leader.lastSeqno);

const lag1k = await lagPhase(1_000);
console.log('lag at 1k/s', lag1k);
const lag10k = await lagPhase(10_000);
console.log('lag at 10k/s', lag10k);
const top = await lagPhase(null);
console.log('top rate (64 writers)', top);

// Catch-up: stop the follower, fill the leader, start the follower again.
const stopped = await follower.request({ cmd: 'stop' }, 'stopped');
await follower.exit();
const fillStarted = performance.now();
for (let written = 0; written < catchUpEntries; written += 1_000) {
  await leader.batch(
    Array.from({ length: 1_000 }, (_, offset) => {
      const index = nextKey++;
      void offset;
      return { type: 'put' as const, key: keyOf(index), value: valueOf(index) };
    }),
  );
}
const fillMs = performance.now() - fillStarted;
await publisher.waitForPublished(leader.lastSeqno);
const behind = leader.lastSeqno - stopped.lastSeqno;
follower = new FollowerProcess(followerFlags);
const restarted = await follower.request(
  { cmd: 'start', url: server.url, directory: followerDir, from: stopped.streamSequence + 1 },
  'started',
);
const caughtUp = await waitApplied(leader.lastSeqno);
// A stalled catch-up counts as taking the whole wait.
const catchUpMs = (caughtUp?.atMs ?? nowMs()) - restarted.atMs;
const catchUp = {
  entries: behind,
  fillMs: Math.round(fillMs),
  catchUpMs: Math.round(catchUpMs),
  entriesPerSec: Math.round(behind / (catchUpMs / 1000)),
  /** CPU time (user + system) of the follower process while catching up. */
  followerCpuMs: caughtUp ? Math.round(caughtUp.cpuMs - restarted.cpuMs) : null,
  stalled: caughtUp === undefined,
};
console.log('catch-up', catchUp);

const publisherStats = publisher.stats();
await follower.request({ cmd: 'stop' }, 'stopped');
await follower.exit();
await publisher.stop();
await leader.close();
await nc.close();
await server.stop();
await rm(workDir, { recursive: true, force: true });

// ---------------------------------------------------------------- report
let profileSummary: string | undefined;
if (profileDir) {
  const { readdirSync } = await import('node:fs');
  const files = readdirSync(profileDir).filter((file) => file.endsWith('.cpuprofile'));
  profileSummary = files
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
const targets = [
  {
    target: 'follower apply rate at least the leader top durable write rate',
    measured: `${top.followerVsLeader.toFixed(2)}x (${top.followerEntriesPerSec.toLocaleString('en-US')} vs ${top.leaderWritesPerSec.toLocaleString('en-US')} entries/s)`,
    met: top.followerVsLeader >= 0.99,
  },
  {
    target: 'lag p99 at most 10 ms at 10k writes/s',
    measured: `${lag10k.lagP99Ms} ms${lag10k.notAppliedWithinWait > 0 ? ` (${lag10k.notAppliedWithinWait} writes not applied within 30 s)` : ''}`,
    met: lag10k.lagP99Ms <= 10 && lag10k.notAppliedWithinWait === 0,
  },
  {
    target: 'catch-up at least 500,000 entries/s',
    measured: `${catchUp.entriesPerSec.toLocaleString('en-US')} entries/s`,
    met: catchUp.entriesPerSec >= 500_000,
  },
];
const result = {
  benchmark: 'replication',
  loadAverage1m: { start: loadAtStart, end: round2(loadavg()[0] ?? 0) },
  setup:
    'leader Store sync always + LogPublisher in one process; LogFollower + Store sync always in a forked process; real nats-server (JetStream file storage) on loopback; 1 MiB messages, 64 publishes in flight, 4096 pending appends (ReplicationNode defaults); keys 16 B, values 100 B',
  machine: { ...machine, natsServer: natsServerVersion },
  phaseSeconds: phaseMs / 1000,
  lag: { at1k: lag1k, at10k: lag10k, top },
  catchUp,
  publisher: publisherStats,
  followerErrors: follower.errors,
  followerStalls: stalls,
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

function renderMarkdown(r: typeof result): string {
  const n = (value: number): string => Math.round(value).toLocaleString('en-US');
  const row = (name: string, phase: LagResult): string =>
    `| ${name} | ${n(phase.leaderWritesPerSec)} | ${phase.lagP50Ms} | ${phase.lagP99Ms} | ${phase.lagMaxMs} | ${n(phase.followerEntriesPerSec)} | ${phase.followerVsLeader.toFixed(2)}x | ${phase.drainMs ?? `stalled (${phase.notAppliedWithinWait} writes not applied within 30 s)`} |`;
  const m = r.machine;
  return [
    '# Replication: leader -> JetStream -> follower',
    '',
    `Leader: \`Store\` with \`sync: 'always'\` and a \`LogPublisher\` in one process; follower: \`LogFollower\` applying through \`store.appendReplicated\` into a \`Store\` with \`sync: 'always'\`, in a second process; a real nats-server (JetStream, file storage) on loopback between them. ReplicationNode's defaults: 1 MiB messages, 64 publishes in flight, 4,096 pending appends. Keys 16 bytes, values 100 bytes. Lag: from the leader's durable \`put\` resolving to the follower having applied (durably) that seqno, wall clock across the two processes. Each phase runs ${r.phaseSeconds} s after a 1 s warm-up; offered rates are open loop with at most 64 writes outstanding; the top rate is 64 writers closed loop.`,
    '',
    `Measured ${m.date.slice(0, 10)} on ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}; Node.js ${m.node} (V8 ${m.v8}); ${m.natsServer}; files under ${m.tmpdir}; load average (1 min) ${r.loadAverage1m.start} at the start, ${r.loadAverage1m.end} at the end.`,
    '',
    '> Noisy machine: 2 cores shared with other test suites and benchmarks during this run, and the leader, the follower and nats-server compete for them. One run, no rounds; figures drift from run to run, so read them as orders of magnitude and ratios, and rerun on an idle machine before quoting one.',
    '',
    `Versions: ${Object.entries(m.packages)
      .map(([name, version]) => `${name} ${version}`)
      .join(', ')}.`,
    '',
    '## Lag and apply rate',
    '',
    '| load | leader writes/s | lag p50 ms | lag p99 ms | lag max ms | follower applied entries/s (while writing) | follower / leader | drain after last write ms |',
    '|---|--:|--:|--:|--:|--:|--:|--:|',
    row('1k writes/s offered', r.lag.at1k),
    row('10k writes/s offered', r.lag.at10k),
    row('top rate, 64 writers', r.lag.top),
    '',
    '## Catch-up',
    '',
    '| entries behind | fill (1,000-entry batches, sync always) ms | catch-up ms | entries/s | follower CPU ms (user + system) |',
    '|--:|--:|--:|--:|--:|',
    `| ${n(r.catchUp.entries)} | ${n(r.catchUp.fillMs)} | ${n(r.catchUp.catchUpMs)} | ${n(r.catchUp.entriesPerSec)} | ${r.catchUp.followerCpuMs === null ? '–' : n(r.catchUp.followerCpuMs)} |`,
    '',
    '## Targets',
    '',
    '| target | measured | met |',
    '|---|--:|:-:|',
    ...r.targets.map((t) => `| ${t.target} | ${t.measured} | ${t.met ? 'yes' : '**no**'} |`),
    '',
  ].join('\n');
}
