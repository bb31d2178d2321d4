import type { FastifyInstance } from 'fastify';
import type { KeyRangeToDelete, RangeOptions } from '@strata/store';
import { acknowledgeWrite, assertWritable } from './cluster-routes.js';
import type { RouteContext } from './context.js';
import { decodeBase64, encodeJsonBytes, parseEncoding } from './encoding.js';
import type { JsonEncoding } from './encoding.js';
import { invalidArgument } from './errors.js';
import { queryBoolean, queryInteger, queryString } from './query.js';
import type { Query } from './query.js';

const DEFAULT_LIMIT = 1000;

/** The continuation a range page hands back: the last key returned and the pinned seqno. */
interface Cursor {
  readonly key: Buffer;
  readonly at: number;
}

/**
 * `GET /v1/kv?prefix=P` or `?start=A&end=B` (start inclusive, end exclusive), with `limit`,
 * `reverse`, `at`, `cursor` and `encoding`. Pages are consistent: the first page pins the seqno
 * it read at, and the cursor carries it, so later pages see the same state (as long as it stays
 * within the readable history). `encoding=base64` applies to `prefix`/`start`/`end` and to the
 * keys and values of the answer.
 */
export function registerRangeRoute(app: FastifyInstance, context: RouteContext): void {
  const { options } = context;
  app.get('/v1/kv', async (request, reply) => {
    const query = request.query as Query;
    const encoding = parseEncoding(queryString(query, 'encoding'));
    const limit = queryInteger(query, 'limit', 1) ?? DEFAULT_LIMIT;
    if (limit > options.maxRangeLimit) {
      throw invalidArgument(`limit must be at most ${options.maxRangeLimit}`);
    }
    const reverse = queryBoolean(query, 'reverse');
    const cursorText = queryString(query, 'cursor');
    const cursor = cursorText === undefined ? undefined : decodeCursor(cursorText);
    const atQuery = queryInteger(query, 'at');
    if (cursor && atQuery !== undefined && atQuery !== cursor.at) {
      throw invalidArgument('at differs from the seqno the cursor was issued for');
    }
    const at = cursor?.at ?? atQuery ?? context.store.lastSeqno;
    const prefix = bound(query, 'prefix', encoding);
    let start = bound(query, 'start', encoding);
    let end = bound(query, 'end', encoding);
    if (cursor) {
      if (reverse) end = minKey(end, cursor.key);
      else start = maxKey(start, Buffer.concat([cursor.key, Buffer.of(0)]));
    }
    const range: RangeOptions = {
      at,
      reverse,
      limit: limit + 1,
      ...(prefix ? { prefix } : {}),
      ...(start ? { start } : {}),
      ...(end ? { end } : {}),
    };
    // limit + 1 items tell whether there is a next page; the range is bounded, so read it whole.
    const found = await context.store.range(range).all();
    const more = found.length > limit;
    const page = more ? found.slice(0, limit) : found;
    const items = page.map((item) => ({
      key: encodeJsonBytes(item.key, encoding),
      value: encodeJsonBytes(item.value, encoding),
      seqno: item.seqno,
    }));
    const lastKey = page.length > 0 ? page[page.length - 1]?.key : undefined;
    const next = more && lastKey ? encodeCursor({ key: lastKey, at }) : null;
    return reply.send({ items, cursor: next, at });
  });
}

/**
 * `DELETE /v1/kv?prefix=P` or `?start=A&end=B` (`encoding=base64` for binary bounds): one range
 * delete, one log entry and one seqno whatever the number of keys covered. At least a prefix or
 * both bounds are required: an unbounded delete is not a default anyone wants.
 */
export function registerRangeDeleteRoute(app: FastifyInstance, context: RouteContext): void {
  const { metrics } = context;
  app.delete('/v1/kv', async (request, reply) => {
    const query = request.query as Query;
    const encoding = parseEncoding(queryString(query, 'encoding'));
    const prefix = bound(query, 'prefix', encoding);
    const start = bound(query, 'start', encoding);
    const end = bound(query, 'end', encoding);
    let range: KeyRangeToDelete;
    if (prefix !== undefined) {
      if (start !== undefined || end !== undefined) {
        throw invalidArgument('give prefix, or start and end, not both');
      }
      range = { prefix };
    } else if (start !== undefined && end !== undefined) {
      range = { start, end };
    } else {
      throw invalidArgument('a range delete needs prefix, or start and end');
    }
    const acks = assertWritable(context, request);
    const timer = metrics?.writeDuration.startTimer({ op: 'delete_range' });
    const result = await context.store.deleteRange(range);
    await acknowledgeWrite(context, acks, result.seqno, result.epoch);
    timer?.();
    metrics?.writeEntries.inc();
    return reply.send({ seqno: result.seqno, epoch: result.epoch });
  });
}

function bound(query: Query, name: string, encoding: JsonEncoding): Buffer | undefined {
  const text = queryString(query, name);
  if (text === undefined) return undefined;
  return encoding === 'base64' ? decodeBase64(text, name) : Buffer.from(text, 'utf8');
}

function minKey(a: Buffer | undefined, b: Buffer): Buffer {
  return a === undefined || Buffer.compare(b, a) < 0 ? b : a;
}

function maxKey(a: Buffer | undefined, b: Buffer): Buffer {
  return a === undefined || Buffer.compare(b, a) > 0 ? b : a;
}

/** Opaque to clients: base64url of `<seqno>.<base64url key>`. */
export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(`${cursor.at}.${cursor.key.toString('base64url')}`).toString('base64url');
}

function decodeCursor(text: string): Cursor {
  const decoded = /^[A-Za-z0-9_-]+$/.test(text) ? Buffer.from(text, 'base64url').toString() : '';
  const match = /^(\d{1,16})\.([A-Za-z0-9_-]+)$/.exec(decoded);
  if (!match) throw invalidArgument('cursor is not one this API issued');
  return { at: Number(match[1]), key: Buffer.from(match[2] as string, 'base64url') };
}
