import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { StrataError } from '@strata/core';
import type { AckMode, ClusterHooks, RouteContext } from './context.js';

/**
 * The routes that act on a cluster: `GET /v1/internal/checkpoint` (a checkpoint archive that a
 * bootstrapping follower streams) and `POST /v1/cluster/promote` (make this follower the leader).
 * Every node has them, so the API is the same in every mode; a standalone node refuses them.
 */
export function registerClusterRoutes(app: FastifyInstance, context: RouteContext): void {
  app.get('/v1/internal/checkpoint', async (request, reply) => {
    const cluster = clusterOf(context, 'it serves no checkpoints to followers');
    const controller = new AbortController();
    context.streams.add(controller);
    request.raw.on('close', () => controller.abort());
    const body = Readable.from(cluster.checkpointArchive(controller.signal));
    body.on('close', () => context.streams.delete(controller));
    return reply.header('content-type', 'application/octet-stream').send(body);
  });

  app.post('/v1/cluster/promote', async (_request, reply) => {
    const cluster = clusterOf(context, 'there is no cluster to lead');
    const { epoch } = await cluster.promote();
    return reply.send({ role: 'leader', epoch });
  });
}

/** The cluster a route acts on; a standalone node refuses with `INVALID_ARGUMENT` saying `why`. */
function clusterOf(context: RouteContext, why: string): ClusterHooks {
  if (context.cluster === undefined) {
    throw new StrataError('INVALID_ARGUMENT', `this node is standalone: ${why}`);
  }
  return context.cluster;
}

/**
 * Checks a write before it is admitted and returns how it will be acknowledged: 400 for an `acks`
 * query parameter other than `leader|quorum` (nothing is written), 421 NOT_LEADER (with the
 * leader's URL) on a node that is not the leader, 503 REPLICATION_BACKLOG on a leader past its
 * bound of unreplicated writes. A standalone node acknowledges after its own sync (`leader`).
 */
export function assertWritable(context: RouteContext, request: FastifyRequest): AckMode {
  const requested = (request.query as Record<string, string | undefined> | undefined)?.acks;
  if (requested !== undefined && requested !== 'leader' && requested !== 'quorum') {
    throw new StrataError('INVALID_ARGUMENT', `acks must be leader or quorum, got ${requested}`);
  }
  const cluster = context.cluster;
  if (!cluster) return 'leader';
  cluster.assertAcceptsWrites();
  return requested ?? cluster.defaultAcks;
}

/** Waits until the write ending at `seqno` is acknowledged under `acks` (from {@link assertWritable}). */
export async function acknowledgeWrite(
  context: RouteContext,
  acks: AckMode,
  seqno: number,
  epoch: number,
): Promise<void> {
  if (context.cluster) await context.cluster.acknowledge(seqno, epoch, acks);
}
