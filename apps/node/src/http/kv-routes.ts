import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { StrataError } from '@strata/core';
import type { RouteContext } from './context.js';
import { acknowledgeWrite, assertWritable } from './cluster-routes.js';
import { encodeJsonBytes, parseEncoding, percentDecodeToBytes } from './encoding.js';
import { invalidArgument } from './errors.js';
import { queryInteger, queryString } from './query.js';
import { versionTag, writeOptionsOf } from './write-conditions.js';
import type { Query } from './query.js';

const PREFIX = '/v1/kv/';
const HISTORY_PREFIX = '/v1/history/';

/** The route of single-key requests (its label in metrics). */
export const KEY_ROUTE = '/v1/kv/:key';
/** The route of a key's history (its label in metrics). */
export const HISTORY_ROUTE = '/v1/history/:key';
/** What every `/v1/kv/<key>` and `/v1/history/<key>` URL is rewritten to (the key is in the original URL). */
const REWRITTEN_PATHS: Readonly<Record<string, string>> = {
  [PREFIX]: '/v1/kv/_',
  [HISTORY_PREFIX]: '/v1/history/_',
};

/** Original URLs of rewritten requests. */
const originalUrls = new WeakMap<IncomingMessage, string>();

/**
 * Rewrites `/v1/kv/<anything>?query` to `/v1/kv/_?query` before routing: the router
 * would otherwise refuse binary keys (percent-encoded bytes that are not UTF-8) and split keys at
 * `/`. The original URL is kept for {@link keyOf}. Pass it as fastify's `rewriteUrl`.
 */
export function rewriteKeyUrl(request: IncomingMessage): string {
  const url = request.url ?? '/';
  const prefix = url.startsWith(PREFIX)
    ? PREFIX
    : url.startsWith(HISTORY_PREFIX)
      ? HISTORY_PREFIX
      : undefined;
  if (prefix === undefined) return url;
  originalUrls.set(request, url);
  const queryAt = url.indexOf('?');
  return (REWRITTEN_PATHS[prefix] as string) + (queryAt < 0 ? '' : url.slice(queryAt));
}

/**
 * `PUT|GET|DELETE /v1/kv/:key`. The key is the raw rest of the path, percent-decoded to bytes:
 * `/`, `%2F` and `..` are plain key bytes. Values are bytes whatever the content type. A GET
 * answers the key's version (the seqno of its last put) as `X-Seqno` and as the `ETag`; PUT and
 * DELETE take it back as `?ifSeqno=N` or `If-Match: "N"` (409 CONFLICT when it changed), and
 * `If-None-Match: *` creates a key only if it is absent. `PUT ?ttlMs=N` gives the value a time to
 * live (a GET then answers its deadline as `X-Expires-At-Ms`). `GET /v1/history/:key?limit=&before=`
 * lists the key's versions newest first (`cursor` is the next page's `before`); it is a route of its
 * own so that a key may itself end in `/history`.
 */
