import { Command, InvalidArgumentError, Option } from 'commander';
import { pino } from 'pino';
import { SCRUB_DEFAULTS } from '@strata/store';
import type { StoreOptions } from '@strata/store';
import type { SyncMode } from '@strata/wal';
import { startNode } from '../node.js';
import type { ClusterOptions, StrataNode } from '../node.js';
import { StrataError } from '@strata/core';
import {
  DEFAULT_MAX_UNREPLICATED_BYTES,
  DEFAULT_MAX_UNREPLICATED_ENTRIES,
  STREAM_REPLICA_CHOICES,
} from '@strata/replication';
import type { StreamReplicas } from '@strata/replication';
import { DEFAULT_MAX_BATCH_BYTES, DEFAULT_MAX_VALUE_BYTES } from '../http/context.js';
import { DEFAULT_NATS_WAIT_MS } from '../nats-at-startup.js';
import { checkDataDirectory } from './check-data-directory.js';
import { applyConfigFile } from './config-file.js';
import { parseBytes, parseCorsOrigins, parseInteger, parseListen } from './parse.js';
import type { ListenAddress } from './parse.js';
import { describeError } from './output.js';
import type { CommandIo } from './output.js';

interface ServeFlags {
  readonly data: string;
  readonly listen: ListenAddress;
  readonly nodeId?: string;
  readonly token?: string;
  readonly insecure?: boolean;
  readonly cors?: readonly string[];
  readonly sync: SyncMode;
  readonly maxValueBytes: number;
  readonly maxBatchBytes: number;
  readonly memoryBudget?: number;
  readonly memtableBytes?: number;
  readonly logSegmentBytes?: number;
  readonly logRetentionBytes?: number;
  readonly scrubRateBytesPerSecond: number;
  readonly scrubPeriodMs: number;
  readonly scrubStartDelayMs: number;
  readonly requestTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly maxWaitMs: number;
  readonly logLevel: string;
  readonly nats?: string;
  readonly natsWaitMs: number;
  readonly cluster?: string;
  readonly role: 'leader' | 'follower' | 'auto';
  readonly advertiseUrl?: string;
  readonly clusterSize: number;
  readonly acks: 'leader' | 'quorum';
  readonly quorumTimeoutMs: number;
  readonly maxUnreplicatedEntries: number;
  readonly maxUnreplicatedBytes: number;
  readonly leaseTtlMs: number;
  readonly streamMaxBytes?: number;
  readonly streamMaxAgeMs?: number;
  readonly streamReplicas?: StreamReplicas;
}

