import type { FastifyInstance } from 'fastify';
import type { BatchOperation, BatchOptions, PrefixCheck } from '@strata/store';
import type { RouteContext } from './context.js';
import { acknowledgeWrite, assertWritable } from './cluster-routes.js';
import { decodeJsonBytes, parseEncoding } from './encoding.js';
import type { JsonEncoding } from './encoding.js';
import { invalidArgument } from './errors.js';

/**
 * `POST /v1/batch` `{"ops":[{"type":"put","key","value"},{"type":"delete","key"}]}` (the body is
 * parsed and checked against its schema before this runs: schema/batch-body-schema.ts): one atomic
 * record. Keys and values are UTF-8 strings, or base64 with `"encoding":"base64"` (on the body
 * for every op, or on one op). Conditional: an op may carry `"ifSeqno"`, and the body
 * `"checks":[{"prefix","noWritesAfter"}]`; if any fails, nothing is written (409 CONFLICT).
 */
export function registerBatchRoute(app: FastifyInstance, context: RouteContext): void {
  const { options, metrics } = context;
  app.post(
    '/v1/batch',
    { bodyLimit: options.maxBatchBytes, config: { tooLargeCode: 'BATCH_TOO_LARGE' } },
    async (request, reply) => {
      const { operations, options: batchOptions } = parseBatch(request.body);
      const acks = assertWritable(context, request);
      const timer = metrics?.writeDuration.startTimer({ op: 'batch' });
      const result = await context.store.batch(operations, batchOptions);
      await acknowledgeWrite(context, acks, result.lastSeqno, result.epoch);
      timer?.();
      metrics?.writeEntries.inc(operations.length);
      return reply.send({
        firstSeqno: result.firstSeqno,
        lastSeqno: result.lastSeqno,
        epoch: result.epoch,
      });
    },
  );
}

/** A parsed batch body: the operations and the batch's prefix checks. */
export interface ParsedBatch {
  readonly operations: BatchOperation[];
  readonly options: BatchOptions;
}

/** Validates a batch body and turns it into store operations (INVALID_ARGUMENT on any flaw). */
export function parseBatch(body: unknown): ParsedBatch {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalidArgument('the body must be a JSON object {"ops":[...]}');
  }
  const record = body as Record<string, unknown>;
  const encoding = parseEncoding(record.encoding);
  const ops = record.ops;
  if (!Array.isArray(ops) || ops.length === 0) {
    throw invalidArgument('ops must be a non-empty array');
  }
  const operations = ops.map((op: unknown, index) => parseOperation(op, index, encoding));
  const checks = record.checks;
  if (checks === undefined) return { operations, options: {} };
  if (!Array.isArray(checks)) throw invalidArgument('checks must be an array');
  return {
    operations,
    options: { checks: checks.map((check: unknown, index) => parseCheck(check, index, encoding)) },
  };
}

/** `{"type":"deleteRange","start","end"}` or `{"type":"deleteRange","prefix"}`. */
function parseRangeDelete(
  fields: Record<string, unknown>,
  index: number,
  encoding: JsonEncoding,
): BatchOperation {
  const text = (name: string): Buffer | undefined => {
    const value = fields[name];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value.length === 0) {
      throw invalidArgument(`ops[${index}].${name} must be a non-empty string`);
    }
    return decodeJsonBytes(value, encoding, `ops[${index}].${name}`);
  };
  const prefix = text('prefix');
  const start = text('start');
  const end = text('end');
  if (prefix !== undefined && start === undefined && end === undefined) {
    return { type: 'deleteRange', prefix };
  }
  if (prefix === undefined && start !== undefined && end !== undefined) {
    return { type: 'deleteRange', start, end };
  }
  throw invalidArgument(`ops[${index}] (deleteRange) needs prefix, or start and end`);
}

function parseCheck(check: unknown, index: number, encoding: JsonEncoding): PrefixCheck {
  if (check === null || typeof check !== 'object' || Array.isArray(check)) {
    throw invalidArgument(`checks[${index}] must be an object {"prefix","noWritesAfter"}`);
  }
  const fields = check as Record<string, unknown>;
  if (typeof fields.prefix !== 'string' || fields.prefix.length === 0) {
    throw invalidArgument(`checks[${index}].prefix must be a non-empty string`);
  }
  return {
    prefix: decodeJsonBytes(fields.prefix, encoding, `checks[${index}].prefix`),
    noWritesAfter: seqnoField(fields.noWritesAfter, `checks[${index}].noWritesAfter`),
  };
}

/** A seqno in a JSON body: a non-negative integer. */
function seqnoField(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalidArgument(`${name} must be a non-negative integer`);
  }
  return value;
}

function parseOperation(op: unknown, index: number, bodyEncoding: JsonEncoding): BatchOperation {
  if (op === null || typeof op !== 'object' || Array.isArray(op)) {
    throw invalidArgument(`ops[${index}] must be an object`);
  }
  const fields = op as Record<string, unknown>;
  const encoding =
    fields.encoding === undefined
      ? bodyEncoding
      : parseEncoding(fields.encoding, `ops[${index}].encoding`);
  if (fields.type === 'deleteRange') return parseRangeDelete(fields, index, encoding);
  if (typeof fields.key !== 'string' || fields.key.length === 0) {
    throw invalidArgument(`ops[${index}].key must be a non-empty string`);
  }
  const key = decodeJsonBytes(fields.key, encoding, `ops[${index}].key`);
  if (key.length === 0) throw invalidArgument(`ops[${index}].key must not be empty`);
  const condition =
    fields.ifSeqno === undefined
      ? {}
      : { ifSeqno: seqnoField(fields.ifSeqno, `ops[${index}].ifSeqno`) };
  if (fields.type === 'put') {
    if (typeof fields.value !== 'string') {
      throw invalidArgument(`ops[${index}].value must be a string`);
    }
    const ttlMs = fields.ttlMs;
    if (ttlMs !== undefined && (typeof ttlMs !== 'number' || !Number.isSafeInteger(ttlMs))) {
      throw invalidArgument(`ops[${index}].ttlMs must be a whole number of milliseconds`);
    }
    return {
      type: 'put',
      key,
      value: decodeJsonBytes(fields.value, encoding, `ops[${index}].value`),
      ...condition,
      ...(ttlMs === undefined ? {} : { ttlMs }),
    };
  }
  if (fields.type === 'delete') return { type: 'delete', key, ...condition };
  throw invalidArgument(
    `ops[${index}].type must be "put", "delete" or "deleteRange", got ${JSON.stringify(fields.type) ?? 'nothing'}`,
  );
}
