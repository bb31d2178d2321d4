import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../http/context.js';

/** Routes whose GET requests count as reads in {@link NodeStats.reads}. */
const READ_ROUTES: ReadonlySet<string> = new Set(['/v1/kv/:key', '/v1/kv', '/v1/history/:key']);

/** A log segment's file name: its first seqno as 20 digits, then `.log`. */
const LOG_SEGMENT_NAME = /^\d{20}\.log$/;

/**
 * What `GET /v1/stats` answers: this node's running totals and storage layout, for the dashboard
 * (which turns two readings into rates). Counts are running totals since the node started.
 */
export interface NodeStats {
  readonly nodeId: string;
  /** When this reading was taken (ms since the Unix epoch). */
  readonly atMs: number;
  /** Entries in this node's log: its last applied seqno (writes and replicated entries alike). */
  readonly lastSeqno: number;
  readonly durableSeqno: number;
  /** GET requests answered on the read routes (a key, a range, a key's history); null without metrics. */
  readonly reads: number | null;
  readonly log: {
    readonly segmentCount: number;
    readonly sizeBytes: number;
    /** The first seqno the log still holds (retention dropped the ones before). */
    readonly firstRetainedSeqno: number;
    /** The oldest seqno a read with `at` may ask for (the history window). */
    readonly oldestReadableSeqno: number;
  };
  readonly tree: {
    readonly memtableSizeBytes: number;
    readonly diskSpaceBytes: number;
    /** Each level's segments and their file bytes, level 0 first. */
    readonly levels: readonly {
      readonly level: number;
      readonly segmentCount: number;
      readonly sizeBytes: number;
    }[];
  };
  readonly blockCache: {
    readonly hits: number;
    readonly misses: number;
    readonly entries: number;
    readonly sizeBytes: number;
  };
}

/** `GET /v1/stats`: {@link NodeStats} as JSON (behind the token, like every data route). */
export function registerStatsRoute(app: FastifyInstance, context: RouteContext): void {
  app.get('/v1/stats', async (_request, reply) => {
    const store = context.store;
    const stats = store.stats();
    const [log, reads] = await Promise.all([logFiles(context), readRequests(context)]);
    const body: NodeStats = {
      nodeId: context.options.nodeId,
      atMs: Date.now(),
      lastSeqno: stats.lastSeqno,
      durableSeqno: stats.durableSeqno,
      reads,
      log: {
        ...log,
        firstRetainedSeqno: stats.firstRetainedSeqno,
        oldestReadableSeqno: store.oldestReadableSeqno,
      },
      tree: {
        memtableSizeBytes: stats.memtableSizeBytes,
        diskSpaceBytes: stats.diskSpaceBytes,
        levels: stats.levels.map((level, index) => ({ level: index, ...level })),
      },
      blockCache: stats.blockCache,
    };
    return reply.header('cache-control', 'no-store').send(body);
  });
}

/** The log's segment files now: how many, and their bytes (a file retention drops meanwhile is skipped). */
async function logFiles(
  context: RouteContext,
): Promise<{ segmentCount: number; sizeBytes: number }> {
  const { fileSystem, directory } = context.store;
  const names = (await fileSystem.readdir(directory.walDirectory)).filter((name) =>
    LOG_SEGMENT_NAME.test(name),
  );
  const sizes = await Promise.all(
    names.map((name) =>
      fileSystem
        .stat(join(directory.walDirectory, name))
        .then((stat) => stat.sizeBytes)
        .catch(() => undefined),
    ),
  );
  const present = sizes.filter((size): size is number => size !== undefined);
  return { segmentCount: present.length, sizeBytes: present.reduce((sum, size) => sum + size, 0) };
}

/** GET requests answered on the read routes so far, from the HTTP request counter. */
async function readRequests(context: RouteContext): Promise<number | null> {
  if (!context.metrics) return null;
  const { values } = await context.metrics.httpRequests.get();
  let total = 0;
  for (const { labels, value } of values) {
    if (labels.method === 'GET' && READ_ROUTES.has(String(labels.route))) total += value;
  }
  return total;
}
