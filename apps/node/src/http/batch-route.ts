import type { FastifyInstance } from 'fastify';
import type { BatchOperation } from '@strata/store';
import type { RouteContext } from './context.js';
import { acknowledgeWrite, assertWritable } from './cluster-routes.js';
import { decodeJsonBytes, parseEncoding } from './encoding.js';
import type { JsonEncoding } from './encoding.js';
import { invalidArgument } from './errors.js';
import { parseJsonBody } from './json-body.js';

/**
 * `POST /v1/batch` `{"ops":[{"type":"put","key","value"},{"type":"delete","key"}]}`: one atomic
 * record. Keys and values are UTF-8 strings, or base64 with `"encoding":"base64"` (on the body
 * for every op, or on one op).
 */
export function registerBatchRoute(app: FastifyInstance, context: RouteContext): void {
  const { options, metrics } = context;
  app.post(
    '/v1/batch',
    { bodyLimit: options.maxBatchBytes, config: { tooLargeCode: 'BATCH_TOO_LARGE' } },
    async (request, reply) => {
      const operations = parseBatch(parseJsonBody(request.body));
      const acks = assertWritable(context, request);
      const timer = metrics?.writeDuration.startTimer({ op: 'batch' });
      const result = await context.store.batch(operations);
      await acknowledgeWrite(context, acks, result.lastSeqno);
      timer?.();
      metrics?.writes.inc({ op: 'batch' });
      metrics?.writeEntries.inc(operations.length);
      return reply.send({
        firstSeqno: result.firstSeqno,
        lastSeqno: result.lastSeqno,
        epoch: result.epoch,
      });
    },
  );
}

/** Validates a batch body and turns it into store operations (INVALID_ARGUMENT on any flaw). */
export function parseBatch(body: unknown): BatchOperation[] {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalidArgument('the body must be a JSON object {"ops":[...]}');
  }
  const record = body as Record<string, unknown>;
  const encoding = parseEncoding(record.encoding);
  const ops = record.ops;
  if (!Array.isArray(ops) || ops.length === 0) {
    throw invalidArgument('ops must be a non-empty array');
  }
  return ops.map((op: unknown, index) => parseOperation(op, index, encoding));
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
  if (typeof fields.key !== 'string' || fields.key.length === 0) {
    throw invalidArgument(`ops[${index}].key must be a non-empty string`);
  }
  const key = decodeJsonBytes(fields.key, encoding, `ops[${index}].key`);
  if (key.length === 0) throw invalidArgument(`ops[${index}].key must not be empty`);
  if (fields.type === 'put') {
    if (typeof fields.value !== 'string') {
      throw invalidArgument(`ops[${index}].value must be a string`);
    }
    return {
      type: 'put',
      key,
      value: decodeJsonBytes(fields.value, encoding, `ops[${index}].value`),
    };
  }
  if (fields.type === 'delete') return { type: 'delete', key };
  throw invalidArgument(
    `ops[${index}].type must be "put" or "delete", got ${JSON.stringify(fields.type) ?? 'nothing'}`,
  );
}
