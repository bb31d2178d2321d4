// The replication benchmark's targets and its Markdown report, R1 and R3 side by side.
import type { MachineInfo } from '../runner/machine.js';
import type { LagResult, SetupResult } from './phases.js';
import type { SetupSpread, Spread } from './rounds.js';

/** One target and whether a setup met it. */
export interface Target {
  readonly target: string;
  readonly measured: string;
  readonly met: boolean;
}

/** What run.ts writes to replication.json (and renders to replication.md). */
export interface ReplicationResult {
  readonly benchmark: 'replication';
  readonly loadAverage1m: { start: number; end: number };
  readonly setup: string;
  readonly machine: MachineInfo & { natsServer: string };
  readonly phaseSeconds: number;
  readonly rounds: number;
  /** Each setup's figures, the median of each over the rounds. */
  readonly setups: SetupResult[];
  /** Per setup, the spread over the rounds of the figures the targets judge. */
  readonly spreads: SetupSpread[];
  /** Per setup, every round's figures. */
  readonly roundsBySetup: SetupResult[][];
  readonly maxPendingRecords: number;
  readonly maxBufferedMessages: number;
  readonly targets: Target[];
}

const n = (value: number): string => Math.round(value).toLocaleString('en-US');
const name = (setup: SetupResult): string =>
  `R${setup.replicas} (${setup.natsServers} nats-server${setup.natsServers === 1 ? '' : 's'})`;

/** The benchmark's targets, checked for every setup on the medians over the rounds. */
export function targetsOf(
  setups: readonly SetupResult[],
  spreads: readonly SetupSpread[],
): Target[] {
  return setups.flatMap((setup, index) => {
    const { top, at10k } = setup.lag;
    const spread = spreads[index];
    const over = (figure: Spread | undefined, format: (value: number) => string): string =>
      figure === undefined || figure.min === figure.max
        ? ''
        : `; rounds ${format(figure.min)}–${format(figure.max)}`;
    return [
      {
        target: `${name(setup)}: follower apply rate at least the leader top durable write rate`,
        measured: `${top.followerVsLeader.toFixed(2)}x (${n(top.followerEntriesPerSec)} vs ${n(top.leaderWritesPerSec)} entries/s${over(spread?.followerVsLeaderAtTop, (value) => `${value.toFixed(2)}x`)})`,
        met: top.followerVsLeader >= 0.99,
      },
      {
        target: `${name(setup)}: lag p99 at most 10 ms at 10k writes/s`,
        measured: `${at10k.lagP99Ms} ms${over(spread?.lagP99At10kMs, (value) => `${value}`)}${at10k.notAppliedWithinWait > 0 ? ` (${at10k.notAppliedWithinWait} writes not applied within 30 s)` : ''}`,
        met: at10k.lagP99Ms <= 10 && at10k.notAppliedWithinWait === 0,
      },
      {
        target: `${name(setup)}: catch-up at least 1,000,000 entries/s`,
        measured: `${n(setup.catchUp.entriesPerSec)} entries/s${over(spread?.catchUpEntriesPerSec, n)}`,
        met: setup.catchUp.entriesPerSec >= 1_000_000,
      },
    ];
  });
}