export function registerKvRoutes(app: FastifyInstance, context: RouteContext): void {
  const { options, metrics } = context;

  app.put(
    KEY_ROUTE,
    { bodyLimit: options.maxValueBytes, config: { tooLargeCode: 'VALUE_TOO_LARGE' } },
    async (request, reply) => {
      const key = keyOf(request);
      const value = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      if (value.length > options.maxValueBytes) {
        throw new StrataError(
          'VALUE_TOO_LARGE',
          `value is ${value.length} bytes; the limit is ${options.maxValueBytes}`,
          { details: { limitBytes: options.maxValueBytes } },
        );
      }
      const ttlMs = queryInteger(request.query as Query, 'ttlMs', 1);
      const writeOptions = {
        ...writeOptionsOf(request),
        ...(ttlMs === undefined ? {} : { ttlMs }),
      };
      const acks = assertWritable(context, request);
      const timer = metrics?.writeDuration.startTimer({ op: 'put' });
      const result = await context.store.put(key, value, writeOptions);
      await acknowledgeWrite(context, acks, result.seqno, result.epoch);
      timer?.();
      metrics?.writeEntries.inc();
      return reply.send({ seqno: result.seqno, epoch: result.epoch });
    },
  );

  app.delete(KEY_ROUTE, async (request, reply) => {
    const key = keyOf(request);
    const writeOptions = writeOptionsOf(request);
    const acks = assertWritable(context, request);
    const timer = metrics?.writeDuration.startTimer({ op: 'delete' });
    const result = await context.store.delete(key, writeOptions);
    await acknowledgeWrite(context, acks, result.seqno, result.epoch);
    timer?.();
    metrics?.writeEntries.inc();
    return reply.send({ seqno: result.seqno, epoch: result.epoch });
  });

  app.get(HISTORY_ROUTE, async (request, reply) => {
    const key = keyOf(request, HISTORY_PREFIX);
    const query = request.query as Query;
    const encoding = parseEncoding(queryString(query, 'encoding'));
    const limit = queryInteger(query, 'limit', 1);
    const before = queryInteger(query, 'before');
    const page = await context.store.history(key, {
      ...(limit === undefined ? {} : { limit }),
      ...(before === undefined ? {} : { before }),
    });
    return reply.send({
      key: encodeJsonBytes(key, encoding),
      versions: page.versions.map((version) => ({
        seqno: version.seqno,
        type: version.type,
        value: version.value === undefined ? null : encodeJsonBytes(version.value, encoding),
        timestamp: version.timestampMs ?? null,
        ...(version.expiresAtMs === undefined ? {} : { expiresAt: version.expiresAtMs }),
        ...(version.expired === undefined ? {} : { expired: version.expired }),
      })),
      cursor: page.nextBefore ?? null,
      truncated: page.truncated,
      oldestReadableSeqno: page.oldestReadableSeqno,
    });
  });

  app.get(KEY_ROUTE, async (request, reply) => {
    const key = keyOf(request);
    const query = request.query as Query;
    const at = queryInteger(query, 'at');
    const minSeqno = queryInteger(query, 'minSeqno');
    // With minSeqno, a read at a seqno not applied yet waits for it instead of being refused.
    const waitFor = minSeqno === undefined ? undefined : Math.max(minSeqno, at ?? 0);
    if (waitFor !== undefined) {
      const timeoutMs = Math.min(
        queryInteger(query, 'timeoutMs') ?? options.maxWaitMs,
        options.maxWaitMs,
      );
      await context.store.waitForSeqno(waitFor, timeoutMs);
    }
    const entry = await context.store.getEntry(key, at === undefined ? {} : { at });
    if (entry === undefined) {
      throw new StrataError(
        'NOT_FOUND',
        `key not found${at === undefined ? '' : ` at seqno ${at}`}`,
      );
    }
    if (entry.expiresAtMs !== undefined) reply.header('x-expires-at-ms', String(entry.expiresAtMs));
    return reply
      .header('x-seqno', String(entry.seqno))
      .header('etag', versionTag(entry.seqno))
      .header('content-type', 'application/octet-stream')
      .send(entry.value);
  });
}

/** The URL (path and query) a client sent, before {@link rewriteKeyUrl}. */
export function originalUrl(request: IncomingMessage): string {
  return originalUrls.get(request) ?? request.url ?? '';
}

/** The path a client sent (before {@link rewriteKeyUrl}), without its query. */
export function originalPath(request: IncomingMessage): string {
  const url = originalUrls.get(request) ?? request.url ?? '';
  const queryAt = url.indexOf('?');
  return queryAt < 0 ? url : url.slice(0, queryAt);
}

/** The key of a `/v1/kv/<key>` request, from the raw URL (never a normalized path). */
export function keyOf(request: FastifyRequest, prefix = PREFIX): Buffer {
  const url = originalUrls.get(request.raw) ?? request.raw.url ?? '';
  const queryAt = url.indexOf('?');
  const path = queryAt < 0 ? url : url.slice(0, queryAt);
  if (!path.startsWith(prefix)) {
    throw invalidArgument(`the key must follow ${prefix} in the path, percent-encoded`);
  }
  const key = percentDecodeToBytes(path.slice(prefix.length));
  if (key.length === 0) throw invalidArgument('key must not be empty');
  return key;
}
