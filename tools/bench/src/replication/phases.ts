// One setup of the replication benchmark: a leader (Store + LogPublisher) in this process, a
// follower (follower-process.ts) forked, and between them either one nats-server with an R1
// stream or a 3-server NATS cluster with an R3 stream. Runs the lag phases (1k/s and 10k/s
// offered, top rate), the quorum phase (each write waits for the follower, as acks=quorum with
// two of two) and the catch-up, and returns their figures.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Store } from '@strata/store';
import { startNatsCluster, startNatsServer } from '@strata/testing';
import { connect } from 'nats';
import { LogPublisher, StreamIndex, clusterNames, ensureLogStream } from '@strata/replication';
import { silentLogger } from '@strata/replication';
import type { PublisherStats, StreamReplicas } from '@strata/replication';
import { quantile } from '../runner/stats.js';
import { FollowerClient } from './follower-client.js';
import { CLUSTER, MAX_IN_FLIGHT_MESSAGES, MAX_MESSAGE_BYTES, nowMs } from './settings.js';

/** What one setup is run with. */
export interface SetupOptions {
  readonly phaseMs: number;
  readonly catchUpEntries: number;
  readonly followerFlags: readonly string[];
  readonly followerEnv: NodeJS.ProcessEnv;
  readonly repoDir: string;
}

