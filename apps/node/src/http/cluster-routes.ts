import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { StrataError } from '@strata/core';
import type { AckMode, ClusterHooks, RouteContext } from './context.js';

/**
 * The routes only a cluster node has: `GET /v1/internal/checkpoint` (a checkpoint archive that a
 * bootstrapping follower streams) and `POST /v1/cluster/promote` (make this follower the leader).
 */
export function registerClusterRoutes(
  app: FastifyInstance,
  context: RouteContext,
  cluster: ClusterHooks,
): void {
  app.get('/v1/internal/checkpoint', async (request, reply) => {
    const controller = new AbortController();
    context.streams.add(controller);
    request.raw.on('close', () => controller.abort());
    const body = Readable.from(cluster.checkpointArchive(controller.signal));
    body.on('close', () => context.streams.delete(controller));
    return reply.header('content-type', 'application/octet-stream').send(body);
  });

  app.post('/v1/cluster/promote', async (_request, reply) => {
    const { epoch } = await cluster.promote();
    return reply.send({ role: 'leader', epoch });
  });
}

/**
 * Refuses a write before it is admitted on a node that is not the leader (421 NOT_LEADER with the
 * leader's URL) or on a leader past its bound of unreplicated writes (503 REPLICATION_BACKLOG).
 */
export function assertWritable(context: RouteContext): void {
  context.cluster?.assertAcceptsWrites();
}

/**
 * Waits until the write ending at `seqno` is acknowledged under the request's `acks` (query
 * parameter `acks=leader|quorum`, default from the node's configuration).
 */
export async function acknowledgeWrite(
  context: RouteContext,
  request: FastifyRequest,
  seqno: number,
): Promise<void> {
  const cluster = context.cluster;
  const requested = (request.query as Record<string, string | undefined> | undefined)?.acks;
  if (requested !== undefined && requested !== 'leader' && requested !== 'quorum') {
    throw new StrataError('INVALID_ARGUMENT', `acks must be leader or quorum, got ${requested}`);
  }
  if (!cluster) return;
  const acks: AckMode = requested ?? cluster.defaultAcks;
  if (acks === 'quorum') await cluster.acknowledge(seqno, acks);
}