/** `strata serve`: the node, standalone, on `./data` and 127.0.0.1:7070 by default. */
export function serveCommand(io: CommandIo): Command {
  return new Command('serve')
    .description('serve a data directory over HTTP (standalone node)')
    .option(
      '--config <file>',
      'JSON file of settings named like these flags without the dashes ({"data": "/var/lib/strata", "cluster-size": 3}); flags override it',
    )
    .option(
      '--data <dir>',
      'data directory (created if missing; an existing one must be empty or a Strata data directory)',
      './data',
    )
    .addOption(
      new Option('--listen <host:port>', 'address to listen on')
        .argParser(parseListen)
        .default(parseListen('127.0.0.1:7070'), '127.0.0.1:7070'),
    )
    .option('--node-id <id>', 'node id reported by /v1/status (default: the host name)')
    .addOption(
      new Option('--token <token>', 'bearer token required on every route but /healthz').env(
        'STRATA_TOKEN',
      ),
    )
    .option('--insecure', 'allow a non-loopback --listen address without a token')
    .option(
      '--cors <origins>',
      'browser origins allowed to call the API from their pages, comma-separated (https://app.example.com, or *); default none',
      parseCorsOrigins,
    )
    .addOption(
      new Option(
        '--sync <mode>',
        'when a write is acknowledged: after fsync (always), interval, none',
      )
        .choices(['always', 'interval', 'none'])
        .default('always'),
    )
    .addOption(
      new Option(
        '--max-value-bytes <size>',
        'largest value; bigger PUT bodies get 413 VALUE_TOO_LARGE',
      )
        .argParser(parseBytes)
        .default(DEFAULT_MAX_VALUE_BYTES, '16MiB'),
    )
    .addOption(
      new Option(
        '--max-batch-bytes <size>',
        'largest POST /v1/batch body; bigger get 413 BATCH_TOO_LARGE',
      )
        .argParser(parseBytes)
        .default(DEFAULT_MAX_BATCH_BYTES, '64MiB'),
    )
    .option(
      '--memory-budget <size>',
      'memory for memtables, block cache and index/filter blocks together (default 256MiB)',
      parseBytes,
    )
    .option(
      '--memtable-bytes <size>',
      'memtable size that triggers a flush (default: a quarter of --memory-budget)',
      parseBytes,
    )
    .option('--log-segment-bytes <size>', 'log segment size (default 64MiB)', parseBytes)
    .option(
      '--log-retention-bytes <size>',
      'drop the oldest flushed log segments beyond this size (default: keep the whole log as the event history)',
      parseBytes,
    )
    .option(
      '--scrub-rate-bytes-per-second <size>',
      'background scrub: re-read sealed log and tree segments at most this fast, reporting damage in /v1/status (0: off)',
      parseScrubRate,
      SCRUB_DEFAULTS.rateBytesPerSecond,
    )
    .option(
      '--scrub-period-ms <ms>',
      'background scrub: start a pass this long after the previous one started',
      parseInteger,
      24 * 60 * 60 * 1000,
    )
    .option(
      '--scrub-start-delay-ms <ms>',
      'background scrub: wait this long after the store opens before the first pass',
      parseInteger,
      60_000,
    )
    .option(
      '--request-timeout-ms <ms>',
      'time to receive a whole request; slower clients get 408',
      parseInteger,
      30_000,
    )
    .option(
      '--headers-timeout-ms <ms>',
      'time to receive the request headers',
      parseInteger,
      10_000,
    )
    .option(
      '--max-wait-ms <ms>',
      'longest a ?minSeqno= read waits before 503 TIMEOUT',
      parseInteger,
      5_000,
    )
    .option('--nats <url>', 'NATS server URL(s), comma-separated: join a cluster (needs --cluster)')
    .option(
      '--nats-wait-ms <ms>',
      'how long startup retries an unreachable NATS (with backoff) before giving up with its URL and the cause',
      parseInteger,
      DEFAULT_NATS_WAIT_MS,
    )
    .option('--cluster <name>', 'cluster name (stream STRATA_<name>, subject strata.<name>.log)')
    .addOption(
      new Option(
        '--role <role>',
        'leader: lead when the lease is free; follower: never campaign; auto: take over when the leader is gone',
      )
        .choices(['leader', 'follower', 'auto'])
        .default('auto'),
    )
    .option(
      '--advertise-url <url>',
      'URL other nodes and redirected clients use (default http://<listen>)',
    )
    .option('--cluster-size <n>', 'nodes in the cluster, for acks=quorum', parseInteger, 3)
    .addOption(
      new Option(
        '--acks <mode>',
        'default write acknowledgement (per request: ?acks=): quorum answers once a majority of ' +
          'the cluster has the write fsynced, so it survives the leader dying; leader answers ' +
          "after the leader's own fsync, and such a write may be lost if this leader dies before " +
          'its followers have it',
      )
        .choices(['leader', 'quorum'])
        .default('quorum'),
    )
    .option(
      '--quorum-timeout-ms <ms>',
      'longest an acks=quorum write waits for a majority before 503 TIMEOUT (the write may still apply)',
      parseInteger,
      10_000,
    )
    .option(
      '--max-unreplicated-entries <n>',
      'entries a leader may hold that a quorum does not have yet; past it writes get 503 REPLICATION_BACKLOG',
      parseInteger,
      DEFAULT_MAX_UNREPLICATED_ENTRIES,
    )
    .addOption(
      new Option(
        '--max-unreplicated-bytes <size>',
        'the same bound in log bytes (503 REPLICATION_BACKLOG past it)',
      )
        .argParser(parseBytes)
        .default(DEFAULT_MAX_UNREPLICATED_BYTES, '64MiB'),
    )
    .option(
      '--lease-ttl-ms <ms>',
      'leader lease time to live (renewed every third of it)',
      parseInteger,
      3_000,
    )
    .option(
      '--stream-max-bytes <size>',
      "drop the stream's oldest messages beyond this size (followers behind bootstrap)",
      parseBytes,
    )
    .option('--stream-max-age-ms <ms>', 'drop stream messages older than this', parseInteger)
    .option(
      '--stream-replicas <n>',
      'JetStream replicas of the log stream and the lease bucket: 1, 3 or 5 (default: 3 when ' +
        'the NATS deployment has at least 3 servers, else 1; never fewer than the stream has); ' +
        'an existing stream is changed to it',
      parseStreamReplicas,
    )
    .addOption(
      new Option('--log-level <level>', 'log level (logs are JSON lines on stdout)')
        .choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
        .default('info'),
    )
    .action(async (_flags: ServeFlags, command: Command) => {
      const { config } = command.opts<{ config?: string }>();
      try {
        if (config !== undefined) await applyConfigFile(command, config);
      } catch (error) {
        io.stderr.write(describeError('serve', error));
        process.exit(1);
      }
      // Everything is closed by now; idle timers and worker threads must not hold the exit.
      process.exit(await runServe(command.opts<ServeFlags>(), io));
    });
}

