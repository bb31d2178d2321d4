import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { StrataError } from '@strata/core';
import type { RouteContext } from './context.js';
import { eventLines } from '../events/event-line.js';
import { decodeBase64, parseEncoding } from './encoding.js';
import type { JsonEncoding } from './encoding.js';
import { invalidArgument, toHttpError } from './errors.js';
import { queryBoolean, queryInteger, queryString } from './query.js';
import type { Query } from './query.js';

/** Lines are gathered into chunks of about this size before a write. */
const CHUNK_BYTES = 64 * 1024;

/**
 * `GET /v1/events?from=N[&to=M][&prefix=P][&follow=true][&encoding=base64]`: the log as NDJSON,
 * one line per entry `{"seqno","epoch","type","key","value","timestamp"}` (`value` is null for a
 * delete, `timestamp` is milliseconds since the epoch), in seqno order, `from` and `to` inclusive.
 * Without `follow` it ends at `to` or at the last seqno at the time of the request; with it, it
 * streams new writes until `to` or until the client goes away. Backpressure: the change feed is
 * pulled only after the socket drained, so a slow reader holds at most one chunk here. `from`
 * below the retained log is 410 HISTORY_TRUNCATED with `firstSeqno`. An error after the answer
 * started ends the stream with one last line `{"error":{...}}`.
 */
export function registerEventsRoute(app: FastifyInstance, context: RouteContext): void {
  const { metrics, streams } = context;
  app.get('/v1/events', async (request, reply) => {
    const query = request.query as Query;
    const encoding = parseEncoding(queryString(query, 'encoding'));
    const follow = queryBoolean(query, 'follow');
    const from = queryInteger(query, 'from', 1) ?? context.store.firstRetainedSeqno;
    const to = queryInteger(query, 'to', 0);
    if (to !== undefined && to < from - 1) throw invalidArgument('to must not be below from');
    const prefixText = queryString(query, 'prefix');
    const prefix =
      prefixText === undefined
        ? undefined
        : encoding === 'base64'
          ? decodeBase64(prefixText, 'prefix')
          : Buffer.from(prefixText, 'utf8');
    if (from < context.store.firstRetainedSeqno) {
      throw new StrataError(
        'HISTORY_TRUNCATED',
        `seqno ${from} is below the retained log, which starts at ${context.store.firstRetainedSeqno}`,
        { details: { firstSeqno: context.store.firstRetainedSeqno, requestedSeqno: from } },
      );
    }
    const last = follow
      ? (to ?? Number.POSITIVE_INFINITY)
      : Math.min(to ?? context.store.lastSeqno, context.store.lastSeqno);

    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'application/x-ndjson; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    // Send the status now: a follower waiting for the first write must see 200 at once.
    raw.flushHeaders();
    const controller = new AbortController();
    streams.add(controller);
    metrics?.eventStreams.inc();
    raw.on('close', () => controller.abort());
    try {
      if (last >= from) await stream(raw, { from, last, prefix, encoding, controller, context });
    } catch (error) {
      if (!raw.destroyed) raw.write(`${JSON.stringify(toHttpError(error).body)}\n`);
    } finally {
      streams.delete(controller);
      metrics?.eventStreams.dec();
      if (!raw.destroyed) raw.end();
    }
  });
}

interface StreamPlan {
  readonly from: number;
  readonly last: number;
  readonly prefix: Buffer | undefined;
  readonly encoding: JsonEncoding;
  readonly controller: AbortController;
  readonly context: RouteContext;
}

async function stream(raw: ServerResponse, plan: StreamPlan): Promise<void> {
  const { from, last, prefix, encoding, controller } = plan;
  const signal = controller.signal;
  const filter = { from, to: last, prefix, encoding };
  let chunk = '';
  for await (const batch of plan.context.store.subscribe({ from, signal })) {
    chunk += eventLines(batch, filter);
    const done = batch.lastSeqno >= last;
    if (chunk.length >= CHUNK_BYTES || done || plan.context.store.lastSeqno <= batch.lastSeqno) {
      await write(raw, chunk, signal);
      chunk = '';
    }
    if (done || signal.aborted) return;
  }
  if (chunk.length > 0) await write(raw, chunk, signal);
}

/** Writes, and waits for 'drain' when the socket buffer is full (or the client left). */
async function write(raw: ServerResponse, text: string, signal: AbortSignal): Promise<void> {
  if (signal.aborted || raw.destroyed) return;
  if (raw.write(text)) return;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      raw.off('drain', done);
      raw.off('close', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    raw.on('drain', done);
    raw.on('close', done);
    signal.addEventListener('abort', done);
  });
}
