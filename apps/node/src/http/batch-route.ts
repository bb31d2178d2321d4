import type { FastifyInstance } from 'fastify';
import type { BatchOperation, BatchOptions } from '@strata/store';
import type { RouteContext } from './context.js';
import { acknowledgeWrite, assertWritable } from './cluster-routes.js';
import { decodeJsonBytes } from './encoding.js';
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

/** One operation as the body schema admits it (schema/batch-body-schema.ts). */
interface OperationBody {
  readonly type: 'put' | 'delete' | 'deleteRange';
  readonly key?: string;
  readonly value?: string;
  readonly ifSeqno?: number;
  readonly ttlMs?: number;
  readonly prefix?: string;
  readonly start?: string;
  readonly end?: string;
  readonly encoding?: JsonEncoding;
}

/** A batch body as the schema admits it. */
interface BatchBody {
  readonly ops: readonly OperationBody[];
  readonly checks?: readonly { readonly prefix: string; readonly noWritesAfter: number }[];
  readonly encoding?: JsonEncoding;
}

/**
 * Turns a batch body that passed its schema (shapes, types, required and unknown fields, empty
 * strings, ranges of numbers) into store operations. What the schema cannot say is checked here:
 * base64 that does not decode, a key that decodes to nothing, and a range delete that gives
 * neither a prefix nor both bounds (or both).
 */
export function parseBatch(body: unknown): ParsedBatch {
  const batch = body as BatchBody;
  const operations = batch.ops.map((op, index) =>
    parseOperation(op, index, op.encoding ?? batch.encoding ?? 'utf8'),
  );
  if (batch.checks === undefined) return { operations, options: {} };
  const encoding = batch.encoding ?? 'utf8';
  return {
    operations,
    options: {
      checks: batch.checks.map((check, index) => ({
        prefix: decodeJsonBytes(check.prefix, encoding, `checks[${index}].prefix`),
        noWritesAfter: check.noWritesAfter,
      })),
    },
  };
}

function parseOperation(op: OperationBody, index: number, encoding: JsonEncoding): BatchOperation {
  const bytes = (name: 'key' | 'value' | 'prefix' | 'start' | 'end'): Buffer | undefined => {
    const text = op[name];
    return text === undefined
      ? undefined
      : decodeJsonBytes(text, encoding, `ops[${index}].${name}`);
  };
  if (op.type === 'deleteRange') {
    const prefix = bytes('prefix');
    const start = bytes('start');
    const end = bytes('end');
    if (prefix !== undefined && start === undefined && end === undefined) {
      return { type: 'deleteRange', prefix };
    }
    if (prefix === undefined && start !== undefined && end !== undefined) {
      return { type: 'deleteRange', start, end };
    }
    throw invalidArgument(`ops[${index}] (deleteRange) needs prefix, or start and end`);
  }
  const key = bytes('key') as Buffer;
  if (key.length === 0) throw invalidArgument(`ops[${index}].key must not be empty`);
  const condition = op.ifSeqno === undefined ? {} : { ifSeqno: op.ifSeqno };
  if (op.type === 'delete') return { type: 'delete', key, ...condition };
  return {
    type: 'put',
    key,
    value: bytes('value') as Buffer,
    ...condition,
    ...(op.ttlMs === undefined ? {} : { ttlMs: op.ttlMs }),
  };
}
