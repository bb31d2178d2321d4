import { ACKS, AT, ENCODING, WRITE_ERRORS, WRITE_RESULT } from './common-parameters.js';
import { BATCH_BODY_SCHEMA } from './batch-body-schema.js';
import { booleanParameter, integerParameter, textParameter } from './parameters.js';
import type { RouteSpec } from './route-spec.js';

const PREFIX = textParameter(
  'prefix',
  'Only keys with this prefix (UTF-8, or base64 with `encoding=base64`).',
  1,
);
const START = textParameter('start', 'The first key (inclusive).', 1);
const END = textParameter('end', 'The first key past the range (exclusive).', 1);

/** `POST /v1/batch`, `GET /v1/kv` (a range) and `DELETE /v1/kv` (a range delete). */
export const RANGE_ROUTE_SPECS: readonly RouteSpec[] = [
  {
    method: 'POST',
    path: '/v1/batch',
    operationId: 'batch',
    summary: 'Write several keys atomically',
    description:
      'One log record: the operations take contiguous seqnos and become visible together. An op may ' +
      'carry `ifSeqno`, and `checks` guard whole prefixes; if any condition fails nothing is written ' +
      '(409 CONFLICT lists each failed condition). The body is at most `--max-batch-bytes` (64 MiB by ' +
      'default; over it 413 BATCH_TOO_LARGE).',
    tag: 'ranges',
    query: [ACKS],
    body: {
      contentType: 'application/json',
      description: 'The operations, and optional prefix checks.',
      schema: BATCH_BODY_SCHEMA,
    },
    response: {
      status: 200,
      contentType: 'application/json',
      description: 'Written: the first and last seqno the batch took.',
      schema: {
        type: 'object',
        required: ['firstSeqno', 'lastSeqno', 'epoch'],
        properties: {
          firstSeqno: { type: 'integer' },
          lastSeqno: { type: 'integer' },
          epoch: { type: 'integer' },
        },
      },
    },
    errors: ['KEY_TOO_LARGE', 'VALUE_TOO_LARGE', 'BATCH_TOO_LARGE', ...WRITE_ERRORS],
    example: {
      command:
        "curl -s -X POST -H 'content-type: application/json' \\\n" +
        '    -d \'{"ops":[{"type":"put","key":"user/2","value":"grace"},{"type":"put","key":"user/3","value":"linus","ttlMs":3600000}]}\' \\\n' +
        '    http://127.0.0.1:7070/v1/batch',
      output: '{"firstSeqno":3,"lastSeqno":4,"epoch":1}',
    },
  },
  {
    method: 'GET',
    path: '/v1/kv',
    operationId: 'range',
    summary: 'Read a range of keys, in pages',
    description:
      'Keys with `prefix`, or from `start` (inclusive) to `end` (exclusive), in key order (`reverse` for ' +
      'descending). Pages are consistent: the first page pins the seqno it read at (`at` in the answer), ' +
      'and its `cursor` carries it, so later pages see the same state while it stays readable.',
    tag: 'ranges',
    query: [
      PREFIX,
      START,
      END,
      integerParameter(
        'limit',
        'Most items in one page (default 1,000; at most `--max-range-limit`, 10,000 by default).',
        1,
      ),
      booleanParameter('reverse', 'Descending key order.'),
      AT,
      textParameter('cursor', "The previous page's `cursor`: continue after it.", 1),
      ENCODING,
    ],
    response: {
      status: 200,
      contentType: 'application/json',
      description: 'One page of items.',
      schema: {
        type: 'object',
        required: ['items', 'cursor', 'at'],
        properties: {
          items: {
            type: 'array',
            items: {
              type: 'object',
              required: ['key', 'value', 'seqno'],
              properties: {
                key: { type: 'string' },
                value: { type: 'string' },
                seqno: { type: 'integer', description: "The key's version." },
              },
            },
          },
          cursor: {
            type: ['string', 'null'],
            description: 'Pass as `cursor` for the next page; null on the last page.',
          },
          at: { type: 'integer', description: 'The seqno every page of this range reads at.' },
        },
      },
    },
    errors: ['HISTORY_TRUNCATED', 'FUTURE_SEQNO', 'CORRUPTION', 'IO_ERROR'],
    example: {
      command: "curl -s 'http://127.0.0.1:7070/v1/kv?prefix=user/&limit=1'",
      output: '{"items":[{"key":"user/2","value":"grace","seqno":3}],"cursor":"...","at":4}',
    },
  },
  {
    method: 'DELETE',
    path: '/v1/kv',
    operationId: 'deleteRange',
    summary: 'Delete a range of keys',
    description:
      'One event and one seqno however many keys it covers: `prefix`, or `start` and `end`. An unbounded ' +
      'delete is refused (a prefix or both bounds are required).',
    tag: 'ranges',
    query: [PREFIX, START, END, ENCODING, ACKS],
    response: {
      status: 200,
      contentType: 'application/json',
      description: 'Deleted: the seqno the range delete took.',
      schema: WRITE_RESULT,
    },
    errors: WRITE_ERRORS.filter((code) => code !== 'CONFLICT'),
    example: {
      command: "curl -s -X DELETE 'http://127.0.0.1:7070/v1/kv?prefix=user/'",
      output: '{"seqno":5,"epoch":1}',
    },
  },
];