/** The node's cluster options from the flags (`--nats` and `--cluster` go together). */
function clusterOptions(flags: ServeFlags): { cluster?: ClusterOptions } {
  if (flags.nats === undefined && flags.cluster === undefined) return {};
  if (flags.nats === undefined || flags.cluster === undefined) {
    throw new StrataError('INVALID_ARGUMENT', '--nats and --cluster go together');
  }
  if (flags.maxUnreplicatedEntries < 1) {
    throw new StrataError('INVALID_ARGUMENT', '--max-unreplicated-entries must be at least 1');
  }
  return {
    cluster: {
      natsUrl: flags.nats,
      natsWaitMs: flags.natsWaitMs,
      name: flags.cluster,
      role: flags.role,
      size: flags.clusterSize,
      acks: flags.acks,
      quorumTimeoutMs: flags.quorumTimeoutMs,
      maxUnreplicatedEntries: flags.maxUnreplicatedEntries,
      maxUnreplicatedBytes: flags.maxUnreplicatedBytes,
      leaseTtlMs: flags.leaseTtlMs,
      ...(flags.advertiseUrl !== undefined ? { advertiseUrl: flags.advertiseUrl } : {}),
      ...(flags.streamMaxBytes !== undefined ? { streamMaxBytes: flags.streamMaxBytes } : {}),
      ...(flags.streamMaxAgeMs !== undefined ? { streamMaxAgeMs: flags.streamMaxAgeMs } : {}),
      ...(flags.streamReplicas !== undefined ? { streamReplicas: flags.streamReplicas } : {}),
    },
  };
}

/** Parses `--stream-replicas`: 1, 3 or 5 (a Raft group of an even size gains nothing). */
function parseStreamReplicas(text: string): StreamReplicas {
  const replicas = STREAM_REPLICA_CHOICES.find((choice) => String(choice) === text.trim());
  if (replicas === undefined) {
    throw new InvalidArgumentError(`"${text}" is not 1, 3 or 5`);
  }
  return replicas;
}

/** Starts the node and serves until SIGTERM or SIGINT; resolves with the exit code. */
export async function runServe(flags: ServeFlags, io: CommandIo): Promise<number> {
  const logger = pino({ level: flags.logLevel });
  let node: StrataNode;
  try {
    await checkDataDirectory(flags.data);
    node = await startNode({
      dataDirectory: flags.data,
      host: flags.listen.host,
      port: flags.listen.port,
      ...(flags.nodeId ? { nodeId: flags.nodeId } : {}),
      ...(flags.token ? { token: flags.token } : {}),
      insecure: flags.insecure === true,
      ...(flags.cors ? { corsOrigins: flags.cors } : {}),
      sync: flags.sync,
      maxValueBytes: flags.maxValueBytes,
      maxBatchBytes: flags.maxBatchBytes,
      ...(flags.memtableBytes ? { memtableSizeBytes: flags.memtableBytes } : {}),
      storeOptions: {
        ...(flags.memoryBudget ? { memoryBudgetBytes: flags.memoryBudget } : {}),
        ...(flags.logSegmentBytes ? { walSegmentSizeBytes: flags.logSegmentBytes } : {}),
        ...(flags.logRetentionBytes
          ? { retention: { kind: 'max-bytes', maxBytes: flags.logRetentionBytes } }
          : {}),
        ...scrubOptions(flags, logger),
      },
      requestTimeoutMs: flags.requestTimeoutMs,
      headersTimeoutMs: flags.headersTimeoutMs,
      maxWaitMs: flags.maxWaitMs,
      logger,
      ...clusterOptions(flags),
    });
  } catch (error) {
    // The reason in the log (stdout, JSON) and for whoever started the command (stderr).
    const code = (error as { code?: unknown }).code;
    logger.fatal(
      { event: 'startup-failed', code: typeof code === 'string' ? code : undefined },
      `startup failed: ${error instanceof Error ? error.message : String(error)}`,
    );
    io.stderr.write(describeError('serve', error));
    return 1;
  }
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  logger.info({ signal }, 'shutting down: no new requests, finishing in-flight ones');
  // A second signal while closing means "now".
  const force = (): void => {
    io.stderr.write('strata serve: second signal, exiting without a clean close\n');
    process.exit(1);
  };
  process.once('SIGTERM', force);
  process.once('SIGINT', force);
  try {
    await node.close();
  } catch (error) {
    io.stderr.write(describeError('serve', error));
    return 1;
  }
  logger.info('stopped');
  return 0;
}

/** `--scrub-rate-bytes-per-second`: a size, or 0 for no scrub. */
function parseScrubRate(text: string): number {
  return text.trim() === '0' ? 0 : parseBytes(text);
}

/** The store's scrub from the flags; each damaged place it finds is logged as a warning. */
function scrubOptions(
  flags: ServeFlags,
  logger: { warn(fields: object, message: string): void },
): { scrub?: StoreOptions['scrub'] } {
  if (flags.scrubRateBytesPerSecond === 0) return {};
  return {
    scrub: {
      rateBytesPerSecond: flags.scrubRateBytesPerSecond,
      periodMs: flags.scrubPeriodMs,
      startDelayMs: flags.scrubStartDelayMs,
      onDamage: (damage) =>
        logger.warn(
          { scrubDamage: damage },
          `scrub found damage in ${damage.file} at offset ${damage.offset}: ${damage.reason}`,
        ),
    },
  };
}
