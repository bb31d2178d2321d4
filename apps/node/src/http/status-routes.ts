import type { FastifyInstance } from 'fastify';
import type { RouteContext } from './context.js';
import { StartupLogCheck, recoveryStatus } from '../startup-log-check.js';

/** The package version reported by `/v1/status` (kept in step with package.json). */
export const NODE_VERSION = '0.1.0';

/** `GET /healthz` (no token needed), `GET /v1/status`, `GET /metrics`. */
export function registerStatusRoutes(app: FastifyInstance, context: RouteContext): void {
  const { options, metrics } = context;

  app.get('/healthz', async (_request, reply) => {
    const status = context.store.status;
    return reply
      .code(status === 'open' ? 200 : 503)
      .send({ status: status === 'open' ? 'ok' : status });
  });

  app.get('/v1/status', async (_request, reply) => {
    const stats = context.store.stats();
    return reply.send({
      nodeId: options.nodeId,
      role: 'standalone',
      ...context.cluster?.status(),
      status: stats.status,
      epoch: stats.epoch,
      lastSeqno: stats.lastSeqno,
      durableSeqno: stats.durableSeqno,
      firstRetainedSeqno: stats.firstRetainedSeqno,
      oldestReadableSeqno: context.store.oldestReadableSeqno,
      memtableSizeBytes: stats.memtableSizeBytes,
      segmentCount: stats.segmentCount,
      firstLevelSegmentCount: stats.firstLevelSegmentCount,
      diskSpaceBytes: stats.diskSpaceBytes,
      flushes: stats.background.flushes,
      compactions: stats.background.compactions,
      subscribers: stats.subscribers,
      // What opening the log cut, and what the background check of its older segments found.
      recovery: recoveryStatus(context.store.logRecovery),
      logCheck: StartupLogCheck.of(context.store)?.status() ?? null,
      // The background scrub: last full pass, bytes verified, damage with file and offset.
      scrub: context.store.scrubStatus() ?? null,
      uptimeMs: Date.now() - context.startedAtMs,
      version: NODE_VERSION,
    });
  });

  app.get('/metrics', async (_request, reply) => {
    if (!metrics)
      return reply.code(404).send({ error: { code: 'NOT_FOUND', message: 'metrics are off' } });
    const text = await metrics.text();
    return reply.header('content-type', metrics.registry.contentType).send(text);
  });
}
