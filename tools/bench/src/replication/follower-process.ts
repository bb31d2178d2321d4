// The follower of the replication benchmark, in its own process (forked with IPC by run.ts):
// opens its store with `sync: 'always'`, runs a LogFollower from a stream sequence, and records
// when each message's records are applied (durable and visible in the store); while asked, it
// also pushes its applied seqno (at most once per event loop turn) for quorum waits.
import { Store } from '@strata/store';
import { connect } from 'nats';
import type { NatsConnection } from 'nats';
import { LogFollower, StreamIndex, clusterNames, silentLogger } from '@strata/replication';
import {
  CLUSTER,
  MAX_BUFFERED_MESSAGES,
  MAX_MESSAGE_BYTES,
  MAX_PENDING_RECORDS,
  nowMs,
} from './settings.js';

export type FollowerCommand =
  | {
      readonly cmd: 'start';
      readonly url: string;
      readonly directory: string;
      readonly from: number;
    }
  | { readonly cmd: 'timeline' }
  | { readonly cmd: 'wait'; readonly seqno: number }
  | { readonly cmd: 'report-applied'; readonly on: boolean }
  | { readonly cmd: 'stop' };

export type FollowerReply =
  | {
      readonly kind: 'started';
      readonly lastSeqno: number;
      readonly atMs: number;
      readonly cpuMs: number;
    }
  | { readonly kind: 'timeline'; readonly seqnos: number[]; readonly times: number[] }
  | {
      readonly kind: 'reached';
      readonly seqno: number;
      readonly atMs: number;
      readonly cpuMs: number;
    }
  | {
      readonly kind: 'stopped';
      readonly streamSequence: number;
      readonly lastSeqno: number;
      readonly refused: number;
    }
  | { readonly kind: 'reporting'; readonly lastSeqno: number; readonly atMs: number }
  | { readonly kind: 'applied'; readonly lastSeqno: number; readonly atMs: number }
  | { readonly kind: 'error'; readonly message: string };

let store: Store | undefined;
let nc: NatsConnection | undefined;
let follower: LogFollower | undefined;
let seqnos: number[] = [];
let times: number[] = [];
let reportApplied = false;
let pushScheduled = false;
let lastApplied = { lastSeqno: 0, atMs: 0 };

/** Pushes the latest applied seqno once this turn of the event loop is over. */
const pushApplied = (): void => {
  if (!reportApplied || pushScheduled) return;
  pushScheduled = true;
  setImmediate(() => {
    pushScheduled = false;
    if (reportApplied) send({ kind: 'applied', ...lastApplied });
  });
};

/** CPU time (user + system) of this process so far, in ms. */
const cpuMs = (): number => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};

const send = (reply: FollowerReply): void => {
  process.send?.(reply);
};

async function start(url: string, directory: string, from: number): Promise<void> {
  store = await Store.open(directory, { sync: 'always' });
  // One URL, or a NATS cluster's URLs comma-separated.
  nc = await connect({ servers: url.split(','), maxReconnectAttempts: -1 });
  const jsm = await nc.jetstreamManager();
  const names = clusterNames(CLUSTER);
  const index = new StreamIndex(jsm, names, MAX_MESSAGE_BYTES * 64);
  const js = nc.jetstream();
  follower = new LogFollower(store, js, index, {
    names,
    maxMessageBytes: MAX_MESSAGE_BYTES + 4096,
    maxRecordBytes: MAX_MESSAGE_BYTES * 64,
    maxPendingRecords: Number(process.env['BENCH_PENDING'] ?? MAX_PENDING_RECORDS),
    maxBufferedMessages: Number(process.env['BENCH_BUFFERED'] ?? MAX_BUFFERED_MESSAGES),
    logger: silentLogger,
    onApplied: (_sequence, lastSeqno) => {
      const atMs = nowMs();
      seqnos.push(lastSeqno);
      times.push(atMs);
      lastApplied = { lastSeqno, atMs };
      pushApplied();
    },
    onStop: (reason) => send({ kind: 'error', message: `follower stopped: ${reason.kind}` }),
  });
  const atMs = nowMs();
  follower.start(from);
  send({ kind: 'started', lastSeqno: store.lastSeqno, atMs, cpuMs: cpuMs() });
}

async function stop(): Promise<void> {
  await follower?.stop();
  const stats = follower?.stats();
  const lastSeqno = store?.lastSeqno ?? 0;
  await store?.close();
  await nc?.close();
  send({
    kind: 'stopped',
    streamSequence: stats?.streamSequence ?? 0,
    lastSeqno,
    refused: stats?.refusedMessages ?? 0,
  });
  process.disconnect();
}

if (process.env['BENCH_DEBUG'])
  setInterval(() => {
    const stats = follower?.stats();
    process.stderr.write(
      `debug follower: last ${store?.lastSeqno} durable ${store?.durableSeqno} stream ${stats?.streamSequence} applied ${stats?.appliedRecords} refused ${stats?.refusedMessages} ${stats?.lastRefusal} restarts ${stats?.consumerRestarts}\n`,
    );
  }, 1000).unref();

process.on('message', (message: FollowerCommand) => {
  const run = async (): Promise<void> => {
    switch (message.cmd) {
      case 'start':
        return start(message.url, message.directory, message.from);
      case 'timeline':
        send({ kind: 'timeline', seqnos, times });
        seqnos = [];
        times = [];
        return;
      case 'wait':
        await (store as Store).waitForSeqno(message.seqno);
        send({ kind: 'reached', seqno: message.seqno, atMs: nowMs(), cpuMs: cpuMs() });
        return;
      case 'report-applied':
        reportApplied = message.on;
        send({ kind: 'reporting', ...lastApplied });
        return;
      case 'stop':
        return stop();
    }
  };
  run().catch((error: unknown) => send({ kind: 'error', message: String(error) }));
});