/** replication.md: the setup, lag and apply rate, quorum writes, catch-up and targets. */
export function renderMarkdown(r: ReplicationResult): string {
  const m = r.machine;
  const lagRow = (load: string, phase: (setup: SetupResult) => LagResult): string[] =>
    r.setups.map((setup) => {
      const p = phase(setup);
      return `| ${load} | ${name(setup)} | ${n(p.leaderWritesPerSec)} | ${p.lagP50Ms} | ${p.lagP99Ms} | ${p.lagMaxMs} | ${n(p.followerEntriesPerSec)} | ${p.followerVsLeader.toFixed(2)}x | ${p.drainMs ?? `stalled (${p.notAppliedWithinWait} writes not applied within 30 s)`} |`;
    });
  return [
    '# Replication: leader -> JetStream -> follower, R1 and R3 streams',
    '',
    `Leader: \`Store\` with \`sync: 'always'\` and a \`LogPublisher\` in one process; follower: \`LogFollower\` applying through \`store.appendReplicated\` into a \`Store\` with \`sync: 'always'\`, in a second process. Between them, for R1 a real nats-server (JetStream, file storage) on loopback and a stream of one replica; for R3 a cluster of three nats-servers routed on loopback and a stream of three replicas (every publish is acknowledged once two of the three servers have it). ReplicationNode's defaults: 1 MiB messages, 64 publishes in flight, 4,096 pending appends. Keys 16 bytes, values 100 bytes. Lag: from the leader's durable \`put\` resolving to the follower having applied (durably) that seqno, wall clock across the two processes. Quorum writes: 64 writers, each waiting for its \`put\` and for the follower to report it applied before the next write (acks=quorum with two of two nodes; the latency runs from the put's start). Each phase runs ${r.phaseSeconds} s after a 1 s warm-up; offered rates are open loop with at most 64 writes outstanding; the top rate is 64 writers closed loop. ${r.rounds} rounds, each running R1 then R3 on fresh deployments; every figure below is its median over the rounds (so a row's figures may come from different rounds), and the targets give the spread of what they judge.`,
    '',
    `Measured ${m.date.slice(0, 10)} on ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}; Node.js ${m.node} (V8 ${m.v8}); ${m.natsServer}; files under ${m.tmpdir}; load average (1 min) ${r.loadAverage1m.start} at the start, ${r.loadAverage1m.end} at the end.`,
    '',
    '> The leader, the follower and the nats-servers (one or three) share 2 cores, so R3 pays for two more server processes on the same cores as well as for the Raft round trip. Compare the load average above with the core count before trusting a figure.',
    '',
    `Versions: ${Object.entries(m.packages)
      .map(([pkg, version]) => `${pkg} ${version}`)
      .join(', ')}.`,
    '',
    '## Lag and apply rate',
    '',
    '| load | stream | leader writes/s | lag p50 ms | lag p99 ms | lag max ms | follower applied entries/s (while writing) | follower / leader | drain after last write ms |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|',
    ...lagRow('1k writes/s offered', (setup) => setup.lag.at1k),
    ...lagRow('10k writes/s offered', (setup) => setup.lag.at10k),
    ...lagRow('top rate, 64 writers', (setup) => setup.lag.top),
    '',
    '## Quorum writes (64 writers, each waits for the follower)',
    '',
    '| stream | acknowledged writes/s | latency p50 ms | latency p99 ms |',
    '|---|--:|--:|--:|',
    ...r.setups.map(
      (setup) =>
        `| ${name(setup)} | ${n(setup.quorum.quorumWritesPerSec)} | ${setup.quorum.latencyP50Ms} | ${setup.quorum.latencyP99Ms} |`,
    ),
    '',
    '## Catch-up',
    '',
    '| stream | entries behind | fill (1,000-entry batches, sync always) ms | catch-up ms | entries/s | follower CPU ms (user + system) |',
    '|---|--:|--:|--:|--:|--:|',
    ...r.setups.map(
      (setup) =>
        `| ${name(setup)} | ${n(setup.catchUp.entries)} | ${n(setup.catchUp.fillMs)} | ${n(setup.catchUp.catchUpMs)} | ${n(setup.catchUp.entriesPerSec)} | ${setup.catchUp.followerCpuMs === null ? '–' : n(setup.catchUp.followerCpuMs)} |`,
    ),
    '',
    '## Targets',
    '',
    '| target | measured | met |',
    '|---|--:|:-:|',
    ...r.targets.map((t) => `| ${t.target} | ${t.measured} | ${t.met ? 'yes' : '**no**'} |`),
    '',
  ].join('\n');
}