/** Figures of one lag phase. */
export interface LagResult {
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

/** Figures of the quorum phase: writes acknowledged once the follower applied them too. */
export interface QuorumResult {
  writers: number;
  writes: number;
  quorumWritesPerSec: number;
  /** From the put's start to this process hearing that the follower has it applied. */
  latencyP50Ms: number;
  latencyP99Ms: number;
}

/** Figures of one setup. */
export interface SetupResult {
  replicas: StreamReplicas;
  natsServers: number;
  lag: { at1k: LagResult; at10k: LagResult; top: LagResult };
  quorum: QuorumResult;
  catchUp: {
    entries: number;
    fillMs: number;
    catchUpMs: number;
    entriesPerSec: number;
    followerCpuMs: number | null;
    stalled: boolean;
  };
  publisher: PublisherStats;
  followerErrors: string[];
  followerStalls: string[];
}

const WAIT_MS = 30_000;
const WRITERS = 64;
const round2 = (value: number): number => Math.round(value * 100) / 100;
const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// 16-byte keys, 100-byte values about half compressible (as the kv workloads).
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

interface WriteLog {
  seqnos: number[];
  acks: number[];
}

/** Runs every phase on a fresh NATS deployment with `replicas` stream replicas. */
export async function runSetup(
  replicas: StreamReplicas,
  options: SetupOptions,
): Promise<SetupResult> {
  const workDir = await mkdtemp(path.join(tmpdir(), 'strata-replication-bench-'));
  const leaderDir = path.join(workDir, 'leader');
  const followerDir = path.join(workDir, 'follower');
  const single = replicas === 1 ? await startNatsServer() : undefined;
  const cluster = replicas === 1 ? undefined : await startNatsCluster({ size: replicas });
  const natsUrl = single?.url ?? cluster!.url;
  const nc = await connect({ servers: natsUrl.split(','), maxReconnectAttempts: -1 });
  const names = clusterNames(CLUSTER);
  const jsm = await nc.jetstreamManager();
  await ensureLogStream(jsm, names, { maxMessageBytes: MAX_MESSAGE_BYTES }, replicas);
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
  const newFollower = (): FollowerClient =>
    new FollowerClient(options.followerFlags, options.repoDir, options.followerEnv);
  let follower = newFollower();
  await follower.request(
    { cmd: 'start', url: natsUrl, directory: followerDir, from: 1 },
    'started',
  );
  const stalls: string[] = [];
  let nextKey = 0;

  /** Open loop: `rate` writes/s scheduled from the start, at most 64 outstanding. */
  async function openLoop(rate: number, durationMs: number): Promise<WriteLog & { ms: number }> {
    const log: WriteLog = { seqnos: [], acks: [] };
    let outstanding = 0;
    let issued = 0;
    const started = performance.now();
    const total = Math.round((rate * durationMs) / 1000);
    const done: Promise<void>[] = [];
    while (issued < total) {
      const due = Math.min(total, Math.floor(((performance.now() - started) * rate) / 1000) + 1);
      while (issued < due && outstanding < WRITERS) {
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
    return { ...log, ms: performance.now() - started };
  }

  /** Closed loop: 64 writers, each awaiting its durable put before the next. */
  async function closedLoop(durationMs: number): Promise<WriteLog & { ms: number }> {
    const log: WriteLog = { seqnos: [], acks: [] };
    const started = performance.now();
    const end = started + durationMs;
    await Promise.all(
      Array.from({ length: WRITERS }, async () => {
        while (performance.now() < end) {
          const index = nextKey++;
          const { seqno } = await leader.put(keyOf(index), valueOf(index));
          log.acks.push(nowMs());
          log.seqnos.push(seqno);
        }
      }),
    );
    return { ...log, ms: performance.now() - started };
  }

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
      stalls.push(`R${replicas}: seqno ${seqno} not applied within ${WAIT_MS} ms`);
      process.stderr.write(`follower stalled: ${stalls[stalls.length - 1]}\n`);
    }
    return result;
  }

  /** Runs a write phase, waits for the follower to apply its last write, computes lag per write. */
  async function lagPhase(rate: number | null): Promise<LagResult> {
    await follower.request({ cmd: 'timeline' }, 'timeline'); // reset
    const firstSeqno = leader.lastSeqno + 1;
    const startedAt = nowMs();
    const log =
      rate === null ? await closedLoop(options.phaseMs) : await openLoop(rate, options.phaseMs);
    const lastSeqno = leader.lastSeqno;
    const writesEndedAt = nowMs();
    const reached = await waitApplied(lastSeqno);
    const timeline = await follower.request({ cmd: 'timeline' }, 'timeline');
    const lags: number[] = [];
    let cursor = 0;
    const order = log.seqnos.map((_, i) => i).sort((a, b) => log.seqnos[a]! - log.seqnos[b]!);
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
    const leaderWritesPerSec = log.seqnos.length / (log.ms / 1000);
    const followerEntriesPerSec = appliedEntries / ((writesEndedAt - startedAt) / 1000);
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

  /** 64 writers, each awaiting its put and the follower having applied it before the next. */
  async function quorumPhase(): Promise<QuorumResult> {
    await follower.reportApplied(true);
    const latencies: number[] = [];
    const started = performance.now();
    const end = started + options.phaseMs;
    await Promise.all(
      Array.from({ length: WRITERS }, async () => {
        while (performance.now() < end) {
          const index = nextKey++;
          const sentAt = nowMs();
          const { seqno } = await leader.put(keyOf(index), valueOf(index));
          // Acknowledged here once the follower said it has it (its message's arrival time).
          await follower.applied(seqno);
          latencies.push(nowMs() - sentAt);
        }
      }),
    );
    const ms = performance.now() - started;
    await follower.reportApplied(false);
    return {
      writers: WRITERS,
      writes: latencies.length,
      quorumWritesPerSec: Math.round(latencies.length / (ms / 1000)),
      latencyP50Ms: round2(quantile(latencies, 0.5)),
      latencyP99Ms: round2(quantile(latencies, 0.99)),
    };
  }

  const label = `R${replicas}`;
  // A short warm-up (JIT, consumer, files), not reported.
  await openLoop(2_000, 1_000);
  await waitApplied(leader.lastSeqno);
  const at1k = await lagPhase(1_000);
  console.log(`${label} lag at 1k/s`, at1k);
  const at10k = await lagPhase(10_000);
  console.log(`${label} lag at 10k/s`, at10k);
  const top = await lagPhase(null);
  console.log(`${label} top rate (64 writers)`, top);
  const quorum = await quorumPhase();
  console.log(`${label} quorum writes (64 writers)`, quorum);

  // Catch-up: stop the follower, fill the leader, start the follower again.
  const stopped = await follower.request({ cmd: 'stop' }, 'stopped');
  await follower.exit();
  const fillStarted = performance.now();
  for (let written = 0; written < options.catchUpEntries; written += 1_000) {
    await leader.batch(
      Array.from({ length: 1_000 }, () => {
        const index = nextKey++;
        return { type: 'put' as const, key: keyOf(index), value: valueOf(index) };
      }),
    );
  }
  const fillMs = performance.now() - fillStarted;
  await publisher.waitForPublished(leader.lastSeqno);
  const behind = leader.lastSeqno - stopped.lastSeqno;
  follower = newFollower();
  const restarted = await follower.request(
    { cmd: 'start', url: natsUrl, directory: followerDir, from: stopped.streamSequence + 1 },
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
  console.log(`${label} catch-up`, catchUp);

  const publisherStats = publisher.stats();
  await follower.request({ cmd: 'stop' }, 'stopped');
  await follower.exit();
  await publisher.stop();
  await leader.close();
  await nc.close();
  await single?.stop();
  await cluster?.stop();
  await rm(workDir, { recursive: true, force: true });
  return {
    replicas,
    natsServers: cluster?.servers.length ?? 1,
    lag: { at1k, at10k, top },
    quorum,
    catchUp,
    publisher: publisherStats,
    followerErrors: follower.errors,
    followerStalls: stalls,
  };
}
